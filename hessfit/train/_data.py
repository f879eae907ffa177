"""Training data: the seeded split, per-molecule preprocessing, packing into padded batches with probes.

Besides the Rademacher probes (an unbiased estimate of the per-element Hessian error), a batch can carry one
*soft-mode probe* per molecule: a random ±1 combination of the molecule's reference low-frequency normal modes,
weighted so that the loss term estimates the squared frequency error of those modes (see `SoftModeSettings`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import numpy as np

from hessfit.model._graph import Graph, bucket_atoms, bucket_edges, neighbour_pairs, pack, species_index
from hessfit.units import FREQ_FACTOR_EV_A2


def split_indices(n: int, *, seed: int, fractions: Sequence[float] = (0.9, 0.05, 0.05)) -> dict[str, np.ndarray]:
    """Seeded random split of range(n) into train/val/test (sorted index arrays)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(fractions[1] * n))
    n_test = int(round(fractions[2] * n))
    n_train = n - n_val - n_test
    return {"train": np.sort(perm[:n_train]), "val": np.sort(perm[n_train:n_train + n_val]),
            "test": np.sort(perm[n_train + n_val:])}


@dataclasses.dataclass(frozen=True, eq=False)
class MoleculeSet:
    """Preprocessed molecules: species indices, positions (Å), neighbour pairs, Hessians (float32, eV/Å²).

    ``soft`` (optional): per molecule a `SoftModes` of its reference low-frequency modes.
    """

    indices: np.ndarray  # (M,) dataset indices
    species: list
    positions: list
    pairs: list
    hessians: list
    soft: list | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def n_atoms(self, k: int) -> int:
        return len(self.species[k])

    def n_edges(self, k: int) -> int:
        return len(self.pairs[k][0])


@dataclasses.dataclass(frozen=True)
class SoftModeSettings:
    """Which reference modes the soft-mode probe samples, and its frequency floor.

    Attributes:
        max_cm1: modes with reference frequency below this (cm⁻¹) are "soft".
        floor_cm1: frequencies are floored at this value (cm⁻¹) in the weights 1/√(2ω), so that nearly
            free rotors do not dominate.
        max_modes: at most this many (the lowest) soft modes per molecule.
    """

    max_cm1: float = 500.0
    floor_cm1: float = 50.0
    max_modes: int = 24


@dataclasses.dataclass(frozen=True)
class SoftModes:
    """Reference soft modes of one molecule.

    Attributes:
        vectors: (3N, k) orthonormal mass-weighted eigenvectors of the reference Hessian.
        scaled: (3N, k) float64, ``vectors · w / √m``: column k is w_k u_k / √m (Cartesian), with
            w_k = 1/√(2 max(ω_k, ω_floor)) and ω in √(eV Å⁻² amu⁻¹).
    """

    vectors: np.ndarray
    scaled: np.ndarray


def soft_modes(positions: np.ndarray, masses: np.ndarray, hessian: np.ndarray,
               settings: SoftModeSettings) -> SoftModes:
    """The reference soft modes of one molecule (Hessian in eV/Å², masses in amu)."""
    from hessfit.modes._solve import internal_basis

    inv_sqrt_m = np.repeat(1.0 / np.sqrt(np.asarray(masses, float)), 3)
    d = 0.5 * (hessian + hessian.T) * inv_sqrt_m[:, None] * inv_sqrt_m[None, :]
    basis = internal_basis(positions, masses)
    lam, y = np.linalg.eigh(basis.T @ d @ basis)
    freqs = FREQ_FACTOR_EV_A2 * np.sign(lam) * np.sqrt(np.abs(lam))
    keep = np.nonzero(freqs < settings.max_cm1)[0][: settings.max_modes]
    u = basis @ y[:, keep]
    omega = np.maximum(np.abs(freqs[keep]), settings.floor_cm1) / FREQ_FACTOR_EV_A2
    scaled = u / np.sqrt(2.0 * omega)[None, :] * inv_sqrt_m[:, None]
    return SoftModes(u, scaled)


def prepare(dataset, indices: Sequence[int], *, elements: Sequence[int], cutoff_angstrom: float,
            soft: SoftModeSettings | None = None) -> MoleculeSet:
    """Preprocess molecules ``indices`` of a HessianDataset (with their soft modes when ``soft`` is given)."""
    from hessfit.structures._elements import standard_mass

    idx = np.asarray(indices, int)
    species, positions, pairs, hessians, softs = [], [], [], [], []
    for i in idx:
        z = dataset.numbers(i)
        species.append(species_index(z, elements, name=f"dataset molecule {i}"))
        pos = dataset.positions(i)
        positions.append(pos)
        pairs.append(neighbour_pairs(pos, cutoff_angstrom))
        h = dataset.hessian(i)
        hessians.append(h.astype(np.float32))
        if soft is not None:
            softs.append(soft_modes(pos, np.array([standard_mass(int(x)) for x in z]), np.asarray(h, float), soft))
    return MoleculeSet(idx, species, positions, pairs, hessians, softs if soft is not None else None)


@dataclasses.dataclass(frozen=True)
class Shapes:
    """Static padded shapes of training batches."""

    n_atoms_pad: int
    n_edges_pad: int


def batch_shapes(mols: MoleculeSet, max_atoms_per_batch: int) -> Shapes:
    """Padded shapes large enough for greedy packing of ``max_atoms_per_batch`` atoms."""
    max_atoms = max(max_atoms_per_batch, max(mols.n_atoms(k) for k in range(len(mols))))
    per_atom = max(mols.n_edges(k) / mols.n_atoms(k) for k in range(len(mols)))
    return Shapes(bucket_atoms(max_atoms + 1), bucket_edges(int(np.ceil(per_atom * max_atoms))))


def plan_batches(mols: MoleculeSet, order: Sequence[int], shapes: Shapes, max_atoms_per_batch: int) -> list[list[int]]:
    """Greedy packing of molecules (positions in ``mols``) in the given order into batches that fit."""
    batches, cur, atoms, edges = [], [], 0, 0
    cap_atoms = min(max_atoms_per_batch, shapes.n_atoms_pad - 1)
    for k in order:
        n, e = mols.n_atoms(k), mols.n_edges(k)
        if cur and (atoms + n > max(cap_atoms, n) or edges + e > shapes.n_edges_pad):
            batches.append(cur)
            cur, atoms, edges = [], 0, 0
        cur.append(int(k))
        atoms += n
        edges += e
    if cur:
        batches.append(cur)
    return batches


@dataclasses.dataclass(frozen=True)
class Batch:
    """One training step's arrays (numpy).

    Attributes:
        positions: (n_atoms_pad, 3) Å.
        graph: padded Graph.
        probes: (K, n_atoms_pad, 3) Rademacher ±1 on real atoms, 0 on padding.
        targets: (K, n_atoms_pad, 3) reference H·probe, eV/Å².
        weights: (n_atoms_pad,) 1 / ((3N)² · n_molecules) per atom of an N-atom molecule, 0 on padding.
        soft: the soft-mode probe (`SoftProbe`), or None.
    """

    positions: np.ndarray
    graph: Graph
    probes: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    soft: "SoftProbe | None" = None


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SoftProbe:
    """One soft-mode probe per molecule of a batch (numpy or jax arrays).

    With c a ±1 vector over the molecule's k soft modes, the probe is v = Σ_k c_k w_k u_k/√m (Cartesian) and
    the target H_ref·v. For the residual r = (H_pred − H_ref)·v the loss term is Σ_mol Σ_k g_k² with
    g = segment_sum(projection · r): g_k = s · w_k Σ_l δD_kl w_l c_l, where δD is the mass-weighted Hessian
    error in the soft-mode basis and s² = FREQ_FACTOR² / (100² · k · n_molecules). Since E[c cᵀ] = I,
    E[Σ_k g_k²] is the mean over soft modes of Σ_l (w_k δD_kl w_l)² in (100 cm⁻¹)²; its diagonal part
    (δλ_k / 2ω_k)² is the first-order squared frequency error of mode k.

    Attributes:
        probe, target: (n_atoms_pad, 3).
        projection: (n_atoms_pad, 3, k_max) s · w_k u_k/√m per atom, zero on padding and unused columns.
        molecule: (n_atoms_pad,) int32, index of the atom's molecule in the batch (0 on padding).
    """

    probe: np.ndarray
    target: np.ndarray
    projection: np.ndarray
    molecule: np.ndarray


def make_batch(mols: MoleculeSet, members: Sequence[int], shapes: Shapes, *, n_probes: int,
               rng: np.random.Generator, dtype=np.float32, soft_k_max: int = 0, soft_single: bool = False) -> Batch:
    """Pack molecules ``members`` with ``n_probes`` Rademacher probes each; with ``soft_k_max`` > 0 (and
    ``mols.soft``) also one soft-mode probe per molecule over at most ``soft_k_max`` modes."""
    packed = pack([mols.species[k] for k in members], [mols.positions[k] for k in members],
                  cutoff_angstrom=0.0, n_atoms_pad=shapes.n_atoms_pad, n_edges_pad=shapes.n_edges_pad,
                  pairs_list=[mols.pairs[k] for k in members])
    a_pad = shapes.n_atoms_pad
    probes = np.zeros((n_probes, a_pad, 3), dtype)
    targets = np.zeros((n_probes, a_pad, 3), dtype)
    weights = np.zeros(a_pad, dtype)
    for j, k in enumerate(members):
        a, b = packed.atom_offsets[j], packed.atom_offsets[j + 1]
        n3 = 3 * int(b - a)
        v = rng.choice(np.array([-1.0, 1.0], np.float32), size=(n_probes, n3))
        probes[:, a:b] = v.reshape(n_probes, -1, 3)
        targets[:, a:b] = (v @ mols.hessians[k]).reshape(n_probes, -1, 3)  # H symmetric: v H = H v
        weights[a:b] = 1.0 / (n3**2 * len(members))
    soft = None
    if soft_k_max and mols.soft is not None:
        soft = _soft_probe(mols, members, packed.atom_offsets, a_pad, soft_k_max, rng, dtype, soft_single)
    return Batch(packed.positions.astype(dtype), packed.graph, probes, targets, weights, soft)


def _soft_probe(mols: MoleculeSet, members, offsets, a_pad: int, k_max: int, rng, dtype,
                single_mode: bool = False) -> SoftProbe:
    probe = np.zeros((a_pad, 3))
    target = np.zeros((a_pad, 3))
    projection = np.zeros((a_pad, 3, k_max))
    molecule = np.zeros(a_pad, np.int32)
    for j, k in enumerate(members):
        a, b = offsets[j], offsets[j + 1]
        scaled = mols.soft[k].scaled[:, :k_max]
        n_soft = scaled.shape[1]
        molecule[a:b] = j
        if n_soft == 0:
            continue
        if single_mode:  # one random mode: an estimate of the mean squared first-order frequency error only
            pick = int(rng.integers(n_soft))
            scaled, n_soft = scaled[:, pick:pick + 1], 1
            v = scaled[:, 0]
        else:
            c = rng.choice(np.array([-1.0, 1.0]), size=n_soft)
            v = scaled @ c
        probe[a:b] = v.reshape(-1, 3)
        target[a:b] = (mols.hessians[k].astype(float) @ v).reshape(-1, 3)
        s = FREQ_FACTOR_EV_A2 / (100.0 * np.sqrt(n_soft * len(members)))
        projection[a:b, :, :n_soft] = (s * scaled).reshape(-1, 3, n_soft)
    return SoftProbe(probe.astype(dtype), target.astype(dtype), projection.astype(dtype), molecule)
