"""Stacked regression of ensemble members: convex weights that minimise the Hessian MSE of Σ wₖHₖ.

With Xₖ the members' Hessian elements on held-out molecules and r the reference's, the weights solve
min ‖Xw − r‖² subject to w ≥ 0, Σw = 1 (Breiman 1996, "Stacked regressions"): a quadratic programme in as many
variables as members. A convex combination keeps symmetry, the translational sum rule and equivariance.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def simplex_least_squares(gram: np.ndarray, b: np.ndarray, groups=None) -> np.ndarray:
    """argmin_w wᵀGw − 2bᵀw subject to w ≥ 0 and Σw = 1 over each group (``groups``: the group of every variable;
    default one group), for G = XᵀX and b = Xᵀr (SLSQP; G positive semi-definite)."""
    from scipy.optimize import minimize

    gram, b = np.asarray(gram, float), np.asarray(b, float)
    k = len(b)
    if gram.shape != (k, k):
        raise ValueError(f"gram must be ({k}, {k}), got {gram.shape}")
    groups = np.zeros(k, int) if groups is None else np.asarray(groups)
    masks = [(groups == g).astype(float) for g in np.unique(groups)]
    w0 = sum(m / m.sum() for m in masks)
    scale = max(float(np.trace(gram)) / k, np.finfo(float).tiny)
    res = minimize(lambda w: (w @ gram @ w - 2 * b @ w) / scale, w0,
                   jac=lambda w: (2 * gram @ w - 2 * b) / scale, method="SLSQP", bounds=[(0, 1)] * k,
                   constraints=[{"type": "eq", "fun": lambda w, m=m: m @ w - 1, "jac": lambda w, m=m: m}
                                for m in masks],
                   options={"ftol": 1e-15, "maxiter": 1000})
    if not res.success:
        raise RuntimeError(f"stacking weight fit failed: {res.message}")
    w = np.clip(res.x, 0, None)
    return w / sum(m * (m @ w) for m in masks)


def stack_weights(predictions: Mapping[str, Sequence[np.ndarray]], references: Sequence[np.ndarray],
                  rows: Sequence[int], *, min_weight: float = 0.0) -> dict[str, float]:
    """Convex member weights fitted on molecules ``rows``: {member: Hessian list} against reference Hessians
    (any common unit). Members below ``min_weight`` are dropped and the rest refitted until none is."""
    names = list(predictions)
    if not names:
        raise ValueError("stack_weights: no members")
    r = np.concatenate([np.ravel(references[i]) for i in rows])
    while True:
        X = np.stack([np.concatenate([np.ravel(predictions[n][i]) for i in rows]) for n in names], axis=1)
        w = simplex_least_squares(X.T @ X, X.T @ r)
        if w.min() >= min_weight or len(names) == 1:
            return dict(zip(names, (float(x) for x in w)))
        names = [n for n, wi in zip(names, w) if wi >= min_weight] or [names[int(np.argmax(w))]]


def class_stack_weights(predictions: Mapping[str, Sequence[np.ndarray]], references: Sequence[np.ndarray],
                        class_indices: Sequence[np.ndarray], rows: Sequence[int], *,
                        min_weight: float = 0.0) -> dict[str, dict[str, float]]:
    """Convex member weights per atom-pair class (`hessfit.model._pair_classes`), all classes fitted together to
    minimise the Hessian MSE of `combine_by_class` over molecules ``rows`` (every element, the rebuilt diagonal
    included). ``class_indices[i]``: `pair_class_index` of molecule i. (Member, class) weights below
    ``min_weight`` are fixed at 0 and the rest refitted until none is. Returns {member: {class: weight}}."""
    from hessfit.model import PAIR_CLASSES, combine_by_class
    from hessfit.modes import interacting_groups

    names = list(predictions)
    if not names:
        raise ValueError("class_stack_weights: no members")
    k, c = len(names), len(PAIR_CLASSES)
    gram, b = np.zeros((k * c, k * c)), np.zeros(k * c)
    seen = np.zeros(c, bool)
    for i in rows:
        coupled = interacting_groups([predictions[name][i] for name in names])
        seen[np.unique(class_indices[i][class_indices[i] >= 0])] = True
        feats = []
        for m, name in enumerate(names):
            for cls in range(c):
                w = np.zeros((1, c))
                w[0, cls] = 1.0  # linear in the weights for fixed groups: one feature per (member, class)
                feats.append(np.ravel(combine_by_class([predictions[name][i]], class_indices[i], w, coupled)))
        x = np.stack(feats)
        gram += x @ x.T
        b += x @ np.ravel(references[i])
    if not seen.all():
        import warnings

        missing = ", ".join(PAIR_CLASSES[j] for j in np.flatnonzero(~seen))
        warnings.warn(f"class_stack_weights: no pair of class {missing} in the fitted molecules; its members keep "
                      f"equal weights", stacklevel=2)
    groups = np.tile(np.arange(c), k)  # variable m·c + cls belongs to class cls
    free = np.ones(k * c, bool)
    while True:
        sel = np.flatnonzero(free)
        w = np.zeros(k * c)
        w[sel] = simplex_least_squares(gram[np.ix_(sel, sel)], b[sel], groups[sel])
        low = free & (w < min_weight)
        # keep each class's largest weight, so no class is left without a member
        for cls in range(c):
            in_cls = np.flatnonzero(groups == cls)
            low[in_cls[np.argmax(w[in_cls])]] = False
        if not low.any():
            break
        free &= ~low
    return {name: {PAIR_CLASSES[cls]: float(w[m * c + cls]) for cls in range(c)} for m, name in enumerate(names)}
