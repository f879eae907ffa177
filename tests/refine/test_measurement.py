"""Measurement preprocessing shared by refine and finetune: window, baseline, simulation range, background basis."""

import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.compare import MeasuredSpectrum
from hessfit.errors import ValidationError
from hessfit.refine._measurement import background_basis, simulation_range_cm1, window_spectrum


def _cubic(e):
    return 0.3 + 2e-4 * e - 1e-7 * e**2 + 2e-11 * e**3


def test_window_cuts_inclusive_and_removes_an_exact_polynomial_baseline():
    e = np.arange(0.0, 4000.0, 2.0)
    w = window_spectrum(MeasuredSpectrum(energy_cm1=e, intensity=_cubic(e)), 50.0, 3500.0, baseline_degree=3)
    assert w.energy[0] == 50.0 and w.energy[-1] == 3500.0 and w.energy.size == 1726
    np.testing.assert_array_equal(w.y_raw, _cubic(w.energy))
    np.testing.assert_allclose(w.baseline, w.y_raw, rtol=0, atol=1e-12)
    assert np.max(np.abs(w.y)) < 1e-12
    kept = window_spectrum(MeasuredSpectrum(energy_cm1=e, intensity=_cubic(e)), 50.0, 3500.0, subtract_baseline=False)
    np.testing.assert_array_equal(kept.y, kept.y_raw)
    assert kept.y is not kept.y_raw


def test_baseline_is_a_lower_envelope_under_peaks():
    e = np.arange(0.0, 3000.0, 2.0)
    peak = np.exp(-0.5 * ((e - 1500.0) / 20.0) ** 2)
    w = window_spectrum(MeasuredSpectrum(energy_cm1=e, intensity=_cubic(e) + peak), 0.0, 3000.0)
    assert np.all(w.baseline <= w.y_raw + 1e-4)  # a lower envelope (ModPoly stops at a 1e-6 relative change)
    np.testing.assert_allclose(w.baseline, _cubic(e), atol=0.03)  # the peak does not lift it
    assert w.y[750] == pytest.approx(1.0, abs=1e-3)  # the peak survives the subtraction


def test_fewer_than_ten_points_is_a_one_line_error_naming_the_source():
    e = np.arange(0.0, 100.0, 1.0)
    meas = MeasuredSpectrum(energy_cm1=e, intensity=1.0 + 1e-3 * e)
    with pytest.raises(ValidationError) as err:
        window_spectrum(meas, 10.0, 18.0, source="hexane.dat", hint="adjust --e-min/--e-max")
    assert str(err.value) == "hexane.dat: only 9 points in the window 10.0-18.0 cm⁻¹; adjust --e-min/--e-max"
    with pytest.raises(ValidationError, match=r"^x: only 0 points in the window 200-300 cm⁻¹$"):
        window_spectrum(meas, 200, 300, source="x")
    assert window_spectrum(meas, 10.0, 19.0).energy.size == 10


def test_simulation_range_adds_100_cm1_and_clips_at_zero():
    assert simulation_range_cm1(np.array([50.5, 800.0, 3499.2])) == (0.0, 3600)
    assert simulation_range_cm1(np.array([250.5, 1000.0])) == (150, 1100)
    assert simulation_range_cm1(np.array([250.5, 1000.0]), margin_cm1=10.0) == (240, 1010)


def test_background_basis_columns_span_minus_one_to_one():
    e = np.linspace(100.0, 3100.0, 7)
    b = background_basis(e, 3)
    assert b.shape == (7, 4)
    t = np.linspace(-1.0, 1.0, 7)
    np.testing.assert_allclose(b, np.stack([t**0, t, t**2, t**3], axis=1), atol=1e-15)
    assert b[0, 1] == -1.0 and b[-1, 1] == 1.0 and np.all(b[:, 0] == 1.0)
    assert background_basis(e, 0).shape == (7, 1)
    empty = background_basis(e, -1)
    assert empty.shape == (7, 0) and empty.dtype == np.float64
    bj = background_basis(jnp.asarray(e), 3, xp=jnp)
    assert isinstance(bj, jnp.ndarray) and bj.shape == (7, 4)
    np.testing.assert_allclose(np.asarray(bj), b, rtol=0, atol=1e-15)
    assert background_basis(jnp.asarray(e), -1, xp=jnp).shape == (7, 0)


def test_bernstein_background_is_non_negative_and_spans_non_negative_lines():
    from hessfit.refine._measurement import bernstein_basis

    e = np.linspace(50.0, 1800.0, 300)
    for degree in range(4):
        b = bernstein_basis(e, degree)
        assert b.shape == (300, degree + 1) and np.all(b >= 0)
        np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-14)  # partition of unity
    b1 = bernstein_basis(e, 1)
    line = 0.3 + 0.7 * (e - 50.0) / 1750.0  # a non-negative line = (1 − t)·0.3 + t·1.0
    coef = np.linalg.lstsq(b1, line, rcond=None)[0]
    np.testing.assert_allclose(coef, [0.3, 1.0], atol=1e-12)
    np.testing.assert_allclose(bernstein_basis(e[10:20], 2, e_range=(50.0, 1800.0)), bernstein_basis(e, 2)[10:20],
                               atol=1e-15)
    assert bernstein_basis(e, -1).shape == (300, 0)


def test_holdout_blocks_are_resolution_wide_and_interleaved():
    from hessfit.refine._measurement import holdout_mask, resolution_units

    sigma = lambda x: 2.5 + 0.005 * np.asarray(x)  # noqa: E731
    e_uniform = np.arange(50.0, 3500.0, 2.0)
    e_log = 50.0 * 1.02 ** np.arange(215)  # 2 % steps, like TFXA
    for e in (e_uniform, e_log):
        m = holdout_mask(e, "blocks", sigma)
        u = resolution_units(e, sigma)
        # closed form of ∫ dE/σ for a linear σ: ln(σ(E)/σ(E0))/c1 (trapezoid error small on these grids)
        np.testing.assert_allclose(u[-1], np.log(sigma(e[-1]) / sigma(e[0])) / 0.005, rtol=2e-3)
        runs = np.flatnonzero(np.diff(m.astype(int)))
        assert 0.12 < m.mean() < 0.28 and len(runs) >= 6  # ~1 block in 5, several blocks
        held_u = u[m]
        # each held-out run spans at most one 8σ block in resolution units
        starts = np.concatenate([[0], np.flatnonzero(np.diff(np.flatnonzero(m)) > 1) + 1])
        ends = np.concatenate([starts[1:] - 1, [held_u.size - 1]])
        assert np.all(held_u[ends] - held_u[starts] <= 8.0 + 1e-9)
    assert holdout_mask(e_uniform, "none", sigma).sum() == 0
    r = holdout_mask(e_uniform, "range:1100-1800", sigma)
    assert e_uniform[r].min() == 1100.0 and e_uniform[r].max() == 1800.0
    other = holdout_mask(e_uniform, "blocks:4:0", sigma)
    assert 0.18 < other.mean() < 0.32 and not np.array_equal(other, holdout_mask(e_uniform, "blocks", sigma))


@pytest.mark.parametrize("spec, message", [
    ("halves", r"^hx\.dat: unknown hold-out 'halves'; use blocks"),
    ("range:1100", r"^hx\.dat: cannot read 'range:1100'; use range:LO-HI"),
    ("blocks:1", r"^hx\.dat: 'blocks:1' needs K ≥ 2"),
    ("range:5000-6000", r"^hx\.dat: hold-out 'range:5000-6000' leaves 0 held-out"),
])
def test_holdout_errors_are_one_line_naming_the_file(spec, message):
    from hessfit.refine._measurement import holdout_mask

    with pytest.raises(ValidationError, match=message) as err:
        holdout_mask(np.arange(50.0, 3500.0, 2.0), spec, lambda x: 5.0 + 0 * np.asarray(x), source="hx.dat")
    assert "\n" not in str(err.value)
