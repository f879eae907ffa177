"""Training data: the seeded split, per-molecule preprocessing, packing into padded batches with probes."""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from hessfit.model import Graph, bucket_atoms, bucket_edges, molecule_index, neighbour_pairs, pack, species_index
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
    """Preprocessed molecules: species indices, positions (Å), neighbour pairs, Hessians (float32, eV/Å²) and,
    for the soft-mode loss, each molecule's whitening matrix (`whitening_matrix`, float32; else None).

    Molecules labelled by frequencies only (`prepare_frequencies`) have Hessian and whitener None and an entry in
    ``frequencies``: (Q (3N, 3N−6), λ_ref (3N−6,)), Q = M^-1/2 · (internal basis) so that Qᵀ H Q is the
    mass-weighted vibrational Hessian, λ_ref = (ν̃_ref / 521.47)² in eV/Å²/amu (float32)."""

    indices: np.ndarray  # (M,) dataset indices
    species: list
    positions: list
    pairs: list
    hessians: list
    whiteners: list | None = None
    frequencies: list | None = None
    mode_bases: list | None = None  # `soft_mode_basis` (R, μ, ν̃) per molecule, beside the whiteners

    def __len__(self) -> int:
        return len(self.indices)

    def n_atoms(self, k: int) -> int:
        return len(self.species[k])

    def n_edges(self, k: int) -> int:
        return len(self.pairs[k][0])


def whitening_matrix(structure, hessian: np.ndarray, floor_cm1: float) -> np.ndarray:
    """T = M^-1/2 U (Λ + λ0)^-1/2 Uᵀ M^-1/2 (3N, 3N), from the reference Hessian's internal modes.

    U, Λ: the normal modes (`hessfit.modes.normal_modes`: mass-weighted eigenvectors, rigid-body motion projected
    out) and eigenvalues (eV/Å²/amu) of the reference Hessian; λ0 is the eigenvalue of a ``floor_cm1`` mode.
    ‖T (H_pred − H_ref) T‖_F is then a dimensionless, relative error in the reference's normal-mode basis: a mode's
    error counts relative to its own curvature (above the floor), so the soft modes that a plain Hessian MSE hardly
    sees weigh as much as the stiff ones. Imaginary reference modes are treated as zero-frequency ones.
    """
    r, _, nu = soft_mode_basis(structure, hessian, floor_cm1)
    return _whitener_from_basis(r, nu, floor_cm1)


def _whitener_from_basis(r: np.ndarray, nu: np.ndarray, floor_cm1: float) -> np.ndarray:
    """T from `soft_mode_basis`'s R and ν̃: T = (R (Λ + λ0)^1/4)(R (Λ + λ0)^1/4)ᵀ."""
    half = r * np.sqrt(np.sqrt(nu**2 + floor_cm1**2) / FREQ_FACTOR_EV_A2)  # M^-1/2 U (Λ + λ0)^-1/4
    return half @ half.T


def soft_mode_basis(structure, hessian: np.ndarray, floor_cm1: float):
    """R = M^-1/2 U (Λ + λ0)^-1/2 (3N, M) and the reference's μ = λ / (λ + λ0) (M,) and ν̃ (M,) in cm⁻¹, so that
    Rᵀ H_ref R = diag(μ): column i of Rᵀ H_pred R's diagonal is the predicted curvature along reference mode i,
    relative to its own (above the floor λ0 of a ``floor_cm1`` mode). U, Λ as `whitening_matrix`."""
    from hessfit.modes import normal_modes

    modes = normal_modes(structure, hessian)
    freqs = np.maximum(np.asarray(modes.frequencies_cm1, float), 0.0)
    u = np.asarray(modes.vectors, float).reshape(len(freqs), -1).T
    inv_sqrt_m = np.repeat(1.0 / np.sqrt(structure.masses), 3)
    r = inv_sqrt_m[:, None] * u * (FREQ_FACTOR_EV_A2 / np.sqrt(freqs**2 + floor_cm1**2))
    return r, freqs**2 / (freqs**2 + floor_cm1**2), freqs


def _append_graph_inputs(dataset, i, elements, cutoff_angstrom, fidelity, species, positions, pairs) -> np.ndarray:
    """Append molecule i's species indices (offset to level ``fidelity``), positions and neighbour pairs; return
    its positions."""
    species.append(species_index(dataset.numbers(i), elements, name=f"dataset molecule {i}")
                   + fidelity * len(elements))
    pos = dataset.positions(i)
    positions.append(pos)
    pairs.append(neighbour_pairs(pos, cutoff_angstrom))
    return pos


def prepare(dataset, indices: Sequence[int], *, elements: Sequence[int], cutoff_angstrom: float,
            soft_mode_floor_cm1: float | None = None, fidelity: int = 0) -> MoleculeSet:
    """Preprocess molecules ``indices`` of a HessianDataset (with whitening matrices when ``soft_mode_floor_cm1``
    is given). ``fidelity``: the level of theory of its Hessians (`ModelConfig.n_fidelities`); species indices
    are offset by ``fidelity · len(elements)``."""
    idx = np.asarray(indices, int)
    species, positions, pairs, hessians = [], [], [], []
    whiteners = [] if soft_mode_floor_cm1 is not None else None
    bases = [] if soft_mode_floor_cm1 is not None else None
    for i in idx:
        _append_graph_inputs(dataset, i, elements, cutoff_angstrom, fidelity, species, positions, pairs)
        hessians.append(dataset.hessian(i).astype(np.float32))
        if whiteners is not None:
            r, mu, nu = soft_mode_basis(dataset.structure(i), hessians[-1], soft_mode_floor_cm1)
            whiteners.append(_whitener_from_basis(r, nu, soft_mode_floor_cm1).astype(np.float32))
            bases.append((r.astype(np.float32), mu.astype(np.float32), nu.astype(np.float32)))
    return MoleculeSet(idx, species, positions, pairs, hessians, whiteners, None, bases)


def prepare_frequencies(dataset, indices: Sequence[int], *, elements: Sequence[int], cutoff_angstrom: float,
                        fidelity: int = 0) -> MoleculeSet:
    """Preprocess molecules ``indices`` of a FrequencyDataset (frequencies only, no Hessian) at level ``fidelity``."""
    from hessfit.modes import internal_basis

    idx = np.asarray(indices, int)
    species, positions, pairs, frequencies = [], [], [], []
    for i in idx:
        pos = _append_graph_inputs(dataset, i, elements, cutoff_angstrom, fidelity, species, positions, pairs)
        masses = dataset.structure(i).masses
        q = internal_basis(pos, masses) * np.repeat(1.0 / np.sqrt(masses), 3)[:, None]
        lam = (dataset.frequencies(i) / FREQ_FACTOR_EV_A2) ** 2
        if q.shape[1] != len(lam):
            raise ValueError(f"frequency dataset molecule {i}: {len(lam)} frequencies, {q.shape[1]} internal modes "
                             "(a linear molecule?)")
        frequencies.append((q.astype(np.float32), lam.astype(np.float32)))
    none = [None] * len(idx)
    return MoleculeSet(idx, species, positions, pairs, none, None, frequencies)


def concat_sets(sets: Sequence[MoleculeSet]) -> MoleculeSet:
    """One MoleculeSet of several (e.g. two levels of theory); ``indices`` keep each set's own dataset indices."""
    def joined(name):
        parts = [getattr(s, name) for s in sets]
        if all(p is None for p in parts):
            return None
        return [x for s, p in zip(sets, parts) for x in (p if p is not None else [None] * len(s))]

    return MoleculeSet(np.concatenate([s.indices for s in sets]), *([x for s in sets for x in getattr(s, name)]
                       for name in ("species", "positions", "pairs", "hessians")), joined("whiteners"),
                       joined("frequencies"), joined("mode_bases"))


@dataclasses.dataclass(frozen=True)
class Shapes:
    """Static padded shapes of training batches; the n_freq_* ones (0 without frequency-labelled molecules):
    molecule slots per batch, Cartesian dimension (3N) and modes (3N−6) per slot."""

    n_atoms_pad: int
    n_edges_pad: int
    n_freq_slots: int = 0
    n_freq_dim: int = 0
    n_freq_modes: int = 0


def batch_shapes(mols: MoleculeSet, max_atoms_per_batch: int) -> Shapes:
    """Padded shapes large enough for greedy packing of ``max_atoms_per_batch`` atoms."""
    max_atoms = max(max_atoms_per_batch, max(mols.n_atoms(k) for k in range(len(mols))))
    per_atom = max(mols.n_edges(k) / mols.n_atoms(k) for k in range(len(mols)))
    freq = [k for k in range(len(mols)) if mols.frequencies is not None and mols.frequencies[k] is not None]
    if not freq:
        return Shapes(bucket_atoms(max_atoms + 1), bucket_edges(int(np.ceil(per_atom * max_atoms))))
    sizes = [mols.n_atoms(k) for k in freq]
    return Shapes(bucket_atoms(max_atoms + 1), bucket_edges(int(np.ceil(per_atom * max_atoms))),
                  min(len(freq), max_atoms_per_batch // min(sizes) + 1), 3 * max(sizes), 3 * max(sizes) - 6)


def merge_shapes(shapes: Sequence[Shapes]) -> Shapes:
    """The smallest Shapes that hold every one of ``shapes``."""
    return Shapes(*(max(getattr(s, f.name) for s in shapes) for f in dataclasses.fields(Shapes)))


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
        molecule: (n_atoms_pad,) int32 molecule index of each atom slot (padding: n_molecules).
        soft: for the soft-mode loss (`MoleculeSet.whiteners`, when at least one member has one), else None:
            (left, probes, targets, modes, mu_ref, nu_ref) with left the block-diagonal whitening matrix T
            (3·n_atoms_pad, 3·n_atoms_pad), probes T·v and targets T·H_ref·T·v (K, n_atoms_pad, 3) for the same
            probes v; modes (3·n_atoms_pad, 3·n_atoms_pad) the block-diagonal `soft_mode_basis` R (molecule j's
            M_j columns start at its first coordinate, the rest are zero), so that Rᵀ H_ref R = diag(mu_ref);
            mu_ref and nu_ref (cm⁻¹) per column (0 on zero columns).
        freq: for frequency-labelled molecules (`MoleculeSet.frequencies`), else None: (index (S, D) int32 rows
            of the batch Hessian, Q (S, D, M), λ_ref (S, M), valid (S, M) 1/0, weights (S, M) = 1/(M_j · n_molecules)
            on molecule j's modes), S slots of D = 3N Cartesian and M = 3N−6 mode columns (`Shapes.n_freq_*`).
    """

    positions: np.ndarray
    graph: Graph
    probes: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    molecule: np.ndarray
    soft: tuple | None = None
    freq: tuple | None = None


def make_batch(mols: MoleculeSet, members: Sequence[int], shapes: Shapes, *, n_probes: int,
               rng: np.random.Generator | None, dtype=np.float32,
               probe_vectors: Callable[[int], np.ndarray] | None = None) -> Batch:
    """Pack molecules ``members`` with ``n_probes`` probes each: Rademacher ±1 drawn from ``rng``, or
    ``probe_vectors(3N)`` -> (n_probes, 3N) when given (e.g. unit tangents for full-Hessian columns; `unit_columns`
    for an energy model's frequency batches)."""
    packed = pack([mols.species[k] for k in members], [mols.positions[k] for k in members],
                  cutoff_angstrom=0.0, n_atoms_pad=shapes.n_atoms_pad, n_edges_pad=shapes.n_edges_pad,
                  pairs_list=[mols.pairs[k] for k in members])
    a_pad = shapes.n_atoms_pad
    probes = np.zeros((n_probes, a_pad, 3), dtype)
    targets = np.zeros((n_probes, a_pad, 3), dtype)
    weights = np.zeros(a_pad, dtype)
    soft = None
    if mols.whiteners is not None:
        left = np.zeros((3 * a_pad, 3 * a_pad), dtype)
        soft = (left, np.zeros_like(probes), np.zeros_like(targets), np.zeros_like(left),
                np.zeros(3 * a_pad, dtype), np.zeros(3 * a_pad, dtype))
    freq, slot, whitened = None, 0, False
    if mols.frequencies is not None and shapes.n_freq_slots:
        s, d, m = shapes.n_freq_slots, shapes.n_freq_dim, shapes.n_freq_modes
        freq = (np.zeros((s, d), np.int32), np.zeros((s, d, m), dtype), np.zeros((s, m), dtype),
                np.zeros((s, m), dtype), np.zeros((s, m), dtype))
    for j, k in enumerate(members):
        a, b = packed.atom_offsets[j], packed.atom_offsets[j + 1]
        n3 = 3 * int(b - a)
        if probe_vectors is None:
            v = rng.choice(np.array([-1.0, 1.0], np.float32), size=(n_probes, n3))
        else:
            v = probe_vectors(n3)
        probes[:, a:b] = v.reshape(n_probes, -1, 3)
        if mols.hessians[k] is None:  # labelled by frequencies only: no probe targets
            if freq is None or slot >= shapes.n_freq_slots:
                raise ValueError("batch holds more frequency-labelled molecules than Shapes.n_freq_slots")
            q, lam = mols.frequencies[k]
            freq[0][slot, :n3] = np.arange(3 * a, 3 * b)
            freq[1][slot, :n3, :len(lam)] = q
            freq[2][slot, :len(lam)] = lam
            freq[3][slot, :len(lam)] = 1.0
            freq[4][slot, :len(lam)] = 1.0 / (len(lam) * len(members))
            slot += 1
            continue
        targets[:, a:b] = (v @ mols.hessians[k]).reshape(n_probes, -1, 3)  # H symmetric: v H = H v
        weights[a:b] = 1.0 / (n3**2 * len(members))
        if soft is not None and mols.whiteners[k] is not None:
            t = mols.whiteners[k]
            soft[0][3 * a:3 * b, 3 * a:3 * b] = t
            tv = v @ t  # T symmetric
            soft[1][:, a:b] = tv.reshape(n_probes, -1, 3)
            soft[2][:, a:b] = (tv @ mols.hessians[k] @ t).reshape(n_probes, -1, 3)
            r, mu, nu = mols.mode_bases[k]
            soft[3][3 * a:3 * b, 3 * a:3 * a + len(mu)] = r
            soft[4][3 * a:3 * a + len(mu)] = mu
            soft[5][3 * a:3 * a + len(mu)] = nu
            whitened = True
    if not whitened:  # e.g. a batch of frequency-labelled molecules: no soft-mode or curvature terms to compute
        soft = None
    return Batch(packed.positions.astype(dtype), packed.graph, probes, targets, weights, molecule_index(packed),
                 soft, freq)


def unit_columns(n_probes: int) -> Callable[[int], np.ndarray]:
    """``probe_vectors`` giving each molecule's full Hessian: rows e_k for k < 3N, zero rows after (K ≥ 3N)."""
    def vectors(n3: int) -> np.ndarray:
        return np.eye(n_probes, n3, dtype=np.float32)
    return vectors


def column_probes(n_probes: int) -> Callable[[int], np.ndarray]:
    """``probe_vectors`` for exact full-Hessian losses: rows √K·e_k for k < 3N, zero rows after, so that the
    mean over the K = ``n_probes`` rows of ‖ΔH v‖² is exactly ‖ΔH‖²_F (needs K ≥ 3N of every molecule)."""
    def vectors(n3: int) -> np.ndarray:
        if n3 > n_probes:
            raise ValueError(f"column_probes({n_probes}) cannot hold a molecule with 3N = {n3}")
        return np.sqrt(n_probes) * np.eye(n_probes, n3, dtype=np.float32)
    return vectors
