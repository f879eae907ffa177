"""X-ray hydrogen positions: detection against real geometries (X-ray cut, DFT and force-field minima) and
normalisation to neutron X–H lengths, checked by direct geometry (lengths, unchanged directions and atoms),
in a molecule and across a crystal's cell boundary."""

import warnings

import numpy as np
import pytest

from hessfit.structures import (NEUTRON_XH_ANGSTROM, HessfitWarning, Structure, hydrogen_bonds, normalize_hydrogens,
                                read_structure, short_hydrogen_bonds, warn_hydrogen_positions)
from hessfit.structures import standard_mass


def _structure(numbers, positions, **kw):
    numbers = np.asarray(numbers)
    return Structure(numbers, np.asarray(positions, float), np.array([standard_mass(int(z)) for z in numbers]), **kw)


def _water_methanol_hydrogen_sulfide():
    """Water with O–H 0.85 Å, a C–H of 0.95 Å and an N–H of 0.87 Å (X-ray-like), and an S–H of 1.20 Å, far apart."""
    return _structure([8, 1, 1, 6, 1, 7, 1, 16, 1], [
        [0, 0, 0], [0.85, 0, 0], [0, 0.85 * np.cos(0.3), 0.85 * np.sin(0.3)],
        [10, 0, 0], [10, 0.95, 0],
        [0, 10, 0], [0, 10, 0.87],
        [0, 0, 10], [1.2, 0, 10]])


def test_normalisation_sets_each_bond_to_its_neutron_length_along_its_own_direction():
    s = _water_methanol_hydrogen_sulfide()
    n = normalize_hydrogens(s)
    by_h = {b.hydrogen: b for b in hydrogen_bonds(s)}
    assert sorted(by_h) == [1, 2, 4, 6]  # the S–H hydrogen has no C/N/O parent and is left alone
    for h, b in by_h.items():
        d = n.positions[h] - n.positions[b.parent]
        assert np.linalg.norm(d) == pytest.approx(NEUTRON_XH_ANGSTROM[int(s.numbers[b.parent])], abs=1e-12)
        np.testing.assert_allclose(d / np.linalg.norm(d), b.vector / b.length, atol=1e-12)
    heavy_and_sh = [0, 3, 5, 7, 8]
    np.testing.assert_array_equal(n.positions[heavy_and_sh], s.positions[heavy_and_sh])
    np.testing.assert_array_equal(n.masses, s.masses)
    assert np.linalg.norm(n.positions[1] - n.positions[0]) == pytest.approx(0.993)  # O–H
    np.testing.assert_allclose(normalize_hydrogens(n).positions, n.positions, atol=1e-12)  # idempotent
    assert short_hydrogen_bonds(n) == []


def test_short_bonds_are_those_of_the_x_ray_cut_and_not_of_dft_or_force_field_minima(data_dir):
    xray = read_structure(data_dir / "hexane" / "hexane.xyz")
    assert len(short_hydrogen_bonds(xray)) == 14  # all of them: C–H 0.956–0.991 Å
    minima = [data_dir / "hexane" / f for f in ("hexane_rdkit_mmff.xyz", "hexane_gfn2_molecule_opt.xyz")]
    minima += sorted((data_dir / "qm9").glob("*.xyz")) + [data_dir / "sucrose" / "sucrose.xyz"]
    for path in minima:  # B3LYP, GFN2-xTB and MMFF94 minima, with C–H, N–H and O–H bonds
        s = read_structure(path)
        assert hydrogen_bonds(s) and short_hydrogen_bonds(s) == [], path.name


def test_the_warning_names_the_bond_furthest_below_its_length_once():
    s = _water_methanol_hydrogen_sulfide()
    with pytest.warns(HessfitWarning, match=r"4 X–H bond\(s\) .*worst N–H 0.870 Å, expected 1.015") as rec:
        assert warn_hydrogen_positions(s)
    assert len(rec) == 1 and "--normalize-h" in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_hydrogen_positions(normalize_hydrogens(s))


def test_a_bond_across_the_cell_boundary_is_found_and_normalised_by_minimum_image():
    cell = np.diag([6.0, 7.0, 8.0])
    # carbon near x = 0, its hydrogen 0.95 Å away through the x boundary (stored at x = 5.25 + 0.75 wrapped)
    s = _structure([6, 1], [[0.2, 3.0, 4.0], [5.25, 3.0, 4.0]], cell=cell, pbc=np.array([True, True, True]))
    (b,) = hydrogen_bonds(s)
    assert b.length == pytest.approx(0.95) and b.vector[0] == pytest.approx(-0.95)
    n = normalize_hydrogens(s)
    np.testing.assert_allclose(n.positions[1], [0.2 - 1.089 + 6.0, 3.0, 4.0], atol=1e-12)  # away from the C, same image
    np.testing.assert_array_equal(n.cell, cell)


def test_carbon_without_any_hydrogen_is_warned_about():
    """A CIF whose hydrogens were left out reads as a hydrogen-free molecule: one warning line; a single carbon
    (CO2), a perhalogenated molecule or a molecule with hydrogens does not warn."""
    ethane_no_h = _structure([6, 6], [[0, 0, 0], [1.54, 0, 0]], name="ethane_skeleton")
    with pytest.warns(HessfitWarning, match="ethane_skeleton: 2 carbon atoms and no hydrogen"):
        assert warn_hydrogen_positions(ethane_no_h)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_hydrogen_positions(_structure([8, 6, 8], [[-1.16, 0, 0], [0, 0, 0], [1.16, 0, 0]]))
        assert not warn_hydrogen_positions(_structure([6, 6, 17, 17, 17, 17], [  # C2Cl4 has no H by nature
            [0, 0, 0], [1.35, 0, 0], [-0.9, 1.4, 0], [-0.9, -1.4, 0], [2.25, 1.4, 0], [2.25, -1.4, 0]]))
        assert not warn_hydrogen_positions(normalize_hydrogens(_water_methanol_hydrogen_sulfide()))
