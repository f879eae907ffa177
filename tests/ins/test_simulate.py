"""INS simulator against closed forms, an independent numpy reference, kinematics tables and finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.ins import InsConfig, load_instrument, q2_indirect, simulate, spectrum_fn_for
from hessfit.modes import normal_modes
from hessfit.structures import Structure, cross_sections
from tests.helpers import methane, sf6, spring_hessian
from tests.ins import reference_numpy as ref

TOSCA_BACK = 134.98885653282196


def water():
    pos = np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])
    s = Structure.from_numbers([8, 1, 1], pos, name="water")
    return s, spring_hessian(pos, [(0, 1), (0, 2), (1, 2)], [45.0, 45.0, 4.0])


@pytest.mark.parametrize("angle,expected", [
    (TOSCA_BACK, [15.3, 44.8, 79.0, 145.1, 209.7, 273.6]),
    (45.0, [4.3, 22.7, 48.3, 101.9, 157.0, 212.8]),
])
def test_q2_against_reference_table(angle, expected):
    e = np.array([100, 500, 1000, 2000, 3000, 4000.0])
    assert np.allclose(np.asarray(q2_indirect(e, 32.0, angle)), expected, atol=0.051)


def test_q2_hand_computed():
    """Q² at 1000 cm⁻¹, E_f 32 cm⁻¹, 135°: k_i² + k_f² − 2 k_i k_f cos θ by hand."""
    k = 0.05983433
    ki2, kf2 = k * 1032, k * 32
    hand = ki2 + kf2 - 2 * np.sqrt(ki2 * kf2) * np.cos(np.radians(135))
    assert float(q2_indirect(1000.0, 32.0, 135.0)) == pytest.approx(hand, rel=1e-6)


def test_tosca_resolution_values():
    sig = load_instrument("tosca").sigma_cm1(np.array([100, 500, 1000, 2000, 3000, 4000.0]))
    assert np.allclose(sig, [3.0, 5.0, 7.6, 12.9, 18.4, 24.1], atol=0.051)


def _sticks_integral(sticks):
    return sum(s for _, s in sticks)


@pytest.mark.parametrize("xs_kind", ["incoherent", "total"])
def test_order1_and_order2_integrals_match_numpy_reference(xs_kind):
    s, h = water()
    cfg = InsConfig(instrument="tosca_back", max_order=2, e_max_cm1=10000.0, cross_section=xs_kind)
    spec = np.asarray(spectrum_fn_for(s, cfg)(jnp.asarray(h)))
    m = normal_modes(s, h)
    args = (np.asarray(m.frequencies_cm1), np.asarray(m.vectors), s.masses,
            cross_sections(s.numbers, s.masses, xs_kind), 10.0, 32.0, TOSCA_BACK)
    i1 = _sticks_integral(ref.order1_sticks(*args))
    i2 = _sticks_integral(ref.order2_sticks(*args))
    assert spec[0].sum() * cfg.bin_width_cm1 == pytest.approx(i1, rel=2e-6)
    assert spec[1].sum() * cfg.bin_width_cm1 == pytest.approx(i2, rel=2e-6)


def test_order1_peak_shape_is_the_exact_gaussian():
    """Each fundamental is a unit-area Gaussian of σ(ω) times its closed-form intensity."""
    s, h = water()
    cfg = InsConfig(instrument="tosca_back", max_order=1, e_max_cm1=5000.0)
    spec = np.asarray(spectrum_fn_for(s, cfg)(jnp.asarray(h)))[0]
    m = normal_modes(s, h)
    sticks = ref.order1_sticks(np.asarray(m.frequencies_cm1), np.asarray(m.vectors), s.masses,
                               cross_sections(s.numbers, s.masses, "incoherent"), 10.0, 32.0, TOSCA_BACK)
    e = 0.5 + np.arange(5000)
    sig = load_instrument("tosca_back").sigma_cm1
    expected = sum(i * np.exp(-0.5 * ((e - w) / sig(w)) ** 2) / (np.sqrt(2 * np.pi) * sig(w)) for w, i in sticks)
    # the reference uses constants rounded to 7 digits: agreement to ~1e-6
    assert np.max(np.abs(spec - expected)) < 2e-6 * np.max(expected)


@pytest.mark.parametrize("order", [3, 4])
def test_autoconvolution_orders_match_isotropic_tuples(order):
    s, h = water()
    cfg = InsConfig(instrument="tosca_back", max_order=order, e_max_cm1=16000.0)
    spec = np.asarray(spectrum_fn_for(s, cfg)(jnp.asarray(h)))
    m = normal_modes(s, h)
    sticks = ref.order_n_isotropic_sticks(order, np.asarray(m.frequencies_cm1), np.asarray(m.vectors), s.masses,
                                          cross_sections(s.numbers, s.masses, "incoherent"), 10.0, 32.0, TOSCA_BACK)
    # Q and DW are applied on the 1 cm⁻¹ node grid rather than at each tuple energy: 1e-3 agreement
    assert spec[order - 1].sum() == pytest.approx(_sticks_integral(sticks), rel=2e-3)
    centroid = (spec[order - 1] * (0.5 + np.arange(spec.shape[1]))).sum() / spec[order - 1].sum()
    ref_centroid = sum(e * w for e, w in sticks) / _sticks_integral(sticks)
    assert centroid == pytest.approx(ref_centroid, abs=1.0)


def test_banks_are_averaged():
    s, h = water()
    both = np.asarray(spectrum_fn_for(s, InsConfig(instrument="tosca", max_order=2))(jnp.asarray(h)))
    back = np.asarray(spectrum_fn_for(s, InsConfig(instrument="tosca_back", max_order=2))(jnp.asarray(h)))
    from hessfit.ins import Instrument

    fwd_inst = Instrument("fwd", 32.0, (45.0,), (2.5, 0.005, 1e-7))
    fwd = np.asarray(spectrum_fn_for(s, InsConfig(instrument=fwd_inst, max_order=2))(jnp.asarray(h)))
    assert np.allclose(both, 0.5 * (back + fwd), rtol=1e-10, atol=1e-14)


def test_wings_poisson_weights_and_shift():
    """Zero-phonon weight e^{−x}; first moment shifts by x·W/2 (Poisson mean x × triangle mean W/2)."""
    s = Structure.from_numbers([6, 1], [[0, 0, 0], [0, 0, 1.09]], name="CH")
    h = spring_hessian(s.positions, [(0, 1)], 30.0)
    w0 = float(normal_modes(s, h).frequencies_cm1[0])
    base = InsConfig(instrument="tosca_back", max_order=1, e_max_cm1=6000.0, wing_terms=8)
    plain = np.asarray(spectrum_fn_for(s, base)(jnp.asarray(h)))[0]
    a_iso = 0.02
    winged = np.asarray(spectrum_fn_for(s, base.replace(wing_a_iso=a_iso))(jnp.asarray(h)))[0]
    e = 0.5 + np.arange(plain.size)
    x = float(q2_indirect(w0, 32.0, TOSCA_BACK)) * a_iso / 3
    assert winged.sum() == pytest.approx(plain.sum(), rel=1e-4)  # Poisson weights sum to 1
    shift = (winged * e).sum() / winged.sum() - (plain * e).sum() / plain.sum()
    assert shift == pytest.approx(x * 150.0 / 2, rel=0.02)
    # with a very wide wing the peak keeps only its zero-phonon part
    wide = np.asarray(spectrum_fn_for(s, base.replace(wing_a_iso=a_iso, wing_width_cm1=20000.0,
                                                      e_max_cm1=8000.0))(jnp.asarray(h)))[0]
    peak = slice(int(w0) - 30, int(w0) + 30)
    assert wide[peak].max() / plain[peak].max() == pytest.approx(np.exp(-x), rel=0.01)


def test_meV_output_conserves_area(qm9_molecule):
    s, h = qm9_molecule
    cm = simulate(s, h, InsConfig(max_order=1))
    mev = simulate(s, h, InsConfig(max_order=1, units="meV"))
    assert float(cm["total"].integrate("energy")) == pytest.approx(float(mev["total"].integrate("energy")), rel=1e-10)
    assert mev["energy"].attrs["units"] == "meV"


def _fd_check(structure, h, cfg, seed=0, eps=1e-6, rtol=1e-5):
    """Directional derivative vs central differences. Orders ≥ 2 are splatted with linear weights, which is
    piecewise linear in the stick energies, so the step is small enough that few sticks cross a grid node."""
    fn = spectrum_fn_for(structure, cfg)
    rng = np.random.default_rng(seed)
    weights = jnp.asarray(rng.uniform(size=(cfg.max_order, cfg.n_bins)))
    d = rng.normal(size=h.shape)
    d = (d + d.T) * 0.05 * np.abs(h).max() / np.abs(d).max()

    def loss(hh, res=1.0):
        return jnp.sum(weights * fn(hh, res))

    g = jax.grad(loss)(jnp.asarray(h))
    assert np.all(np.isfinite(np.asarray(g)))
    fd = (loss(jnp.asarray(h + eps * d)) - loss(jnp.asarray(h - eps * d))) / (2 * eps)
    assert float(jnp.sum(g * d)) == pytest.approx(float(fd), rel=rtol)
    g_res = jax.grad(loss, argnums=1)(jnp.asarray(h), 1.1)
    fd_res = (loss(jnp.asarray(h), 1.1 + 1e-5) - loss(jnp.asarray(h), 1.1 - 1e-5)) / 2e-5
    assert float(g_res) == pytest.approx(float(fd_res), rel=1e-5)


def test_gradient_real_molecule_matches_fd(qm9_molecule):
    s, h = qm9_molecule
    _fd_check(s, h, InsConfig(max_order=1, e_max_cm1=3500.0), rtol=1e-5)
    _fd_check(s, h, InsConfig(max_order=2, e_max_cm1=3500.0, bin_width_cm1=2.0))


@pytest.mark.parametrize("make", [methane, sf6])
def test_gradient_degenerate_molecules_matches_fd(make):
    s, h = make()
    _fd_check(s, h, InsConfig(max_order=3, e_max_cm1=4000.0, bin_width_cm1=2.0, wing_a_iso=0.02,
                              cross_section="total"))


def test_vmap_over_batch_of_hessians(qm9_molecule):
    s, h = qm9_molecule
    fn = spectrum_fn_for(s, InsConfig(max_order=2, e_max_cm1=3500.0))
    batch = jnp.stack([jnp.asarray(h), jnp.asarray(h * 0.97)])
    out = jax.vmap(fn)(batch)
    assert np.allclose(out[1], fn(jnp.asarray(h * 0.97)), rtol=1e-10, atol=1e-14)


def test_imaginary_modes_warn_and_are_excluded(qm9_molecule):
    from hessfit.structures import HessfitWarning

    s, h = qm9_molecule
    m = normal_modes(s, h)
    # flip the lowest mode's curvature: H' = H − 2 λ₀ (√M e₀)(√M e₀)ᵀ
    e0 = np.asarray(m.vectors[0]).ravel() * np.repeat(np.sqrt(s.masses), 3)
    lam = (float(m.frequencies_cm1[0]) / 521.4709) ** 2
    h2 = h - 2 * lam * np.outer(e0, e0)
    with pytest.warns(HessfitWarning, match="imaginary"):
        ds = simulate(s, h2, InsConfig(max_order=1))
    assert float(ds["frequency"][0]) < 0
    assert np.all(np.isfinite(ds["total"].values))


def test_spectrum_invariant_to_basis_inside_degenerate_subspace():
    """Rotating methane's T2 eigenvectors among themselves leaves every order unchanged (order 1 included)."""
    from hessfit.ins import make_modes_spectrum_fn
    from hessfit.modes import Modes

    s, h = methane()
    m = normal_modes(s, h)
    f = np.asarray(m.frequencies_cm1)
    idx = np.flatnonzero(np.isclose(f, f[-2], rtol=1e-8))
    rot = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]
    v = np.asarray(m.vectors).copy()
    v[idx] = np.einsum("ab,bnk->ank", rot, v[idx])
    m2 = Modes(m.frequencies_cm1, jnp.asarray(v), m.masses)
    core = make_modes_spectrum_fn(InsConfig(max_order=3))
    xs = jnp.asarray(cross_sections(s.numbers, s.masses))
    a, b = np.asarray(core(m, xs)), np.asarray(core(m2, xs))
    assert np.max(np.abs(a - b)) < 1e-12 * np.max(a)


@pytest.mark.parametrize("changes, message", [
    (dict(instrument="nosuch"), "unknown instrument 'nosuch'"),
    (dict(max_order=0), "max_order must be between"),
    (dict(temperature_k=-5.0), "temperature_k must be positive"),
    (dict(e_min_cm1=500.0, e_max_cm1=100.0), "energy grid"),
])
def test_ins_config_rejects_bad_settings_when_made(changes, message):
    """Bad settings fail when the config is made (before any Hessian is computed), each with its own message."""
    from hessfit.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        InsConfig(**changes)
    assert InsConfig(instrument="vision").instrument == "vision"
    vision = load_instrument("vision")
    assert InsConfig(instrument=vision).instrument is vision  # an Instrument object is kept as given
