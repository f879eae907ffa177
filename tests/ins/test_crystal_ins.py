"""Crystal INS (Γ modes of a supercell) against closed forms for a simple-cubic crystal.

For the scalar-spring simple-cubic crystal (tests/ins/crystal_models.py) every atom is equivalent and its
mean-square displacement is isotropic, so with b_q = ħ/(2mω_q) (16.8576/(m ν̃) Å²) and N atoms:

* tr A = (3/N) Σ_{q≠0} b_q coth x_q (each q has 3 polarisations with Σ_i|e_νi|² = 1 spread evenly),
* B:A / tr B = tr A/3, so the almost-isotropic exponent is Q² tr A/3 and the order-1 stick of each mode is
  σ Q² b ⟨n+1⟩/3 · exp(−Q² tr A/3) (summed over atoms),
* order 2: per ordered pair of wave vectors (q, q′) (3 × 3 polarisations) the exact powder average gives
  σ Q⁴ b_q b_q′ ⟨n+1⟩⟨n′+1⟩ / (2N) · exp(−Q² tr A/3) at ω_q + ω_q′.

These are evaluated here with numpy from the analytic frequencies, independently of hessfit's modes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hessfit.ins import InsConfig, simulate
from hessfit.ins._kinematics import q2_indirect
from hessfit.units import HC_OVER_KB, ZPA_CONSTANT
from tests.ins.crystal_models import simple_cubic

ANGLE = 134.98885653282196
EF = 32.0


def _sigma(e):
    return 2.5 + 0.005 * e + 1e-7 * e * e


def _gauss(x, centres, weights):
    s = _sigma(centres)
    z = (x[None, :] - centres[:, None]) / s[:, None]
    return weights @ (np.exp(-0.5 * z * z) / (math.sqrt(2 * math.pi) * s[:, None]))


@pytest.mark.parametrize("temperature", [10.0, 150.0])
def test_simple_cubic_orders_1_and_2_and_debye_waller(temperature):
    s, h, freqs = simple_cubic(4, k=0.05)  # 64 H atoms, 189 modes from 163 to 400 cm⁻¹
    n = s.n_atoms
    m = s.masses[0]
    sigma_h = 80.26
    w = freqs[::3]  # one entry per q (3 polarisations each)
    x = 0.5 * HC_OVER_KB * w / temperature
    coth = 1 / np.tanh(x)
    np1 = 0.5 * (coth + 1)
    b = ZPA_CONSTANT / (m * w)
    tr_a = 3.0 / n * np.sum(b * coth)

    def q2(e):
        return np.asarray(q2_indirect(np.asarray(e), final_energy_cm1=EF, angle_deg=ANGLE))

    cfg = InsConfig(instrument="tosca_back", temperature_k=temperature, max_order=2, e_max_cm1=1000.0)
    ds = simulate(s, h, cfg)
    assert ds.attrs["structure_kind"] == "crystal"
    e = ds["energy"].values
    i1 = 3 * sigma_h * q2(w) * b * np1 / 3 * np.exp(-q2(w) * tr_a / 3)
    ref1 = _gauss(e, w, i1)
    np.testing.assert_allclose(ds["order_1"].values, ref1, atol=1e-9 * ref1.max())

    e2 = (w[:, None] + w[None, :]).ravel()
    i2 = sigma_h * q2(e2) ** 2 * np.outer(b * np1, b * np1).ravel() / (2 * n) * np.exp(-q2(e2) * tr_a / 3)
    ref2 = _gauss(e, e2, i2)
    got2 = ds["order_2"].values
    # order 2 is splatted on the 1 cm⁻¹ grid (added variance ≤ ¼ cm², documented): peak-level agreement,
    # and the integrated intensity exactly
    assert np.abs(got2 - ref2).max() < 5e-3 * ref2.max()
    np.testing.assert_allclose(got2.sum(), i2.sum(), rtol=1e-4)
    # the Debye–Waller factor matters here: ignoring it would change order 1 by far more than the tolerance
    no_dw = _gauss(e, w, 3 * sigma_h * q2(w) * b * np1 / 3)
    assert np.abs(no_dw - ref1).max() > 0.05 * ref1.max()


def test_external_mode_model_single_sample_equals_rigid_modes_in_the_hessian():
    """One Gauss–Hermite sample (width 0): the model is the molecule with its six rigid-body modes given the
    frequency ω_c through the Hessian, H + M^½ R λ Rᵀ M^½, simulated with all 3N modes (a crystal basis)."""
    from hessfit.ins import spectrum_fn_for
    from hessfit.ins import external_mode_spectrum_fn
    from hessfit.modes import rigid_body_basis
    from hessfit.structures import read_structure
    from hessfit.units import FREQ_FACTOR_EV_A2

    s = read_structure("data/hexane/hexane_rdkit_mmff.xyz")
    h = np.load("data/hexane/hexane_rdkit_mmff_hessian_mmff94.npy")
    cfg = InsConfig(instrument="tfxa", temperature_k=20.0, max_order=3, e_max_cm1=2000.0)
    centre = 70.0
    model = np.asarray(external_mode_spectrum_fn(s, cfg, n_samples=1)(h, centre, 0.0))
    r = rigid_body_basis(s.positions, s.masses)
    lam = (centre / FREQ_FACTOR_EV_A2) ** 2
    sqm = np.repeat(np.sqrt(s.masses), 3)
    proj = np.eye(3 * s.n_atoms) - r @ r.T  # Eckart: remove the small rigid-body part of the MMFF Hessian first
    d = proj @ (h / sqm[:, None] / sqm[None, :]) @ proj + lam * (r @ r.T)
    h_ext = d * sqm[:, None] * sqm[None, :]
    # the translations now have frequency ω_c too, so diagonalise in the full 3N basis
    from hessfit.ins import make_spectrum_fn
    from hessfit.structures._elements import cross_sections

    full = make_spectrum_fn(s.masses, cross_sections(s.numbers, s.masses), np.eye(3 * s.n_atoms), cfg)
    ref = np.asarray(full(h_ext))
    np.testing.assert_allclose(model, ref, atol=1e-8 * ref.max())
    # and the external modes matter: wings and a larger Debye–Waller factor change the spectrum
    plain = np.asarray(spectrum_fn_for(s, cfg)(h))
    assert np.abs(plain - model).max() > 0.1 * model.max()
