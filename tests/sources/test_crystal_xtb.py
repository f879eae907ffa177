"""Periodic GFN2-xTB (tblite with a lattice) and the folded electronic supercell, on a tiny H2 crystal."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tblite")

from hessfit.modes import normal_modes  # noqa: E402
from hessfit.modes import acoustic_sum_rule_error  # noqa: E402
from hessfit.sources._xtb import XtbSource  # noqa: E402
from hessfit.structures import Structure  # noqa: E402
from hessfit.structures._crystal import supercell  # noqa: E402

H2 = np.array([[0.0, 0.0, 0.0], [0.74, 0.1, 0.05]])


def h2_crystal(a):
    return Structure(np.ones(2, int), H2 + 0.3, np.full(2, 1.008), name=f"h2_{a}", cell=np.eye(3) * a)


def test_lattice_is_used_and_large_cell_is_the_molecule():
    src = XtbSource(n_workers=1)
    e_mol, f_mol = src.energy_forces(Structure(np.ones(2, int), H2, np.full(2, 1.008), name="h2"))
    e_big, f_big = src.energy_forces(h2_crystal(20.0))
    e_small, _ = src.energy_forces(h2_crystal(2.6))
    assert abs(e_big - e_mol) < 1e-3  # eV: far images do not interact
    np.testing.assert_allclose(f_big, f_mol, atol=1e-3)
    assert abs(e_small - e_mol) > 5e-3  # a 2.6 Å cell: the periodic images clearly interact


def test_electronic_supercell_folds_energy_and_gradient():
    c = h2_crystal(2.8)
    folded = XtbSource(n_workers=1, electronic_supercell=(2, 1, 1))
    e, f = folded.energy_forces(c)
    e_sc, f_sc = XtbSource(n_workers=1).energy_forces(supercell(c, (2, 1, 1)))
    assert abs(e - e_sc / 2) < 1e-9
    np.testing.assert_allclose(f, f_sc.reshape(2, 2, 3).mean(0), atol=1e-9)
    # gradient consistent with the folded energy (central difference of one coordinate)
    h = 1e-3
    p = c.positions.copy()
    p[1, 0] += h
    ep = folded.energy_forces(Structure(c.numbers, p, c.masses, cell=c.cell))[0]
    p[1, 0] -= 2 * h
    em = folded.energy_forces(Structure(c.numbers, p, c.masses, cell=c.cell))[0]
    assert abs(-(ep - em) / (2 * h) - f[1, 0]) < 2e-3 * max(1.0, abs(f[1, 0]))


def test_gamma_hessian_of_a_crystal_has_3n_minus_3_modes():
    c = h2_crystal(3.0)
    h = XtbSource(n_workers=1).hessian(c).hessian
    assert acoustic_sum_rule_error(h) < 0.05  # eV/Å²: periodic force constants are translation invariant
    f = np.asarray(normal_modes(c, h).frequencies_cm1)
    assert f.size == 3  # stretch + two librations; the three acoustic translations are removed
    assert 3500 < f.max() < 5000  # H–H stretch


def test_small_cell_warns_and_supercell_does_not():
    import warnings

    from hessfit.structures import HessfitWarning

    c = h2_crystal(3.0)
    with pytest.warns(HessfitWarning, match=r"electronic_supercell=\(3, 3, 3\)"):
        XtbSource(n_workers=1).energy_forces(c)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HessfitWarning)
        XtbSource(n_workers=1, electronic_supercell=(3, 3, 3)).energy_forces(c)


def _two_h2_triclinic():
    pos = np.array([[0.1, 0.2, 0.3], [0.84, 0.2, 0.3], [2.0, 2.1, 2.2], [2.0, 2.1, 2.94]])
    return Structure(np.ones(4, int), pos, np.full(4, 1.008), name="h2_pair",
                     cell=np.array([[4.0, 0.2, 0.0], [0.0, 4.2, 0.0], [0.1, 0.0, 4.4]]))


@pytest.mark.filterwarnings("ignore:.*unreliable")
@pytest.mark.parametrize("reps", [(1, 1, 1), (2, 1, 1)])
def test_stress_is_the_strain_derivative_of_the_energy(reps):
    """σ = (1/V) ∂E/∂ε against central differences of the energy under homogeneous strain (cell and positions
    deformed together), also when evaluated in an electronic supercell; forces as the gradient's negative."""
    import dataclasses

    s = _two_h2_triclinic()
    src = XtbSource(electronic_supercell=reps)
    energy, forces, stress = src.energy_forces_stress(s)
    e_ref, f_ref = src.energy_forces(s)
    assert energy == pytest.approx(e_ref, abs=1e-9)
    np.testing.assert_allclose(forces, f_ref, atol=1e-9)
    volume, step = abs(np.linalg.det(s.cell)), 1e-4

    def strained(eps):
        d = np.eye(3) + eps
        return src.energy_forces_stress(dataclasses.replace(s, positions=s.positions @ d.T, cell=s.cell @ d.T))[0]

    fd = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            e = np.zeros((3, 3))
            e[i, j] = step
            fd[i, j] = (strained(e) - strained(-e)) / (2 * step) / volume
    np.testing.assert_allclose(stress, 0.5 * (fd + fd.T), atol=2e-6)
    assert np.abs(stress).max() > 1e-4  # a strained cell: the test has something to compare


def test_cell_relaxation_of_diamond(tmp_path):
    """Diamond started at a = 3.70 Å with an off-site atom, electronic 2×2×2 supercell: the cell and positions
    relax (energy down, forces and stress × volume below the threshold), the fcc cell stays fcc, and the relaxed
    cell survives writing as .xyz. (Γ-only xTB in a small cell is no test system: a 4 Å H2 cell collapses.)"""
    from hessfit.sources import optimize
    from hessfit.structures import read_structure, write_xyz

    fcc = 3.70 * np.array([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    s = Structure(np.array([6, 6]), np.array([[0, 0, 0], [0.25, 0.25, 0.25]]) @ fcc + [0.02, 0.0, 0.0],
                  np.full(2, 12.011), name="diamond", cell=fcc)
    src = XtbSource(electronic_supercell=(2, 2, 2))
    e0, _, _ = src.energy_forces_stress(s)
    res = optimize(s, src, cell=True, fmax_eV_A=0.01, max_steps=100)
    e1, f1, st1 = src.energy_forces_stress(res.structure)
    cell = res.structure.cell
    assert res.converged and e1 < e0 - 0.01
    assert np.abs(st1).max() * abs(np.linalg.det(cell)) < 0.01 and np.abs(f1).max() < 0.01
    lengths = np.linalg.norm(cell, axis=1)
    np.testing.assert_allclose(lengths, lengths[0], rtol=1e-3)  # fcc stays fcc
    assert 3.5 < lengths[0] * np.sqrt(2) < 3.68  # shrank from 3.70 Å (GFN2-xTB: 3.63 in this supercell)
    write_xyz(tmp_path / "r.xyz", res.structure)  # extended XYZ: the relaxed cell survives
    np.testing.assert_allclose(read_structure(tmp_path / "r.xyz").cell, cell, atol=1e-8)
    with pytest.raises(Exception, match="not a periodic structure"):
        optimize(Structure(s.numbers, s.positions, s.masses, name="mol"), src, cell=True)
