"""Ensembles: the Hessian as a weighted mean of several networks' Hessians, H = Σ_k w_k H_k (Σ w_k = 1).

A weighted mean of symmetric Hessians that obey the translational sum rule is symmetric and obeys it too, and it
is E(3)-equivariant when every member is. The shipped energy and block models make errors that are only partly
correlated, so their mean is more accurate than either (docs/model_card_ensemble.md).

On disk an ensemble is a folder with only ``model.json``: ``{"format": "hessfit-ensemble-1", "members":
[{"model": REF, "weight": w}, ...], "metadata": {...}}``; REF is a folder relative to the ensemble's folder or the
name of a shipped model. Reading and writing live with the single model's in `hessfit.model._io`.
"""

from __future__ import annotations

import dataclasses
import math

ENSEMBLE_FORMAT = "hessfit-ensemble-1"


def check_convex_weights(weights) -> None:
    """Raise ValueError unless ``weights`` are finite, ≥ 0 and sum to 1 (a convex combination of Hessians keeps
    their symmetry, sum rule and equivariance)."""
    w = [float(x) for x in weights]
    if not w or not all(math.isfinite(x) and x >= 0 for x in w) or abs(sum(w) - 1.0) > 1e-9:
        raise ValueError(f"ensemble weights must be finite, >= 0 and sum to 1, got {w}")


@dataclasses.dataclass(frozen=True, eq=False)
class Ensemble:
    """Member networks (`hessfit.model.Model`), their weights (sum 1) and metadata (test metrics, provenance)."""

    members: tuple
    weights: tuple[float, ...]
    metadata: dict = dataclasses.field(default_factory=dict)
    references: tuple[str, ...] = ()  # how model.json names the members

    def __post_init__(self):
        if len(self.members) != len(self.weights) or not self.members:
            raise ValueError("an ensemble needs one weight per member and at least one member")
        check_convex_weights(self.weights)
