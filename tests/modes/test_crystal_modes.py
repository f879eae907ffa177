"""Crystal normal modes at Γ of a supercell against closed-form phonon dispersions."""

from __future__ import annotations

import numpy as np
import pytest

from hessfit.modes import normal_modes
from hessfit.modes import acoustic_sum_rule_error, crystal_basis, crystal_modes, lattice_character
from hessfit.structures import HessfitWarning, Structure
from tests.ins.crystal_models import diatomic_chain, simple_cubic


def test_diatomic_chain_supercell_modes_are_the_dispersion_at_commensurate_q():
    s, h, ref = diatomic_chain(5, m1=1.008, m2=12.011)
    assert acoustic_sum_rule_error(h) < 1e-12
    m = normal_modes(s, h)  # dispatches on is_crystal: only the 3 acoustic translations removed
    assert m.n_modes == 3 * s.n_atoms - 3 == ref.size
    np.testing.assert_allclose(np.asarray(m.frequencies_cm1), ref, rtol=1e-9, atol=1e-6)
    # the same atoms treated as a (linear) molecule lose 5 modes: a different, wrong answer for a crystal
    mol = Structure(s.numbers, s.positions, s.masses, name="as molecule")
    assert normal_modes(mol, h).n_modes == 3 * s.n_atoms - 5


def test_simple_cubic_supercell_and_basis():
    s, h, ref = simple_cubic(3)
    m = crystal_modes(s, h)
    np.testing.assert_allclose(np.asarray(m.frequencies_cm1), ref, rtol=1e-9)
    b = crystal_basis(s.masses)
    np.testing.assert_allclose(b.T @ b, np.eye(b.shape[1]), atol=1e-12)
    t = np.zeros((s.n_atoms, 3))
    t[:, 0] = np.sqrt(s.masses)
    assert np.abs(b.T @ t.ravel()).max() < 1e-12  # uniform translations projected out exactly
    v = np.asarray(m.vectors).reshape(m.n_modes, -1)
    np.testing.assert_allclose(v @ v.T, np.eye(m.n_modes), atol=1e-10)


def test_imaginary_modes_warn_loudly():
    s, h, _ = simple_cubic(2)
    h = h - np.kron(np.eye(s.n_atoms), np.eye(3)) * 0.5  # on-site softening: unstable at Γ
    with pytest.warns(HessfitWarning, match="imaginary"):
        crystal_modes(s, h)


def test_lattice_character_of_a_rigid_molecule_crystal():
    """Two C2 dimers per cell coupled by weak springs; 12 − 3 = 9 modes, classified exactly.

    The intra-dimer spring is 30 eV/Å² along the bond and 20 eV/Å² across it, so each dimer has one
    stretch (internal: orthogonal to its rigid motions) and two stiff rotations (librational); the
    relative translation of the two dimers gives 3 soft translational modes.
    """
    from tests.ins.crystal_models import dimer_crystal

    s, h_intra, h_inter = dimer_crystal(0.02)
    m = crystal_modes(s, h_intra + h_inter)
    ch = lattice_character(s, m)
    labels = list(ch["label"])
    assert (labels.count("translational"), labels.count("librational"), labels.count("internal")) == (3, 4, 2)
    np.testing.assert_allclose(ch["translation"][:3], 1.0, atol=1e-9)  # the 3 softest: pure translations
    internal = [i for i, lab in enumerate(labels) if lab == "internal"]
    np.testing.assert_allclose((ch["translation"] + ch["rotation"])[internal], 0.0, atol=1e-3)
