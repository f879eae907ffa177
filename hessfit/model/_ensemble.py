"""Ensembles: the Hessian as a weighted mean of several networks' Hessians, H = Σ_k w_k H_k (Σ w_k = 1).

A weighted mean of symmetric Hessians that obey the translational sum rule is symmetric and obeys it too, and it
is E(3)-equivariant when every member is. The shipped energy and block models make errors that are only partly
correlated, so their mean is more accurate than either (docs/model_card_ensemble.md).

On disk an ensemble is a folder with only ``model.json``: ``{"format": "hessfit-ensemble-1", "members":
[{"model": REF, "weight": w}, ...], "metadata": {...}}``; REF is a folder relative to the ensemble's folder or the
name of a shipped model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

from hessfit.errors import InputFormatError

ENSEMBLE_FORMAT = "hessfit-ensemble-1"


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
        if abs(sum(self.weights) - 1.0) > 1e-9 or min(self.weights) < 0:
            raise ValueError(f"ensemble weights must be >= 0 and sum to 1, got {list(self.weights)}")


def save_ensemble(path: str | Path, references: Sequence[str], weights: Sequence[float],
                  metadata: dict | None = None) -> Path:
    """Write an ensemble folder (``model.json`` only) naming its members by ``references`` (shipped model names or
    folders relative to ``path``). Returns the folder."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    doc = {"format": ENSEMBLE_FORMAT,
           "members": [{"model": str(r), "weight": float(w)} for r, w in zip(references, weights, strict=True)],
           "metadata": metadata or {}}
    (path / "model.json").write_text(json.dumps(doc, indent=2))
    return path


def load_ensemble(path: Path, doc: dict) -> Ensemble:
    """The ensemble described by ``doc`` (the parsed ``path/model.json``); members loaded with `load_model`."""
    from hessfit.model._io import load_model, model_path

    members, weights, refs = [], [], []
    for entry in doc.get("members") or []:
        ref = str(entry.get("model", ""))
        member = load_model(model_path(ref, base=path))
        if isinstance(member, Ensemble):
            raise InputFormatError(f"{path / 'model.json'}: member {ref!r} is itself an ensemble")
        members.append(member)
        weights.append(float(entry.get("weight", float("nan"))))
        refs.append(ref)
    try:
        return Ensemble(tuple(members), tuple(weights), doc.get("metadata", {}), tuple(refs))
    except ValueError as exc:
        raise InputFormatError(f"{path / 'model.json'}: {exc}") from None
