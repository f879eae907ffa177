"""hessfit's INS simulator against abinslib 0.3.0 (euphonic) for a real molecule (QM9 C8H16O, B3LYP Hessian).

Both codes get *identical* normal modes: hessfit's own 3N−6 frequencies and mass-weighted eigenvectors,
padded to the 3N modes euphonic requires with the six orthonormal rigid-body vectors parked at
1e-3 cm⁻¹ (abinslib's ``frequency_min`` = 10 cm⁻¹ zeroes their displacement tensors, exactly like
hessfit's ``mode_cutoff_cm1`` = 10 cm⁻¹; a frequency of exactly 0 would give coth(0)·0 = NaN), in a
30 Å cubic box (Γ point only, weight 1). Kinematics: TOSCA back bank, E_f = 32 cm⁻¹,
θ = 134.98885653282196° (``calculate_indirect_q2`` takes radians).

Convention factors (shared/reference/ins-physics.md §2, §3.2, §4, §9):

* ``Displacements.to_atomic_displacements()`` returns A/2 (euphonic's W convention); abinslib doubles it
  internally, so hessfit's A tensor equals 2× that array, and both use exp(−Q²·tr A/3) for the isotropic DW.
* Order 1 (almost isotropic, with DW): no factor; abinslib's per-atom intensities
  ``calculate_almost_isotropic_incoherent_fundamentals`` weighted by σ_i are hessfit's sticks.
* Order 2: abinslib's ``calculate_almost_isotropic_incoherent_combinations`` lists *ordered* pairs with
  1/(15C) (C = 2 for overtones) and no 1/2!, i.e. 2/15 per unordered combination and 1/30 per overtone.
  hessfit uses the exact expansion (1/15 per unordered combination, 1/30 per overtone). So hessfit's
  order-2 stick of the ordered pair (ν, μ) is abinslib's × ½ for ν ≠ μ and × 1 for ν = μ; abinslib's
  default order-2 area equals 2·(hessfit area) − (overtone area).
* Cross sections: abinslib applies none until ``util.apply_weights`` (euphonic's Sears 1992 table, total
  by default). euphonic's table has no σ_inc for O (Sears lists 0.000), so ``apply_weights(...,
  key='incoherent_cross_section')`` raises for this molecule; the incoherent weights are therefore taken
  from euphonic per atom with the missing O value set to 0.

With these factors the agreement is at round-off level for everything computed the same way: stick
areas per order (≤ 1e-9 relative) and the order-1 spectrum, which hessfit evaluates as exact per-stick
Gaussians σ(E) = 2.5 + 0.005E + 1e-7E² cm⁻¹ at bin centres (≤ 1e-9 of the peak). hessfit's order 2 is
splatted onto the 1 cm⁻¹ grid with linear weights and then broadened with the σ of each source bin; it
matches a numpy re-implementation of that documented scheme fed with abinslib's sticks to round-off,
and exact per-stick Gaussians to the documented splatting error (extra variance ≤ Δ²/4: < 1 % of the peak
for this molecule, observed 0.77 % near 125 cm⁻¹ where σ ≈ 3 cm⁻¹ is smallest).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("abinslib")
pytest.importorskip("euphonic")

import jax.numpy as jnp  # noqa: E402
from abinslib.almost_isotropic_incoherent import (  # noqa: E402
    calculate_almost_isotropic_incoherent_combination_spectra,
    calculate_almost_isotropic_incoherent_combinations,
    calculate_almost_isotropic_incoherent_fundamentals,
    calculate_almost_isotropic_incoherent_spectra,
)
from abinslib.displacements import Displacements  # noqa: E402
from abinslib.util import apply_weights, calculate_indirect_q2  # noqa: E402
from euphonic import Crystal, QpointPhononModes, Quantity  # noqa: E402
from euphonic.isotopes import sears_1992  # noqa: E402

from hessfit.ins import InsConfig, mode_tensors, spectrum_fn_for  # noqa: E402
from hessfit.modes import normal_modes, rigid_body_basis  # noqa: E402
from hessfit.structures._elements import cross_sections  # noqa: E402

ANGLE_DEG = 134.98885653282196
E_FINAL_CM1 = 32.0
CUTOFF_CM1 = 10.0
PARKED_CM1 = 1e-3
BOX_A = 30.0
# Wide enough for every order-2 stick (highest 2 × 3109 cm⁻¹) plus its Gaussian tails, so areas are complete.
E_MAX_CM1 = 7000.0
TEMPERATURES = (10.0, 300.0)


def tosca_sigma(e):
    return 2.5 + 0.005 * e + 1e-7 * e * e


def exact_gaussians(centres, positions, weights):
    """Σ_k w_k N(x; E_k, σ(E_k)) at ``centres`` (unit-area Gaussians, density per cm⁻¹)."""
    sig = tosca_sigma(positions)
    z = (centres[None, :] - positions[:, None]) / sig[:, None]
    return weights @ (np.exp(-0.5 * z * z) / (math.sqrt(2.0 * math.pi) * sig[:, None]))


def splat_then_broaden(positions, weights, *, e_min, step, n_out, half_width):
    """Numpy version of the documented order-2 scheme: linear-weight splat onto bin centres, then each
    bin's content spread by a Gaussian of that (source) bin's σ, kernel truncated at ±half_width bins."""
    pad = half_width
    origin = e_min - (pad - 0.5) * step
    n = n_out + 2 * pad
    x = (positions - origin) / step
    k0 = np.floor(x).astype(int)
    frac = x - k0
    grid = np.zeros(n)
    for k, wt in ((k0, weights * (1.0 - frac)), (k0 + 1, weights * frac)):
        ok = (k >= 0) & (k < n)
        np.add.at(grid, k[ok], wt[ok])
    centres = origin + np.arange(n) * step
    src = np.nonzero(grid)[0]
    out = np.zeros(n)
    for j in src:
        lo, hi = max(0, j - half_width), min(n, j + half_width + 1)
        s = tosca_sigma(centres[j])
        d = centres[lo:hi] - centres[j]
        out[lo:hi] += grid[j] * np.exp(-0.5 * (d / s) ** 2) / (math.sqrt(2.0 * math.pi) * s)
    return out[pad:pad + n_out]


def incoherent_weights(crystal):
    """σ_inc per atom from euphonic's Sears table; O has no tabulated value there (Sears: 0.000)."""
    from euphonic.isotopes._csv import MissingValueError

    out = []
    for sym, mass in zip(crystal.atom_type, crystal.atom_mass.to("amu").magnitude):
        try:
            out.append(sears_1992.get_value(str(sym), float(mass), "incoherent_cross_section").to("barn").magnitude)
        except MissingValueError:
            assert sym == "O"
            out.append(0.0)
    return np.asarray(out)


@pytest.fixture(scope="module")
def shared_modes(qm9_molecule):
    structure, hessian = qm9_molecule
    modes = normal_modes(structure, hessian)
    freqs = np.asarray(modes.frequencies_cm1)
    vecs = np.asarray(modes.vectors)
    assert freqs.min() > CUTOFF_CM1  # all 3N−6 internal modes are real and kept by both codes
    n = structure.n_atoms
    rigid = rigid_body_basis(structure.positions, structure.masses).T.reshape(-1, n, 3)
    crystal = Crystal(Quantity(np.eye(3) * BOX_A, "angstrom"),
                      (structure.positions - structure.positions.mean(0)) / BOX_A + 0.5,
                      np.array(structure.symbols), Quantity(np.asarray(structure.masses), "amu"))
    ph = QpointPhononModes(crystal, np.zeros((1, 3)),
                           Quantity(np.concatenate([np.full(len(rigid), PARKED_CM1), freqs])[None], "1/cm"),
                           np.concatenate([rigid, vecs]).astype(complex)[None], weights=np.ones(1))
    return structure, hessian, modes, ph, len(rigid)


@pytest.fixture(scope="module", params=TEMPERATURES, ids=lambda t: f"{t:g}K")
def abins(request, shared_modes):
    """abinslib sticks per atom at TOSCA-back Q (internal modes only; parked modes carry zero intensity)."""
    temperature = request.param
    structure, hessian, modes, ph, n_rb = shared_modes
    disp = Displacements.from_modes(ph, Quantity(temperature, "K"), frequency_min=Quantity(CUTOFF_CM1, "1/cm"))
    a_half = disp.to_atomic_displacements()
    angle = np.deg2rad(ANGLE_DEG)
    ef = Quantity(E_FINAL_CM1, "1/cm")
    q2_1 = calculate_indirect_q2(ph.frequencies, angle, ef)
    i1 = calculate_almost_isotropic_incoherent_fundamentals(disp, a_half, q2_1)  # (1, 3N, N)
    f_all = ph.frequencies.to("1/cm").magnitude[0]
    e2_all = f_all[:, None] + f_all[None, :]
    q2_2 = calculate_indirect_q2(Quantity(e2_all[None, :, None, :], "1/cm"), angle, ef)
    i2 = calculate_almost_isotropic_incoherent_combinations(disp, a_half, q2_2, include_dw=True)  # (1,3N,1,3N,N)
    # the parked rigid-body modes contribute exactly nothing
    assert not i1[0, :n_rb].any() and not i2[0, :n_rb].any() and not i2[0, :, 0, :n_rb].any()
    return dict(temperature=temperature, disp=disp, a_half=a_half, q2_1=q2_1, q2_2=q2_2,
                freqs=f_all[n_rb:], i1=i1[0, n_rb:], i2=i2[0, n_rb:, 0, n_rb:], e2=e2_all[n_rb:, n_rb:],
                n_rb=n_rb, ph=ph)


_FN_CACHE = {}


def hessfit_spectra(structure, hessian, kind, temperature):
    key = (kind, temperature)
    if key not in _FN_CACHE:
        cfg = InsConfig(instrument="tosca_back", max_order=2, temperature_k=temperature, e_max_cm1=E_MAX_CM1,
                        cross_section=kind, mode_cutoff_cm1=CUTOFF_CM1)
        _FN_CACHE[key] = (cfg, np.asarray(spectrum_fn_for(structure, cfg)(jnp.asarray(hessian))))
    return _FN_CACHE[key]


def test_displacement_tensors_match(shared_modes, abins):
    """A = 2 × to_atomic_displacements(); B_νi = n_plus_one tensors, for every internal mode and atom."""
    _, _, modes, _, n_rb = shared_modes
    _, b, _, a_tensor = mode_tensors(modes, temperature_k=abins["temperature"], cutoff_cm1=CUTOFF_CM1)
    a_ref = 2.0 * abins["a_half"].to("angstrom**2").magnitude
    np.testing.assert_allclose(np.asarray(a_tensor), a_ref, rtol=0, atol=1e-12 * np.abs(a_ref).max())
    v = np.asarray(modes.vectors)
    b_hf = np.asarray(b)[:, :, None, None] * v[:, :, :, None] * v[:, :, None, :]
    b_ref = abins["disp"].n_plus_one.to("angstrom**2").magnitude[0, n_rb:]
    np.testing.assert_allclose(b_hf, b_ref, rtol=0, atol=1e-12 * np.abs(b_ref).max())


@pytest.mark.parametrize("kind", ["incoherent", "total"])
def test_orders_1_and_2(shared_modes, abins, kind):
    structure, hessian, _, ph, _ = shared_modes
    cfg, spec = hessfit_spectra(structure, hessian, kind, abins["temperature"])
    if kind == "total":
        xs = sears_1992.get_array(ph.crystal, "scattering_cross_section").to("barn").magnitude
    else:
        xs = incoherent_weights(ph.crystal)
    np.testing.assert_allclose(xs, cross_sections(structure.numbers, structure.masses, kind), rtol=1e-12)

    f, e2 = abins["freqs"], abins["e2"]
    s1 = abins["i1"] @ xs
    raw2 = abins["i2"] @ xs  # abinslib convention, ordered pairs
    overtone = np.eye(len(f), dtype=bool)
    s2 = raw2 * np.where(overtone, 1.0, 0.5)  # → exact convention (hessfit)
    step = cfg.bin_width_cm1
    x = cfg.e_min_cm1 + (np.arange(cfg.n_bins) + 0.5) * step

    # integrated intensity per order (complete: the grid holds every stick with its tails)
    area1, area2 = spec.sum(axis=1) * step
    assert area1 == pytest.approx(s1.sum(), rel=1e-9)
    assert area2 == pytest.approx(s2.sum(), rel=1e-9)
    assert raw2.sum() == pytest.approx(2.0 * area2 - raw2[overtone].sum(), rel=1e-9)
    # abinslib's default order 2 lies between 1× and 2× the exact form (here ≈1.90 at 10 K, ≈1.70 at 300 K)
    assert 1.0 < raw2.sum() / area2 < 2.0

    # order 1: exact per-stick Gaussians on both sides
    g1 = exact_gaussians(x, f, s1)
    np.testing.assert_allclose(spec[0], g1, rtol=0, atol=1e-9 * g1.max())

    # order 2: numpy re-implementation of the documented splat + source-σ banded broadening
    sigma_max = tosca_sigma(cfg.e_max_cm1) * cfg.resolution_margin
    half_width = int(math.ceil(5.0 * sigma_max / step))
    y2 = splat_then_broaden(e2.ravel(), s2.ravel(), e_min=cfg.e_min_cm1, step=step, n_out=cfg.n_bins,
                            half_width=half_width)
    np.testing.assert_allclose(spec[1], y2, rtol=0, atol=1e-9 * y2.max())
    # ... and exact per-stick Gaussians, up to the documented splatting error
    g2 = exact_gaussians(x, e2.ravel(), s2.ravel())
    assert np.abs(spec[1] - g2).max() < 0.01 * g2.max()
    assert np.corrcoef(spec[1], g2)[0, 1] > 0.9999


def test_order_1_only_config_is_consistent(shared_modes):
    """max_order = 1 gives the same order-1 spectrum as max_order = 2."""
    structure, hessian, _, _, _ = shared_modes
    cfg2, spec2 = hessfit_spectra(structure, hessian, "incoherent", 10.0)
    spec1 = np.asarray(spectrum_fn_for(structure, cfg2.replace(max_order=1))(jnp.asarray(hessian)))
    assert spec1.shape == (1, cfg2.n_bins)
    np.testing.assert_allclose(spec1[0], spec2[0], rtol=0, atol=1e-13 * spec2[0].max())


def test_abinslib_binned_pipeline_with_apply_weights(shared_modes, abins):
    """abinslib's own spectrum functions + util.apply_weights (total σ) reproduce hessfit's areas
    after the order-2 convention factor (areas over 0–7000 cm⁻¹, 1 cm⁻¹ histogram bins)."""
    structure, hessian, _, ph, _ = shared_modes
    _, spec = hessfit_spectra(structure, hessian, "total", abins["temperature"])
    bins = Quantity(np.arange(0.0, E_MAX_CM1 + 0.5, 1.0), "1/cm")
    o1 = apply_weights(calculate_almost_isotropic_incoherent_spectra(ph, abins["disp"], abins["a_half"],
                                                                     abins["q2_1"], bins))
    o2 = apply_weights(calculate_almost_isotropic_incoherent_combination_spectra(ph, abins["disp"], abins["a_half"],
                                                                                 abins["q2_2"], bins))
    ab1 = float(np.sum(o1.y_data.magnitude)) * 1.0
    ab2 = float(np.sum(o2.y_data.magnitude)) * 1.0
    area1, area2 = spec.sum(axis=1)
    xs = sears_1992.get_array(ph.crystal, "scattering_cross_section").to("barn").magnitude
    overtone_area = float(np.trace(abins["i2"] @ xs))
    assert ab1 == pytest.approx(area1, rel=1e-9)
    assert ab2 == pytest.approx(2.0 * area2 - overtone_area, rel=1e-9)
