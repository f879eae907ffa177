"""Agreement scores against scipy, and compare_spectra end to end on simple spectra."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import spatial, stats

from hessfit.compare import (CompareConfig, MeasuredSpectrum, compare_spectra, cosine, pearson, preprocess, spearman,
                             wasserstein)
from hessfit.errors import ConfigError, ValidationError


def _vectors(seed, n=300, ties=False):
    rng = np.random.default_rng(seed)
    a, b = rng.random(n), rng.random(n) + 0.3 * rng.random(n)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    return a, b


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_scores_equal_scipy(seed, ties):
    a, b = _vectors(seed, ties=ties)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert pearson(a, b) == pytest.approx(stats.pearsonr(a, b).statistic, abs=1e-12)
    assert cosine(a, b) == pytest.approx(1.0 - spatial.distance.cosine(a, b), abs=1e-12)
    e = np.cumsum(0.5 + np.random.default_rng(seed).random(a.size))      # non-uniform grid
    dx = np.gradient(e)
    ref = stats.wasserstein_distance(e, e, a * dx, b * dx)
    assert wasserstein(e, a, b) == pytest.approx(ref, rel=1e-12)


def test_wasserstein_measures_a_shift():
    e = np.arange(0.0, 1000.0, 1.0)
    g = lambda c: np.exp(-0.5 * ((e - c) / 5.0) ** 2)  # noqa: E731
    assert wasserstein(e, g(400), g(430)) == pytest.approx(30.0, abs=0.01)
    assert wasserstein(e, g(400), g(400)) == pytest.approx(0.0, abs=1e-9)


def test_score_input_errors_and_constants():
    with pytest.raises(ValidationError, match="resample onto one grid"):
        spearman(np.ones(3), np.ones(4))
    with pytest.raises(ValidationError, match="NaN"):
        pearson([1.0, np.nan, 2.0], [1.0, 2.0, 3.0])
    assert np.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert np.isnan(cosine([0.0, 0.0], [1.0, 2.0]))


def _spectrum(e, centres, widths=8.0, heights=None):
    heights = np.ones(len(centres)) if heights is None else heights
    return sum(h * np.exp(-0.5 * ((e - c) / widths) ** 2) for c, h in zip(centres, heights))


def test_compare_spectra_identical_and_defaults():
    e_sim = np.arange(0.5, 4000.0, 1.0)
    y_sim = _spectrum(e_sim, [300, 800, 1450, 2950]) + 1e-3   # a flat floor: ranks of 1e-30 tails are noise
    e_meas = 20.0 * 1.005 ** np.arange(1100)                              # non-uniform like TFXA
    e_meas = e_meas[e_meas < 3990]
    meas = MeasuredSpectrum(e_meas, 3.0 * (_spectrum(e_meas, [300, 800, 1450, 2950]) + 1e-3))
    r = compare_spectra(meas, (e_sim, y_sim))
    assert r["spearman"] > 0.999 and r["pearson"] > 0.999 and r["cosine"] > 0.999
    assert r["wasserstein_cm1"] < 1.0
    assert r["window_cm1"] == [50.0, 3500.0]
    assert r["preprocessing"]["grid"]["kind"] == "measured"
    assert r["n_points"] == int(np.sum((e_meas >= 50) & (e_meas <= 3500)))
    assert compare_spectra(meas, meas)["spearman"] == pytest.approx(1.0)    # measured vs measured works too
    # the spearman reported is scipy's on the prepared vectors
    p = preprocess(meas, (e_sim, y_sim))
    assert r["spearman"] == pytest.approx(stats.spearmanr(p.measured, p.calculated).statistic, abs=1e-12)
    assert np.trapezoid(p.measured, p.energy_cm1) == pytest.approx(1.0)
    assert np.trapezoid(p.calculated, p.energy_cm1) == pytest.approx(1.0)


def test_backgrounds_grids_and_record():
    e = np.linspace(20, 4000, 900)
    cubic = 2.0 + 1e-3 * e - 2e-7 * e ** 2
    peaks = _spectrum(e, [200, 600, 1000, 1500, 2950], heights=[3, 2, 1.5, 1, 0.5])
    meas = MeasuredSpectrum(e, peaks + cubic)
    sim = (e, peaks)
    poly = preprocess(meas, sim, background="polynomial", background_degree=2, normalize="none")
    win = (e >= 50) & (e <= 3500)
    assert np.max(np.abs(poly.background - cubic[win])) < 0.05 * np.max(peaks)
    rec = poly.record["background"]
    assert rec["degree"] == 2 and len(rec["coefficients_cm1_powers"]) == 3
    np.testing.assert_allclose(rec["coefficients_cm1_powers"], [2.0, 1e-3, -2e-7], rtol=0.05, atol=0.03)
    als = preprocess(meas, sim, background="baseline", normalize="none")
    assert np.all(als.background <= (peaks + cubic)[win] + 0.05)
    assert compare_spectra(meas, sim, background="polynomial")["pearson"] > 0.99
    assert compare_spectra(meas, sim)["pearson"] < 0.9                      # the background hurts without removal
    r = compare_spectra(meas, sim, grid="simulated")
    assert r["preprocessing"]["grid"]["kind"] == "simulated"
    r = compare_spectra(meas, sim, grid=2.0, window_cm1=(100, 2000))
    assert r["preprocessing"]["grid"] == {"kind": "uniform", "step_cm1": 2.0, "n_points": 951}


def test_compare_config_errors():
    with pytest.raises(ConfigError, match="window_cm1"):
        CompareConfig(window_cm1=(500, 100))
    with pytest.raises(ConfigError, match="background must be one of"):
        CompareConfig(background="spline")
    with pytest.raises(ConfigError, match="grid must be"):
        CompareConfig(grid="fine")
    with pytest.raises(ConfigError, match="normalize"):
        CompareConfig(normalize="sum")
    e = np.linspace(4000, 5000, 10)
    with pytest.raises(ValidationError, match="do not overlap"):
        preprocess(MeasuredSpectrum(e, np.arange(10.0)), (np.linspace(0, 3000, 100), np.ones(100)))
