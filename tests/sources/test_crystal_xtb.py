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
