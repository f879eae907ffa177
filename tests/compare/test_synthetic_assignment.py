"""A spectrum simulated from a known Hessian, shifted and noisy, is matched back to the right modes.

Stated accuracy (hexane, MMFF94 Hessian, TOSCA, order 1, 10 K, 50–3500 cm⁻¹): for a 'measured' spectrum made by
stretching the simulated energy axis by +2 % (≈ a 2 % frequency error) or shifting it by +1σ, and adding Gaussian
noise of 1 % of the maximum, every measured peak whose intensity is dominated (≥ 50 %) by one mode is assigned to
the calculated peak dominated by that same mode (100 %, ≥ 8 such peaks); every measured peak within 2σ of a
(distorted) calculated peak is assigned and every noise peak (none within 2σ) is left unassigned; the shift is
recovered to within 0.3σ (median) and the stretch to within 0.5 %. For the +2 % stretch the assignment is given
``frequency_scale=1.02``: unscaled, the C–H stretches (60 cm⁻¹ ≈ 3.2σ off) exceed the default threshold.
"""

from __future__ import annotations

import numpy as np
import pytest

from hessfit.compare import (MeasuredSpectrum, assign_peaks, detect_peaks, peak_contributions, stick_spectrum)
from hessfit.ins import load_instrument


def _measured_copy(ds, *, stretch=1.0, shift_sigma=0.0, noise=0.01, seed=0, sigma_fn=None):
    e = ds["energy"].values
    y = ds["total"].values
    e_new = e * stretch + (shift_sigma * sigma_fn(e) if shift_sigma else 0.0)
    rng = np.random.default_rng(seed)
    err = np.full_like(y, noise * y.max())
    grid = 20.0 * 1.005 ** np.arange(1200)                               # TFXA-like 0.5 % steps
    grid = grid[(grid > e_new[0]) & (grid < e_new[-1])]
    y_grid = np.interp(grid, e_new, y) + rng.normal(0.0, err[0], grid.size)
    return MeasuredSpectrum(grid, y_grid, np.full_like(grid, err[0]), source="synthetic")


def _dominant_mode(contrib):
    c = contrib["contributions"]
    if c and c[0]["order"] == 1 and c[0]["share"] >= 0.5:
        return c[0]["modes"][0]
    return None


@pytest.mark.parametrize("case", ["stretch_2pct", "shift_1sigma"])
def test_shifted_noisy_copy_is_matched_to_the_right_modes(hexane, hexane_modes, tosca_order1, case):
    s, h = hexane
    cfg, ds = tosca_order1
    sigma_fn = load_instrument("tosca").sigma_cm1
    kw = dict(stretch=1.02) if case == "stretch_2pct" else dict(shift_sigma=1.0)
    meas = _measured_copy(ds, sigma_fn=sigma_fn, **kw).window(50, 3500)
    sticks = stick_spectrum(s, hexane_modes, cfg)

    e_c = ds["energy"].values
    win = (e_c >= 50) & (e_c <= 3500)
    calc = detect_peaks(e_c[win], ds["total"].values[win], sigma_fn, prefix="M", min_prominence=0.01)
    mp = detect_peaks(meas.energy_cm1, meas.intensity, sigma_fn, error=meas.error, min_snr=3.0, smooth=0.5)
    scale = 1.02 if case == "stretch_2pct" else 1.0
    a = assign_peaks(mp, calc, sigma_fn, frequency_scale=scale)

    # which mode makes each peak: calculated peaks from the sticks; measured peaks from the same sticks mapped
    # through the known distortion (the truth)
    calc_mode = [_dominant_mode(c) for c in peak_contributions(calc.energy_cm1, sticks, sigma_fn)]
    e_back = mp.energy_cm1 / scale - (sigma_fn(mp.energy_cm1) if case == "shift_1sigma" else 0.0)
    meas_mode = [_dominant_mode(c) for c in peak_contributions(e_back, sticks, sigma_fn)]

    checked = correct = 0
    for i, j in a.pairs:
        if meas_mode[i] is not None and calc_mode[j] is not None:
            checked += 1
            correct += meas_mode[i] == calc_mode[j]
    assert checked >= 8
    assert correct == checked, f"{correct}/{checked} single-mode peaks matched to the right mode"
    # peaks with a true counterpart are assigned, noise peaks are not
    true_pos = calc.energy_cm1 * scale + (sigma_fn(calc.energy_cm1) if case == "shift_1sigma" else 0.0)
    for i, e in enumerate(mp.energy_cm1):
        near = np.min(np.abs(true_pos - e)) < 2.0 * sigma_fn(e)
        assert near == (i not in a.unassigned_measured), f"{mp.labels[i]} at {e:.0f} cm-1"
    assert a.n_assigned >= len(calc) - 2
    if case == "shift_1sigma":
        assert abs(np.median(a.shift_sigma) - 1.0) < 0.3
    else:
        stretch = mp.energy_cm1[a.pairs[:, 0]] / calc.energy_cm1[a.pairs[:, 1]]
        assert abs(np.median(stretch) - 1.02) < 0.005


def test_exact_copy_scores_and_peaks(hexane, tosca_order1):
    """The simulation compared with itself: scores at their ideal values, every peak paired with itself."""
    from hessfit.compare import compare_spectra

    cfg, ds = tosca_order1
    e, y = ds["energy"].values, ds["total"].values
    r = compare_spectra(MeasuredSpectrum(e, 7.0 * y), ds)              # scale is irrelevant
    assert r["spearman"] == pytest.approx(1.0) and r["pearson"] == pytest.approx(1.0)
    assert r["cosine"] == pytest.approx(1.0) and r["wasserstein_cm1"] == pytest.approx(0.0, abs=1e-6)
    # a flat floor of 0.1 % of the maximum barely moves the correlations but costs W₁ (mass spread over 3450 cm⁻¹)
    r = compare_spectra(MeasuredSpectrum(e, y + 1e-3 * y.max()), ds)
    assert r["pearson"] > 0.9999 and r["cosine"] > 0.9999 and 5 < r["wasserstein_cm1"] < 50
    sigma_fn = load_instrument("tosca").sigma_cm1
    p = detect_peaks(e, y, sigma_fn)
    a = assign_peaks(p, p, sigma_fn)
    assert a.n_assigned == len(p) and np.all(a.pairs[:, 0] == a.pairs[:, 1])
