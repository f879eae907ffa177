"""Normal modes of a crystal at Γ of its cell (or of a supercell: its commensurate q-points).

A periodic solid has three zero-frequency modes at Γ, the uniform (acoustic) translations; rotations
are not zero modes. `translation_basis` spans the mass-weighted uniform translations √m_i ê_k exactly;
`crystal_basis` is its orthonormal complement (3N−3 columns), and diagonalising the Hessian in it gives
exactly 3N−3 modes, whatever the acoustic-sum-rule error of the force constants. The Γ modes of an
n1×n2×n3 supercell are the modes of the primitive cell at the q-points q = (k1/n1, k2/n2, k3/n3)
(reciprocal lattice units), so a supercell samples the phonon dispersion on that mesh.

`lattice_character` measures how much of each mode is a rigid-molecule motion: the mass-weighted
eigenvector is projected on each molecule's three translations and three rotations (about its centre of
mass, from the unwrapped positions); modes with most of their weight there are external (lattice) modes,
translational or librational.
"""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np

from hessfit._precision import float64
from hessfit.modes._solve import modes_from_hessian, orthogonal_complement
from hessfit.structures import HessfitWarning, validate_hessian

#: modes below −this (cm⁻¹) count as imaginary in warnings (tiny negatives are numerical noise of zero modes)
IMAGINARY_TOL_CM1 = 1.0


def translation_basis(masses: np.ndarray) -> np.ndarray:
    """(3N, 3) orthonormal mass-weighted uniform translations √m_i ê_k / √Σm."""
    masses = np.asarray(masses, float)
    sqm = np.sqrt(masses) / np.sqrt(masses.sum())
    t = np.zeros((len(masses), 3, 3))
    for k in range(3):
        t[:, k, k] = sqm
    return t.reshape(-1, 3)


def interacting_groups(hessians) -> np.ndarray:
    """(N,) labels of the groups of atoms that ``hessians`` (each (3N, 3N)) couple: atoms i and j share a group
    when a chain of non-zero off-diagonal blocks of any of them joins them (separate molecules: separate groups)."""
    from scipy.sparse.csgraph import connected_components

    n = np.asarray(hessians[0]).shape[0] // 3
    coupled = sum(np.abs(np.asarray(h, float)).reshape(n, 3, n, 3).max(axis=(1, 3)) > 0 for h in hessians)
    return connected_components(np.asarray(coupled) > 0, directed=False)[1]


def group_translation_basis(groups) -> np.ndarray:
    """(3N, 3G) orthonormal Cartesian translations of each group of atoms (``groups``: (N,) labels 0..G−1), e.g.
    of `interacting_groups`; 1 − T Tᵀ projects them out, leaving groups that do not interact uncoupled."""
    groups = np.asarray(groups)
    n, g = len(groups), int(groups.max()) + 1
    t = np.zeros((n, 3, g, 3))
    for c in range(g):
        members = groups == c
        t[members, :, c, :] = np.eye(3) / np.sqrt(members.sum())
    return t.reshape(3 * n, 3 * g)


def sum_rule_hessian(off_blocks, translations, xp=np):
    """The Hessian (3N, 3N) whose off-diagonal atom-pair blocks are ``off_blocks`` ((N, 3, N, 3), diagonal blocks
    zero): diagonal blocks H_ii = −Σ_{j≠i} H_ij, symmetrised, then P H P with P = 1 − T Tᵀ (``translations`` T,
    (3N, 3G) orthonormal, e.g. `group_translation_basis`). Symmetrising H_ii leaves the antisymmetric part of
    Σ_j H_ij (zero for blocks of a rotationally invariant Hessian); the projection removes it, so the result is
    symmetric and obeys the sum rule exactly. ``xp``: numpy or jax.numpy (differentiable)."""
    n = off_blocks.shape[0]
    diag = -off_blocks.sum(axis=2)
    diag = 0.5 * (diag + xp.swapaxes(diag, 1, 2))
    full = (off_blocks + xp.einsum("iab,ij->iajb", diag, xp.eye(n))).reshape(3 * n, 3 * n)
    full = 0.5 * (full + full.T)
    t = translations
    ht = full @ t
    return full - t @ (t.T @ full) - ht @ t.T + t @ (t.T @ ht) @ t.T


def crystal_basis(masses: np.ndarray) -> np.ndarray:
    """Orthonormal basis (3N, 3N−3) of the mass-weighted space orthogonal to the uniform translations."""
    return orthogonal_complement(translation_basis(masses))


def acoustic_sum_rule_error(hessian: np.ndarray) -> float:
    """max_i,a |Σ_j H_(ia),(jb)| in eV/Å²: how far the force constants are from translational invariance."""
    h = np.asarray(hessian, float)
    n = h.shape[0] // 3
    return float(np.abs(h.reshape(n, 3, n, 3).sum(axis=2)).max())


@float64
def crystal_modes(structure, hessian, *, warn: bool = True):
    """Γ normal modes (3N−3, acoustic translations removed) of a crystal; warns loudly on imaginary modes."""
    hessian = validate_hessian(hessian, n_atoms=structure.n_atoms, source=f"Hessian of {structure.name}")
    modes = modes_from_hessian(jnp.asarray(hessian), jnp.asarray(structure.masses),
                               jnp.asarray(crystal_basis(structure.masses)))
    if warn:
        warn_imaginary(structure.name, np.asarray(modes.frequencies_cm1))
    return modes


def warn_imaginary(name: str, frequencies_cm1: np.ndarray, *, stacklevel: int = 3) -> int:
    """Warn (HessfitWarning) when modes are imaginary below −IMAGINARY_TOL_CM1; returns their number."""
    f = np.asarray(frequencies_cm1)
    n_imag = int(np.sum(f < -IMAGINARY_TOL_CM1))
    if n_imag:
        warnings.warn(f"{name}: {n_imag} imaginary mode(s) (lowest {f.min():.1f} cm⁻¹): the structure is not at a "
                      "minimum of these force constants (or the cell/supercell is unstable); they are excluded from "
                      "spectra", HessfitWarning, stacklevel=stacklevel)
    return n_imag


def lattice_character(structure, modes, *, assignment=None) -> dict[str, np.ndarray]:
    """Fractions (M,) of each mode's mass-weighted norm in rigid-molecule translations and rotations.

    Returns ``{"translation": (M,), "rotation": (M,), "label": (M,) str}`` with labels 'translational',
    'librational' (external weight > 0.5, whichever part is larger) or 'internal'.
    """
    from hessfit.modes._solve import rigid_body_basis
    from hessfit.structures import find_molecules, make_whole

    if structure.is_crystal:
        assignment = assignment or find_molecules(structure)
        whole = make_whole(structure, assignment=assignment)
        groups = [assignment.members(k) for k in range(assignment.n_molecules)]
        pos = whole.positions
    else:
        groups = [np.arange(structure.n_atoms)]
        pos = structure.positions
    vec = np.asarray(modes.vectors).reshape(np.asarray(modes.vectors).shape[0], -1)
    trans = np.zeros(vec.shape[0])
    rot = np.zeros(vec.shape[0])
    for idx in groups:
        cols = (3 * idx[:, None] + np.arange(3)[None, :]).ravel()
        m = structure.masses[idx]
        t = translation_basis(m)
        rb = rigid_body_basis(pos[idx], m) if len(idx) > 1 else t
        r = rb - t @ (t.T @ rb)  # rotations orthogonal to translations
        u, s, _ = np.linalg.svd(r, full_matrices=False)
        r = u[:, s > 1e-6 * max(s.max(), 1e-300)] if s.size else r
        sub = vec[:, cols]
        trans += np.sum((sub @ t) ** 2, axis=1)
        rot += np.sum((sub @ r) ** 2, axis=1) if r.size else 0.0
    label = np.where(trans + rot > 0.5, np.where(trans >= rot, "translational", "librational"), "internal")
    return {"translation": trans, "rotation": rot, "label": label}
