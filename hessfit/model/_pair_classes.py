"""Member weights per atom-pair class: H = Σ_k Σ_c w_kc H_k restricted to the off-diagonal atom-pair blocks of
class c, with the diagonal blocks rebuilt from the translational sum rule (docs/class_stacking.md).

A class is whether a hydrogen takes part (X–H or X–Y) × the topological distance (1-2, 1-3, 1-4, farther; bonds
from covalent radii): `hessfit.structures.pair_classes` with grouping 'hydrogen'. The classes depend only on the
bond graph, so the combination keeps each member's E(3) equivariance; the diagonal blocks H_ii = −Σ_{j≠i} H_ij are
symmetrised and the uniform translations of each interacting group of atoms projected out, so the result is
symmetric, obeys the sum rule exactly and couples no atoms that the members leave uncoupled.
Equal weights in every class give back the plain weighted mean of members that obey the sum rule.
"""

from __future__ import annotations

import numpy as np

#: the classes, in the order of a weight row
PAIR_CLASSES = ("X-H 1-2", "X-H 1-3", "X-H 1-4", "X-H far", "X-Y 1-2", "X-Y 1-3", "X-Y 1-4", "X-Y far")


def pair_class_index(structure) -> np.ndarray:
    """(N, N) index into `PAIR_CLASSES` of every atom pair; −1 on the diagonal."""
    from hessfit.structures import pair_classes

    labels, idx = pair_classes(structure, "hydrogen")
    order = np.array([PAIR_CLASSES.index(lab) for lab in labels] or [0], dtype=int)
    out = order[idx]
    np.fill_diagonal(out, -1)
    return out


def combine_by_class(hessians, index: np.ndarray, weights, groups: np.ndarray | None = None) -> np.ndarray:
    """The class-weighted Hessian (3N, 3N) of members ``hessians`` (each (3N, 3N), same unit, obeying the sum
    rule) with ``weights`` (K, len(PAIR_CLASSES)) and ``index`` from `pair_class_index`; ``groups``: the
    `interacting_groups` whose translations are projected out (default: of ``hessians``). The result is linear in
    ``weights`` for fixed ``groups``."""
    w = np.asarray(weights, float)
    index = np.asarray(index)
    n = index.shape[0]
    if w.shape != (len(hessians), len(PAIR_CLASSES)):
        raise ValueError(f"class weights must be ({len(hessians)}, {len(PAIR_CLASSES)}), got {w.shape}")
    off = np.zeros((n, 3, n, 3))
    pair = index >= 0
    for h, wk in zip(hessians, w):
        wij = np.where(pair, wk[np.clip(index, 0, None)], 0.0)
        off += np.asarray(h, float).reshape(n, 3, n, 3) * wij[:, None, :, None]
    from hessfit.modes import group_translation_basis, interacting_groups, sum_rule_hessian

    if groups is None:
        groups = interacting_groups(hessians)
    return sum_rule_hessian(off, group_translation_basis(groups))
