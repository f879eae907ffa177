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
    try:
        w = [float(x) for x in weights]
    except (TypeError, ValueError):
        raise ValueError(f"ensemble weights must be numbers, got {list(weights)}") from None
    if not w or not all(math.isfinite(x) and x >= 0 for x in w) or abs(sum(w) - 1.0) > 1e-9:
        raise ValueError(f"ensemble weights must be finite, >= 0 and sum to 1, got {w}")


@dataclasses.dataclass(frozen=True, eq=False)
class Ensemble:
    """Member networks (`hessfit.model.Model`), their weights (sum 1) and metadata (test metrics, provenance)."""

    members: tuple
    weights: tuple[float, ...]
    metadata: dict = dataclasses.field(default_factory=dict)
    references: tuple[str, ...] = ()  # how model.json names the members
    #: None: H = Σ_k w_k H_k. Else (K, 8) weights per atom-pair class (`hessfit.model._pair_classes`, each class's
    #: column convex): the off-diagonal blocks of class c are Σ_k w_kc H_k, the diagonal rebuilt by the sum rule.
    class_weights: tuple | None = None

    def __post_init__(self):
        if len(self.members) != len(self.weights) or not self.members:
            raise ValueError("an ensemble needs one weight per member and at least one member")
        check_convex_weights(self.weights)
        object.__setattr__(self, "weights", tuple(float(x) for x in self.weights))
        if self.class_weights is not None:
            from hessfit.model import PAIR_CLASSES

            try:
                cw = tuple(tuple(float(x) for x in row) for row in self.class_weights)
            except (TypeError, ValueError):
                raise ValueError("class weights must be numbers") from None
            if len(cw) != len(self.members) or any(len(row) != len(PAIR_CLASSES) for row in cw):
                raise ValueError(f"class weights must be one row of {len(PAIR_CLASSES)} per member")
            for label, column in zip(PAIR_CLASSES, zip(*cw)):
                try:
                    check_convex_weights(column)
                except ValueError as exc:
                    raise ValueError(f"class {label}: {exc}") from None
            object.__setattr__(self, "class_weights", cw)

    def combine(self, structure, hessians):
        """The ensemble's Hessian of ``structure`` from its members' ``hessians`` (same order and unit): the
        weighted mean, or per atom-pair class (`combine_by_class`) when ``class_weights`` are set."""
        if self.class_weights is None:
            return sum(w * h for w, h in zip(self.weights, hessians))
        from hessfit.model import combine_by_class, pair_class_index

        return combine_by_class(hessians, pair_class_index(structure), self.class_weights)
