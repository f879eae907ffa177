"""Peak detection relative to the resolution, and Hungarian assignment with an 'unassigned' option."""

from __future__ import annotations

import numpy as np
import pytest

from hessfit.compare import Peaks, assign_peaks, detect_peaks
from hessfit.errors import ConfigError, ValidationError
from hessfit.ins import load_instrument

SIGMA = load_instrument("tosca").sigma_cm1


def _lines(e, centres, heights):
    return sum(h * np.exp(-0.5 * ((e - c) / SIGMA(c)) ** 2) for c, h in zip(centres, heights))


CENTRES = np.array([150.0, 420.0, 780.0, 1100.0, 1460.0, 2950.0])
HEIGHTS = np.array([1.0, 0.6, 0.8, 0.3, 0.5, 0.2])


def test_detect_positions_labels_and_widths():
    e = np.arange(20.0, 3500.0, 1.0)
    p = detect_peaks(e, _lines(e, CENTRES, HEIGHTS), SIGMA, prefix="M")
    assert p.labels == ("M1", "M2", "M3", "M4", "M5", "M6")
    np.testing.assert_allclose(p.energy_cm1, CENTRES, atol=0.05)
    np.testing.assert_allclose(p.width_sigma, 1.0, atol=0.02)          # FWHM of an instrument line = 1 FWHM
    assert p.strength_rank[0] == 0.0 and p.strength_rank[-1] == 1.0


def test_detect_on_coarse_nonuniform_grid_rejects_spikes_and_noise():
    e = 20.0 * 1.005 ** np.arange(1100)
    e = e[e < 3500]
    y = _lines(e, CENTRES, HEIGHTS) + 0.5
    spike = int(np.argmin(np.abs(e - 2000)))
    y[spike] += 0.4                                                     # one-point spike: narrower than resolution
    p = detect_peaks(e, y, SIGMA)
    assert len(p) == len(CENTRES)
    assert np.max(np.abs(p.energy_cm1 - CENTRES)) < 0.01 * CENTRES.max()
    rng = np.random.default_rng(3)
    err = np.full_like(e, 0.02)
    noisy = _lines(e, CENTRES, HEIGHTS) + rng.normal(0, 0.02, e.size)
    raw = detect_peaks(e, noisy, SIGMA, error=err, min_snr=3.0)
    q = detect_peaks(e, noisy, SIGMA, error=err, min_snr=3.0, smooth=1.0)   # matched filter: noise suppressed
    found = [np.min(np.abs(q.energy_cm1 - c)) < SIGMA(c) for c in CENTRES]
    assert all(found) and len(q) == len(CENTRES) < len(raw)
    assert detect_peaks(e, noisy, SIGMA, max_peaks=3).labels == ("P1", "P2", "P3")


def test_settings_errors():
    from hessfit.compare import PeakSettings

    with pytest.raises(ConfigError, match="min_prominence and min_width_fwhm"):
        detect_peaks(np.arange(5.0), np.array([0, 1, 0, 1, 0.0]), SIGMA, min_prominence=-1)
    with pytest.raises(ConfigError, match="PeakSettings"):
        PeakSettings(max_cost=0)
    with pytest.raises(ConfigError, match="PeakSettings"):
        PeakSettings(smooth_measured=-0.5)


def test_detect_errors_and_empty():
    with pytest.raises(ValidationError, match="strictly increasing"):
        detect_peaks([3.0, 2.0, 1.0], [1.0, 2.0, 1.0], SIGMA)
    with pytest.raises(ValidationError, match="≥ 3 points"):
        detect_peaks([1.0, 2.0], [1.0, 2.0], SIGMA)
    assert len(detect_peaks(np.arange(10.0), np.arange(10.0), SIGMA)) == 0


def _peaks(pos, prom, prefix):
    pos = np.asarray(pos, float)
    prom = np.asarray(prom, float)
    return Peaks(labels=tuple(f"{prefix}{k + 1}" for k in range(pos.size)), energy_cm1=pos, height=prom,
                 prominence=prom, width_cm1=np.ones_like(pos), index=np.arange(pos.size), width_sigma=np.ones_like(pos))


def test_assignment_is_optimal_and_leaves_outliers_unassigned():
    calc = _peaks([100, 300, 500, 1000, 1600], [1.0, 0.5, 0.8, 0.3, 0.2], "M")
    meas = _peaks([104, 296, 512, 1010, 2500], [1.0, 0.55, 0.7, 0.3, 0.4], "P")
    a = assign_peaks(meas, calc, SIGMA)
    assert [tuple(p) for p in a.pairs] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert a.unassigned_measured == (4,) and a.unassigned_calculated == (4,)
    np.testing.assert_allclose(a.shift_cm1, [4, -4, 12, 10])
    np.testing.assert_allclose(a.shift_sigma, a.shift_cm1 / SIGMA(meas.energy_cm1[:4]))
    assert np.all(a.cost <= a.settings["max_cost"])
    rows = a.rows()
    assert rows[0]["measured"] == "P1" and rows[0]["calculated"] == "M1" and rows[-1]["calculated"] == "M5"
    assert a.partner_of_measured(2) == 2 and a.partner_of_measured(4) is None


def test_rank_term_breaks_position_ties_and_threshold():
    # two calculated peaks equally close to P1; the one with the same intensity rank wins
    calc = _peaks([490, 510], [0.2, 1.0], "M")
    meas = _peaks([500], [1.0], "P")
    assert tuple(assign_peaks(meas, calc, SIGMA).pairs[0]) == (0, 1)
    assert tuple(assign_peaks(meas, calc, SIGMA, rank_weight=0.0).pairs[0]) in {(0, 0), (0, 1)}
    far = _peaks([700], [1.0], "M")
    assert assign_peaks(meas, far, SIGMA).n_assigned == 0                # 200 cm-1 ≈ 37σ away
    assert assign_peaks(meas, far, SIGMA, max_cost=50).n_assigned == 1
    assert assign_peaks(meas, far, SIGMA, frequency_scale=500 / 700).n_assigned == 1
    empty = _peaks([], [], "M")
    a = assign_peaks(meas, empty, SIGMA)
    assert a.n_assigned == 0 and a.unassigned_measured == (0,)
    with pytest.raises(ConfigError, match="max_cost"):
        assign_peaks(meas, calc, SIGMA, max_cost=0)
