"""Periodic structures: readers keep the cell, molecules are found across boundaries and made whole."""

from __future__ import annotations

import numpy as np
import pytest

from hessfit.errors import InputFormatError, ValidationError
from hessfit.structures import Structure, read_structure
from hessfit.structures import describe_structure as describe
from hessfit.structures import find_molecules, make_whole, require_crystal, supercell

SHARED = "/work/shared/data/spectra"
EXTXYZ = f"{SHARED}/hexane_crystal.extxyz"
CIF = f"{SHARED}/hexane_crystal.cif"


def _hexane():
    try:
        return read_structure(EXTXYZ)
    except InputFormatError:
        pytest.skip("shared hexane crystal not available")


def _bond_lengths(s):
    a = find_molecules(s)
    w = make_whole(s, assignment=a)
    i, j = a.bonds.T
    return np.linalg.norm(w.positions[i] - w.positions[j], axis=1)


def test_readers_keep_the_cell(tmp_path):
    s = _hexane()
    assert s.is_crystal and s.n_atoms == 20
    np.testing.assert_allclose(np.linalg.norm(s.cell, axis=1), [4.1309, 4.696, 8.539], atol=2e-3)
    atoms = s.to_ase()
    for name, fmt in (("POSCAR", "vasp"), ("geometry.in", "aims"), ("x.cif", "cif")):
        atoms.write(tmp_path / name, format=fmt)
        r = read_structure(tmp_path / name)
        assert r.is_crystal and r.n_atoms == 20, name
        np.testing.assert_allclose(abs(np.linalg.det(r.cell)), abs(np.linalg.det(s.cell)), rtol=1e-6)
    c = read_structure(CIF)
    assert c.is_crystal and c.formula == "C6H14"
    mol = read_structure(f"{SHARED}/hexane.xyz")
    assert not mol.is_crystal and mol.cell is None
    assert describe(mol).startswith("molecule: 20 atoms")
    with pytest.raises(InputFormatError, match="not a periodic structure"):
        require_crystal(mol)


def test_molecules_across_boundaries_are_made_whole():
    s = _hexane()
    ref = np.sort(_bond_lengths(s))
    sc = supercell(s, (2, 1, 2))
    rng = np.random.default_rng(0)
    perm = rng.permutation(sc.n_atoms)
    # scramble: random atom order, every atom shifted by random lattice vectors, then wrapped into the cell
    shifted = sc.positions[perm] + rng.integers(-2, 3, (sc.n_atoms, 3)) @ sc.cell
    frac = np.linalg.solve(sc.cell.T, shifted.T).T
    wrapped = (frac - np.floor(frac)) @ sc.cell
    scr = Structure(sc.numbers[perm], wrapped, sc.masses[perm], name="scrambled", cell=sc.cell)
    a = find_molecules(scr)
    assert a.n_molecules == 4 and not a.extended.any()
    assert sorted(np.bincount(a.labels)) == [20, 20, 20, 20]
    assert describe(scr).startswith("crystal: 80 atoms, 4 molecules")
    w = make_whole(scr, assignment=a)
    for k in range(4):  # every molecule compact (hexane spans < 8 Å) and its bonds as in the input
        idx = a.members(k)
        assert np.ptp(w.positions[idx], axis=0).max() < 8.0
        com_frac = np.linalg.solve(sc.cell.T, w.positions[idx].mean(0))
        assert np.all((com_frac > -0.01) & (com_frac < 1.01))
    got = np.sort(np.linalg.norm(w.positions[a.bonds[:, 0]] - w.positions[a.bonds[:, 1]], axis=1))
    np.testing.assert_allclose(got, np.sort(np.tile(ref, 4)), atol=1e-9)
    assert got.max() < 1.6  # C–C 1.5 Å: no bond was unwrapped to the wrong image


def test_extended_chain_is_flagged_and_bad_cells_rejected():
    chain = Structure.from_numbers([6, 6], [[0, 0, 0], [1.5, 0, 0]], name="chain")
    chain = Structure(chain.numbers, chain.positions, chain.masses, name="chain",
                      cell=np.diag([3.0, 10.0, 10.0]))
    a = find_molecules(chain)
    assert a.n_molecules == 1 and a.extended[0]
    assert "extended" in describe(chain)
    with pytest.raises(ValidationError, match="singular"):
        Structure(chain.numbers, chain.positions, chain.masses, cell=np.zeros((3, 3)))
    with pytest.raises(ValidationError, match="shape"):
        Structure(chain.numbers, chain.positions, chain.masses, cell=np.eye(2))


@pytest.mark.parametrize("shift", [False, True])
def test_split_intermolecular_separates_the_dimers_exactly(shift):
    """Built from intra-dimer blocks and inter-dimer springs, the split gives back both parts (also when a dimer
    crosses the cell boundary); each part is symmetric and obeys the sum rule; a molecule has no intermolecular
    part."""
    from hessfit.structures import split_intermolecular
    from tests.ins.crystal_models import dimer_crystal

    s, h_intra, h_inter = dimer_crystal(0.3, shift_atom1=shift)
    intra, inter = split_intermolecular(s, h_intra + h_inter)
    np.testing.assert_allclose(intra, h_intra, atol=1e-12)
    np.testing.assert_allclose(inter, h_inter, atol=1e-12)
    # a general crystal Hessian (non-central inter blocks): exact sum, symmetric parts, sum rule
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 12)) * 0.05
    t = np.kron(np.ones((4, 1)), np.eye(3)) / 2.0
    p = np.eye(12) - t @ t.T
    h = h_intra + p @ (a + a.T) @ p
    intra, inter = split_intermolecular(s, h)
    np.testing.assert_allclose(intra + inter, h, atol=1e-14)
    for part in (intra, inter):
        np.testing.assert_allclose(part, part.T, atol=1e-14)
        assert np.abs(part.reshape(4, 3, 4, 3).sum(axis=2)).max() < 1e-13
    # between the dimers: H's blocks, up to the translation projection of the (antisymmetric) diagonal residual
    np.testing.assert_allclose(inter.reshape(4, 3, 4, 3)[0, :, 2], h.reshape(4, 3, 4, 3)[0, :, 2], atol=0.05)
    mol = Structure(s.numbers, s.positions, s.masses, name="as molecule")
    assert not split_intermolecular(mol, h)[1].any()


def test_write_xyz_keeps_a_crystal_cell(tmp_path):
    """A crystal written as .xyz (e.g. by hessfit optimize) is extended XYZ: read back with its cell and pbc."""
    from hessfit.structures import write_xyz
    from tests.ins.crystal_models import dimer_crystal

    s, _, _ = dimer_crystal()
    write_xyz(tmp_path / "c.xyz", s, comments=['optimised "GFN2-xTB" E=-1.0 eV'])
    back = read_structure(tmp_path / "c.xyz")
    assert back.is_crystal
    np.testing.assert_allclose(back.cell, s.cell, atol=1e-9)
    np.testing.assert_allclose(back.positions, s.positions, atol=1e-7)
    assert list(back.pbc) == [True, True, True]


_DISORDERED_CIF = """data_test
_cell_length_a 6.0
_cell_length_b 6.0
_cell_length_c 6.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
C1 C 0.0 0.0 0.0 1.0
O1 O 0.2 0.0 0.0 1.0
H1A H 0.0 0.18 0.0 {occ}
H1B H 0.0 -0.18 0.0 {occ}
"""


def test_a_disordered_cif_is_refused_in_one_line_and_an_ordered_one_read(tmp_path, data_dir):
    """Partial occupancies (two alternative H positions at 0.5) would be read as two full atoms: refused, naming
    the file and the sites; the same file at occupancy 1 and the bundled hexane CIF read as crystals."""
    bad = tmp_path / "disordered.cif"
    bad.write_text(_DISORDERED_CIF.format(occ="0.5"))
    with pytest.raises(InputFormatError, match=r"disordered.cif: 2 site\(s\) with partial occupancy \(H 0.5, H 0.5\)"):
        read_structure(bad)
    good = tmp_path / "ordered.cif"
    good.write_text(_DISORDERED_CIF.format(occ="1.0"))
    assert read_structure(good).is_crystal and read_structure(good).n_atoms == 4
    assert read_structure(data_dir / "hexane" / "hexane_crystal.cif").n_atoms == 20
