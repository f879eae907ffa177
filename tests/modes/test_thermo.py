"""Harmonic vibrational thermodynamics against closed forms, hand-computed numbers and ASE's HarmonicThermo."""

import math

import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.modes import normal_modes, thermo_table, vibrational_thermo

R = 8.314462618          # J/(mol K), CODATA 2018 (exact by definition of N_A and k_B)
C2 = 1.438776877         # h c / k_B in cm K
NAHC = 11.96265656       # N_A h c in J/mol per cm⁻¹


def test_single_mode_by_hand():
    # one 1000 cm⁻¹ mode at 300 K: x = 1.438776877 * 1000 / 300 = 4.79592
    t = vibrational_thermo([1000.0], 300.0)
    x = C2 * 1000.0 / 300.0
    assert x == pytest.approx(4.795923, rel=1e-6)
    assert t.zpe_kj_mol == pytest.approx(5.981328, rel=1e-6)          # ½ N_A h c ν̃
    ex = math.exp(x)
    assert t.u_kj_mol == pytest.approx(5.981328 + 11.962657 / (ex - 1), rel=1e-6)
    assert t.s_j_mol_k == pytest.approx(R * (x / (ex - 1) - math.log(1 - 1 / ex)), rel=1e-7)
    assert t.s_j_mol_k == pytest.approx(0.40124, abs=1e-5)
    assert t.cv_j_mol_k == pytest.approx(R * x * x * ex / (ex - 1) ** 2, rel=1e-7)
    assert t.cv_j_mol_k == pytest.approx(1.60673, abs=1e-5)
    assert t.f_kj_mol == pytest.approx(t.u_kj_mol - 300.0 * t.s_j_mol_k / 1000.0, rel=1e-12)
    assert (t.n_modes, t.n_imaginary) == (1, 0)


def test_einstein_heat_capacity():
    # N identical modes of Einstein temperature θ = C2 ν̃: Cv = N R (θ/T)² e^(θ/T) / (e^(θ/T) − 1)²;
    # at T = θ the Einstein function is e/(e − 1)² = 0.920674
    nu, n = 500.0, 12
    theta = C2 * nu
    t = vibrational_thermo(np.full(n, nu), theta)
    assert t.cv_j_mol_k / (n * R) == pytest.approx(math.e / (math.e - 1) ** 2, rel=1e-8)
    assert t.cv_j_mol_k / (n * R) == pytest.approx(0.920674, abs=1e-6)
    low = vibrational_thermo(np.full(n, nu), theta / 20)  # deep quantum regime: exponentially small
    assert low.cv_j_mol_k / (n * R) == pytest.approx(400 * math.exp(-20), rel=1e-6)


def test_molecule_limits(qm9_molecule):
    s, h = qm9_molecule
    m = normal_modes(s, h)
    f = np.asarray(m.frequencies_cm1)
    assert m.n_modes == 3 * s.n_atoms - 6 and np.all(f > 0)
    zero = vibrational_thermo(m, 0.0)
    assert zero.s_j_mol_k == 0 and zero.cv_j_mol_k == 0
    assert zero.u_kj_mol == zero.f_kj_mol == pytest.approx(0.5 * NAHC * f.sum() / 1000, rel=1e-8)
    hot = vibrational_thermo(m, 1e6)  # classical limit: Cv → (3N−6) R, S → R Σ (1 − ln x)
    assert hot.cv_j_mol_k == pytest.approx((3 * s.n_atoms - 6) * R, rel=1e-5)
    assert hot.s_j_mol_k == pytest.approx(R * np.sum(1 - np.log(C2 * f / 1e6)), rel=1e-5)
    # thermodynamic consistency: Cv = dU/dT, S = −dF/dT (central differences at 300 K)
    lo, hi = vibrational_thermo(m, 299.5), vibrational_thermo(m, 300.5)
    mid = vibrational_thermo(m, 300.0)
    assert mid.cv_j_mol_k == pytest.approx(1000 * (hi.u_kj_mol - lo.u_kj_mol), rel=1e-5)
    assert mid.s_j_mol_k == pytest.approx(-1000 * (hi.f_kj_mol - lo.f_kj_mol), rel=1e-5)


def test_against_ase_harmonic_thermo(qm9_molecule):
    thermochemistry = pytest.importorskip("ase.thermochemistry")
    from ase import units

    s, h = qm9_molecule
    f = np.asarray(normal_modes(s, h).frequencies_cm1)
    ase = thermochemistry.HarmonicThermo(vib_energies=f * units.invcm, potentialenergy=0.0)
    ev_to_kj_mol = units.mol / units.kJ
    for temp in (50.0, 298.15, 800.0):
        ours = vibrational_thermo(f, temp)
        assert ours.u_kj_mol == pytest.approx(ase.get_internal_energy(temp, verbose=False) * ev_to_kj_mol, rel=1e-6)
        assert ours.s_j_mol_k == pytest.approx(ase.get_entropy(temp, verbose=False) * ev_to_kj_mol * 1000, rel=1e-6)
        assert ours.f_kj_mol == pytest.approx(ase.get_helmholtz_energy(temp, verbose=False) * ev_to_kj_mol,
                                              rel=1e-6)


def test_imaginary_modes_left_out_and_bad_temperature():
    with_imag = vibrational_thermo([-120.0, 0.0, 800.0, 1500.0], 300.0)
    real = vibrational_thermo([800.0, 1500.0], 300.0)
    assert (with_imag.n_modes, with_imag.n_imaginary) == (2, 2)
    assert with_imag.as_dict() | {"n_imaginary": 0} == real.as_dict()
    rows = thermo_table([800.0, 1500.0], [100.0, 300.0])
    assert [r["temperature_k"] for r in rows] == [100.0, 300.0] and rows[1]["s_j_mol_k"] == real.s_j_mol_k
    with pytest.raises(ConfigError, match="temperature"):
        vibrational_thermo([800.0], -1.0)
