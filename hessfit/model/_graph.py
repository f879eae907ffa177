"""Padded molecular graphs: several molecules packed into one graph of static shape.

A `Graph` holds the atoms of one or more molecules concatenated, padded to a size bucket so that
compiled functions are reused across molecules of different sizes. Padding atoms have ``node_mask``
False and no edges; padding edges have ``edge_mask`` False and contribute exactly nothing.
Neighbour lists are built in numpy, outside jit, at the input geometry; because every pair term vanishes
with two derivatives at the cutoff, energies, forces and Hessians at that geometry are exact.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import numpy as np

from hessfit.errors import ValidationError

#: padded atom counts (total atoms in a graph) and padded edge counts are rounded up to these buckets
_ATOM_BUCKETS = (8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024)


def bucket_atoms(n: int) -> int:
    """Smallest atom bucket >= n (multiples of 256 beyond the table)."""
    for b in _ATOM_BUCKETS:
        if n <= b:
            return b
    return int(np.ceil(n / 256) * 256)


def bucket_edges(n: int) -> int:
    """Edge bucket >= n: steps of ~12.5 % rounded to multiples of 64."""
    if n <= 64:
        return 64
    b = 64
    while b < n:
        b = int(np.ceil(b * 1.125 / 64) * 64)
    return b


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Graph:
    """Padded graph of one or several molecules (all arrays numpy or jax).

    Attributes:
        species: (n_atoms_pad,) int32, species index (position in ModelConfig.elements); 0 for padding.
        node_mask: (n_atoms_pad,) bool, True for real atoms.
        senders: (n_edges_pad,) int32, edge source atom.
        receivers: (n_edges_pad,) int32, edge target atom.
        edge_mask: (n_edges_pad,) bool, True for real edges.
        shifts: (n_edges_pad, 3) float, Å, added to the edge vector r_receiver − r_sender: the lattice vector of
            the receiver's periodic image (zero in a molecule); an edge to an image moves with the atom, so the
            energy's second derivative is the Γ-point Hessian of the cell.
    """

    species: np.ndarray
    node_mask: np.ndarray
    senders: np.ndarray
    receivers: np.ndarray
    edge_mask: np.ndarray
    shifts: np.ndarray


def neighbour_pairs(positions: np.ndarray, cutoff_angstrom: float) -> tuple[np.ndarray, np.ndarray]:
    """Ordered pairs (i != j) closer than the cutoff. Returns senders, receivers (int32)."""
    pos = np.asarray(positions, float)
    if len(pos) <= 2000:
        d2 = np.sum((pos[:, None, :] - pos[None, :, :]) ** 2, axis=-1)
        close = d2 < cutoff_angstrom**2
        np.fill_diagonal(close, False)
        s, r = np.nonzero(close)
    else:  # large inputs: KD-tree
        from scipy.spatial import cKDTree

        pairs = cKDTree(pos).query_pairs(cutoff_angstrom, output_type="ndarray")
        s = np.concatenate([pairs[:, 0], pairs[:, 1]])
        r = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return s.astype(np.int32), r.astype(np.int32)


def periodic_neighbour_pairs(structure, cutoff_angstrom: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordered pairs of a crystal closer than the cutoff, periodic images included (ASE's neighbour list): senders,
    receivers (int32) and the shift (n_pairs, 3) Å of the receiver's image (an atom's own images included when
    the cell is shorter than the cutoff)."""
    from ase.neighborlist import neighbor_list

    i, j, shift = neighbor_list("ijS", structure.to_ase(), float(cutoff_angstrom), self_interaction=False)
    return i.astype(np.int32), j.astype(np.int32), np.asarray(shift, float) @ np.asarray(structure.cell, float)


def species_index(numbers: np.ndarray, elements: Sequence[int], *, name: str = "molecule") -> np.ndarray:
    """Map atomic numbers to species indices; raise ValidationError naming unknown elements."""
    from ase.data import chemical_symbols

    lookup = {z: k for k, z in enumerate(elements)}
    unknown = sorted({int(z) for z in numbers if int(z) not in lookup})
    if unknown:
        known = ", ".join(chemical_symbols[z] for z in elements)
        bad = ", ".join(chemical_symbols[z] if 0 < z < len(chemical_symbols) else str(z) for z in unknown)
        raise ValidationError(f"{name}: element(s) {bad} unknown to the model (trained on {known}); "
                              "use another Hessian source (e.g. --source xtb)")
    return np.array([lookup[int(z)] for z in numbers], np.int32)


@dataclasses.dataclass(frozen=True)
class PackedBatch:
    """Molecules packed into one padded graph, with the host-side bookkeeping to unpack results.

    Attributes:
        graph: the padded `Graph`.
        positions: (n_atoms_pad, 3) float64, Å (padding atoms at the origin).
        atom_offsets: (n_molecules + 1,) int, where each molecule's atoms start in the graph.
        slot: (n_atoms_pad,) int32, index of each atom inside its molecule (0 for padding).
    """

    graph: Graph
    positions: np.ndarray
    atom_offsets: np.ndarray
    slot: np.ndarray

    @property
    def n_molecules(self) -> int:
        return len(self.atom_offsets) - 1

    @property
    def max_atoms(self) -> int:
        return int(np.max(np.diff(self.atom_offsets)))


def molecule_index(batch: PackedBatch) -> np.ndarray:
    """(A,) int32 molecule index of each atom slot of a packed batch; padding atoms get ``n_molecules``."""
    mol = np.full(batch.graph.species.shape[0], batch.n_molecules, np.int32)
    for k, (a, b) in enumerate(zip(batch.atom_offsets[:-1], batch.atom_offsets[1:])):
        mol[a:b] = k
    return mol


def group_by_size(sizes: Sequence[int], max_atoms: int) -> list[list[int]]:
    """Greedy packing of molecules (atom counts ``sizes``), smallest first, into groups of ≤ ``max_atoms`` atoms
    (a molecule larger than ``max_atoms`` gets a group of its own). Returns lists of input indices."""
    groups, current, atoms = [], [], 0
    for i in np.argsort(np.asarray(sizes), kind="stable"):
        n = int(sizes[i])
        if current and atoms + n > max_atoms:
            groups.append(current)
            current, atoms = [], 0
        current.append(int(i))
        atoms += n
    if current:
        groups.append(current)
    return groups


def pack(species_list: Sequence[np.ndarray], positions_list: Sequence[np.ndarray], *, cutoff_angstrom: float,
         n_atoms_pad: int | None = None, n_edges_pad: int | None = None,
         pairs_list: Sequence[tuple[np.ndarray, ...]] | None = None) -> PackedBatch:
    """Pack molecules (species indices, positions in Å) into one padded graph.

    ``pairs_list``: per molecule (senders, receivers) or, for a crystal, (senders, receivers, shifts Å)
    (`periodic_neighbour_pairs`); default `neighbour_pairs` (no images). Sizes default to the buckets of the
    totals; given sizes must be large enough (ValidationError if not).
    """
    n_list = [len(s) for s in species_list]
    total_atoms = int(sum(n_list))
    if pairs_list is None:
        pairs_list = [neighbour_pairs(p, cutoff_angstrom) for p in positions_list]
    total_edges = int(sum(len(pairs[0]) for pairs in pairs_list))
    # at least one padding atom: padding edges point at it
    n_atoms_pad = n_atoms_pad or bucket_atoms(total_atoms + 1)
    n_edges_pad = n_edges_pad or bucket_edges(total_edges)
    if total_atoms + 1 > n_atoms_pad or total_edges > n_edges_pad:
        raise ValidationError(f"batch of {total_atoms} atoms / {total_edges} edges does not fit the padded "
                              f"shape {n_atoms_pad - 1} atoms / {n_edges_pad} edges")
    offsets = np.concatenate([[0], np.cumsum(n_list)]).astype(np.int64)
    species = np.zeros(n_atoms_pad, np.int32)
    node_mask = np.zeros(n_atoms_pad, bool)
    positions = np.zeros((n_atoms_pad, 3))
    slot = np.zeros(n_atoms_pad, np.int32)
    senders = np.full(n_edges_pad, n_atoms_pad - 1, np.int32)
    receivers = np.full(n_edges_pad, n_atoms_pad - 1, np.int32)
    edge_mask = np.zeros(n_edges_pad, bool)
    shifts = np.zeros((n_edges_pad, 3))
    e = 0
    for k, (sp, pos, pairs) in enumerate(zip(species_list, positions_list, pairs_list)):
        s, r = pairs[0], pairs[1]
        if len(pairs) > 2:
            shifts[e:e + len(s)] = pairs[2]
        a, b = offsets[k], offsets[k + 1]
        species[a:b] = sp
        node_mask[a:b] = True
        positions[a:b] = pos
        slot[a:b] = np.arange(b - a)
        senders[e:e + len(s)] = s + a
        receivers[e:e + len(s)] = r + a
        edge_mask[e:e + len(s)] = True
        e += len(s)
    return PackedBatch(Graph(species, node_mask, senders, receivers, edge_mask, shifts), positions, offsets, slot)
