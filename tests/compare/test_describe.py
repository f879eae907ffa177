"""Internal coordinates, Wilson B matrix, potential-energy distribution and plain-language mode descriptions."""

from __future__ import annotations

import numpy as np
import pytest

from hessfit.compare import describe_modes, potential_energy_distribution
from hessfit.structures import Structure, atom_groups, bonds_from_radii, internal_coordinates, wilson_b


def test_hexane_topology(hexane):
    s, _ = hexane
    assert len(bonds_from_radii(s)) == 19
    names = [g[0] for g in atom_groups(s)]
    assert names == ["CH3(C1)", "CH2(C2)", "CH2(C3)", "CH2(C4)", "CH2(C5)", "CH3(C6)"]
    coords = internal_coordinates(s)
    kinds = {k: sum(c.kind == k for c in coords) for k in ("stretch", "bend", "torsion", "out-of-plane")}
    assert kinds == {"stretch": 19, "bend": 36, "torsion": 5, "out-of-plane": 0}
    assert {c.category for c in coords if c.kind == "torsion"} == {"CH3 torsion", "C–C torsion"}


def test_wilson_b_is_exact_and_rigid_invariant(hexane):
    s, _ = hexane
    coords = internal_coordinates(s)
    b = wilson_b(s, coords)
    i, j = coords[0].atoms
    u = (s.positions[j] - s.positions[i]) / np.linalg.norm(s.positions[j] - s.positions[i])
    np.testing.assert_allclose(b[0, 3 * j:3 * j + 3], u, atol=1e-8)
    np.testing.assert_allclose(b[0, 3 * i:3 * i + 3], -u, atol=1e-8)
    t = np.tile([0.3, -0.2, 0.5], s.n_atoms)                           # translation
    w = np.cross([0.1, 0.7, -0.2], s.positions - s.positions.mean(0)).reshape(-1)   # small rotation
    assert np.max(np.abs(b @ t)) < 1e-8 and np.max(np.abs(b @ w)) < 1e-7


def test_ped_rows_and_descriptions(hexane, hexane_modes):
    s, h = hexane
    ped = potential_energy_distribution(s, h, hexane_modes)
    np.testing.assert_allclose(ped.sum(1), 1.0, atol=1e-12)
    assert np.all(ped >= 0)
    text = describe_modes(s, h, hexane_modes)
    f = np.asarray(hexane_modes.frequencies_cm1)
    assert len(text) == f.size
    for freq, d in zip(f, text):
        if freq > 2800:
            assert d.startswith("C–H stretch"), d
        if 1435 < freq < 1500:
            assert "H–C–H bend" in d, d                               # CH2/CH3 scissors
    assert "torsion" in text[0] and "CH3 torsion" in text[4]           # 87 cm⁻¹ skeletal, 258 cm⁻¹ methyl
    assert "moving: CH3(C1)" in text[4] and "CH3(C6)" in text[4]


def test_planar_molecule_gets_out_of_plane_coordinates():
    # formaldehyde, planar: the C centre has 3 neighbours in a plane
    s = Structure.from_numbers([6, 8, 1, 1], [[0, 0, 0], [0, 0, 1.21], [0, 0.94, -0.54], [0, -0.94, -0.54]])
    coords = internal_coordinates(s)
    assert sum(c.kind == "out-of-plane" for c in coords) == 3
    assert {c.category for c in coords if c.kind == "stretch"} == {"C=O stretch", "C–H stretch (CH2)"}
    b = wilson_b(s, coords)
    assert np.all(np.isfinite(b))


def test_isolated_atoms_do_not_crash():
    s = Structure.from_numbers([18, 18], [[0, 0, 0], [0, 0, 5.0]])
    assert internal_coordinates(s) == [] and wilson_b(s, []).shape == (0, 6)
