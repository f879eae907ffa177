"""Stacked regression of ensemble members: convex weights that minimise the Hessian MSE of Σ wₖHₖ.

With Xₖ the members' Hessian elements on held-out molecules and r the reference's, the weights solve
min ‖Xw − r‖² subject to w ≥ 0, Σw = 1 (Breiman 1996, "Stacked regressions"): a quadratic programme in as many
variables as members. A convex combination keeps symmetry, the translational sum rule and equivariance.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def simplex_least_squares(gram: np.ndarray, b: np.ndarray) -> np.ndarray:
    """argmin_w wᵀGw − 2bᵀw subject to w ≥ 0, Σw = 1, for G = XᵀX and b = Xᵀr (SLSQP; G positive
    semi-definite)."""
    from scipy.optimize import minimize

    gram, b = np.asarray(gram, float), np.asarray(b, float)
    k = len(b)
    if gram.shape != (k, k):
        raise ValueError(f"gram must be ({k}, {k}), got {gram.shape}")
    scale = max(float(np.trace(gram)) / k, np.finfo(float).tiny)
    res = minimize(lambda w: (w @ gram @ w - 2 * b @ w) / scale, np.full(k, 1 / k),
                   jac=lambda w: (2 * gram @ w - 2 * b) / scale, method="SLSQP", bounds=[(0, 1)] * k,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1, "jac": lambda w: np.ones(k)}],
                   options={"ftol": 1e-15, "maxiter": 1000})
    if not res.success:
        raise RuntimeError(f"stacking weight fit failed: {res.message}")
    w = np.clip(res.x, 0, None)
    return w / w.sum()


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
