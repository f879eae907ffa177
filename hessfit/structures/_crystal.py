"""Crystals: cell validation, molecules identified by bonding across periodic boundaries, unwrapping, supercells.

A `Structure` with a ``cell`` (3×3, lattice vectors as rows, Å) and ``pbc`` is a crystal. Bonds are
found with ASE's periodic neighbour list (covalent radii × ``bond_scale``, default 1.2, ASE's
``natural_cutoffs`` convention); each bonded cluster is a molecule. Unwrapping follows the bonds
breadth-first and moves every atom to the image bonded to its neighbour, so each molecule is whole
(contiguous in Cartesian space) with its centre of mass inside the cell. A cluster that is bonded to its
own periodic image (a polymer, a framework) is reported as ``extended``: it cannot be made whole.
"""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np

from hessfit.errors import InputFormatError, ValidationError
from hessfit.structures._internal import BOND_SCALE

#: default multiplier of the sum of covalent radii that defines a bond


def check_cell(cell, pbc, name: str = "structure") -> tuple[np.ndarray, np.ndarray]:
    """Validate a cell (3×3 rows, Å) and pbc flags; returns float (3, 3) and bool (3,) arrays."""
    cell = np.asarray(cell, float)
    if cell.shape != (3, 3):
        raise ValidationError(f"{name}: cell has shape {cell.shape}, expected (3, 3) lattice vectors in Å")
    if not np.all(np.isfinite(cell)):
        raise ValidationError(f"{name}: cell contains NaN or inf")
    volume = abs(float(np.linalg.det(cell)))
    if volume < 1e-6:
        raise ValidationError(f"{name}: cell is singular (volume {volume:.3g} Å³)")
    pbc = np.ones(3, bool) if pbc is None else np.broadcast_to(np.asarray(pbc, bool), (3,)).copy()
    return cell, pbc


def require_crystal(structure, what: str = "this command") -> None:
    """Raise one clear line when ``structure`` has no periodic cell."""
    if not getattr(structure, "is_crystal", False):
        raise InputFormatError(f"{structure.name}: not a periodic structure (no lattice); {what} needs a crystal "
                               "file (CIF, POSCAR, extended XYZ with Lattice=, FHI-aims geometry.in)")


@dataclasses.dataclass(frozen=True)
class MoleculeAssignment:
    """Molecules of a crystal.

    Attributes:
        labels: (N,) int, molecule index of every atom (0 … n_molecules−1, in order of first atom).
        images: (N, 3) int, lattice translation (in cell vectors) that makes each molecule whole.
        extended: (n_molecules,) bool, True for clusters bonded to their own periodic image.
        bonds: (K, 2) int, bonded atom pairs i < j (any image).
    """

    labels: np.ndarray
    images: np.ndarray
    extended: np.ndarray
    bonds: np.ndarray

    @property
    def n_molecules(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0

    def members(self, k: int) -> np.ndarray:
        return np.flatnonzero(self.labels == k)


def find_molecules(structure, *, bond_scale: float = BOND_SCALE) -> MoleculeAssignment:
    """Bonded clusters of a crystal (or a molecule: one cluster per fragment), across periodic boundaries."""
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    atoms = structure.to_ase()
    radii = covalent_radii[structure.numbers] * bond_scale
    i_idx, j_idx, shifts = neighbor_list("ijS", atoms, radii.tolist(), self_interaction=False)
    n = structure.n_atoms
    adjacency: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(n)]
    for i, j, s in zip(i_idx, j_idx, shifts):
        adjacency[i].append((int(j), np.asarray(s, int)))
    labels = -np.ones(n, int)
    images = np.zeros((n, 3), int)
    extended = []
    for start in range(n):
        if labels[start] >= 0:
            continue
        k = len(extended)
        labels[start] = k
        ext = False
        queue = deque([start])
        while queue:
            i = queue.popleft()
            for j, s in adjacency[i]:
                image = images[i] + s
                if labels[j] < 0:
                    labels[j] = k
                    images[j] = image
                    queue.append(j)
                elif not np.array_equal(images[j], image):
                    ext = True  # bonded to a periodic image of itself
        extended.append(ext)
    pairs = np.array(sorted({(min(i, j), max(i, j)) for i, j in zip(i_idx, j_idx)}), int).reshape(-1, 2)
    return MoleculeAssignment(labels=labels, images=images, extended=np.array(extended, bool), bonds=pairs)


def make_whole(structure, *, bond_scale: float = BOND_SCALE, assignment: MoleculeAssignment | None = None):
    """Crystal with every molecule whole and its centre of mass wrapped into the cell (same atom order).

    Extended clusters (bonded to their own image) are left as found. Molecules stay unchanged.
    """
    if not structure.is_crystal:
        return structure
    assignment = assignment or find_molecules(structure, bond_scale=bond_scale)
    cell = structure.cell
    pos = structure.positions + assignment.images @ cell
    for k in range(assignment.n_molecules):
        idx = assignment.members(k)
        if assignment.extended[k]:
            pos[idx] = structure.positions[idx]
            continue
        m = structure.masses[idx]
        com = (m[:, None] * pos[idx]).sum(0) / m.sum()
        frac = np.linalg.solve(cell.T, com)
        shift = np.where(structure.pbc, np.floor(frac), 0.0)
        pos[idx] -= shift @ cell
    return dataclasses.replace(structure, positions=pos)


def supercell(structure, repetitions) -> "object":
    """Repeat a crystal n1×n2×n3 times; atom order: all atoms of image (0,0,0), then (0,0,1), … (ASE's order)."""
    reps = tuple(int(r) for r in np.broadcast_to(np.asarray(repetitions, int), (3,)))
    if min(reps) < 1:
        raise ValidationError(f"{structure.name}: supercell repetitions must be ≥ 1, got {reps}")
    if not structure.is_crystal:
        raise InputFormatError(f"{structure.name}: not a periodic structure (no lattice); cannot build a supercell")
    shifts = np.array([(a, b, c) for a in range(reps[0]) for b in range(reps[1]) for c in range(reps[2])], float)
    pos = (shifts @ structure.cell)[:, None, :] + structure.positions[None, :, :]
    n_img = len(shifts)
    return dataclasses.replace(
        structure, numbers=np.tile(structure.numbers, n_img), positions=pos.reshape(-1, 3),
        masses=np.tile(structure.masses, n_img), cell=structure.cell * np.asarray(reps, float)[:, None],
        name=f"{structure.name}_{reps[0]}x{reps[1]}x{reps[2]}")


def describe_structure(structure, *, assignment: MoleculeAssignment | None = None) -> str:
    """One line: 'crystal: N atoms, M molecules (…)' or 'molecule: N atoms (formula)'."""
    if not structure.is_crystal:
        return f"molecule: {structure.n_atoms} atoms ({structure.formula})"
    assignment = assignment or find_molecules(structure)
    n_ext = int(assignment.extended.sum())
    a, b, c = np.linalg.norm(structure.cell, axis=1)
    ext = f", {n_ext} extended (polymeric) cluster(s)" if n_ext else ""
    return (f"crystal: {structure.n_atoms} atoms, {assignment.n_molecules} molecules{ext} ({structure.formula}; "
            f"cell {a:.3f} × {b:.3f} × {c:.3f} Å, volume {abs(np.linalg.det(structure.cell)):.1f} Å³)")


def split_intermolecular(structure, hessian, *, assignment: MoleculeAssignment | None = None):
    """(intramolecular, intermolecular) parts of a crystal's Γ-point Hessian (3N, 3N) eV/Å², H = H_intra + H_inter.

    H_inter holds the blocks between atoms of different molecules, with diagonal blocks −sym Σ_{j ∉ mol(i)} H_ij,
    projected free of the crystal's uniform translations (P H_inter P, as the class recipe does): both parts are
    symmetric and obey the translational sum rule Σ_j H_ij = 0 exactly, so scaling H_inter keeps the three
    acoustic modes at zero. For a molecule (no cell) H_inter is zero. A Γ-point Hessian
    folds every periodic image of atom j onto j, so the couplings of a molecule with its *own* images (a cell, or
    a supercell direction, one molecule thick) stay in the intramolecular part.
    """
    h = np.asarray(hessian, float)
    n = structure.n_atoms
    if not structure.is_crystal:
        return h.copy(), np.zeros_like(h)
    labels = (assignment or find_molecules(structure)).labels
    other = labels[:, None] != labels[None, :]  # (N, N)
    blocks = h.reshape(n, 3, n, 3) * other[:, None, :, None]
    diag = -blocks.sum(axis=2)  # (N, 3, 3)
    diag = 0.5 * (diag + np.swapaxes(diag, 1, 2))
    blocks[np.arange(n), :, np.arange(n), :] = diag
    t = np.kron(np.ones((n, 1)), np.eye(3)) / np.sqrt(n)  # uniform translations, orthonormal columns
    p = np.eye(3 * n) - t @ t.T
    inter = p @ blocks.reshape(3 * n, 3 * n) @ p
    return h - inter, inter
