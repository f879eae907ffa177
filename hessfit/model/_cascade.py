"""Cascades: an accurate network, and a sounder one only where the first fails the guard.

A cascade P ▷ F predicts every structure with its primary P. Where P's Hessian has an internal mode below
``threshold_cm1`` (the guard's −50 cm⁻¹: an imaginary mode that a minimum of a nearby surface cannot have), it
predicts F too and keeps F's Hessian if F's lowest internal mode is higher than P's. No reference is needed, and F
costs time only on the structures P fails. Each Hessian is one network's (or one ensemble's), so it keeps that
model's symmetry, sum rule and equivariance; the choice between the two is per structure.

On disk a cascade is a folder with only ``model.json``: ``{"format": "hessfit-cascade-1", "primary": REF,
"fallback": REF, "threshold_cm1": -50.0, "metadata": {...}}``; REF is a folder relative to the cascade's folder or
the name of a shipped model (a network or an ensemble, not a cascade). Reading and writing live in
`hessfit.model._io`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

CASCADE_FORMAT = "hessfit-cascade-1"

#: the guard's threshold (hessfit.sources.GUARD_IMAGINARY_CM1), cm⁻¹
CASCADE_THRESHOLD_CM1 = -50.0


@dataclasses.dataclass(frozen=True, eq=False)
class Cascade:
    """Primary and fallback (`Model` or `Ensemble`), the threshold (cm⁻¹) and metadata (metrics, provenance)."""

    primary: object
    fallback: object
    threshold_cm1: float = CASCADE_THRESHOLD_CM1
    metadata: dict = dataclasses.field(default_factory=dict)
    references: tuple[str, ...] = ()  # how model.json names primary and fallback

    def __post_init__(self):
        if isinstance(self.primary, Cascade) or isinstance(self.fallback, Cascade):
            raise ValueError("a cascade's primary and fallback must be networks or ensembles, not cascades")
        if not np.isfinite(self.threshold_cm1):
            raise ValueError(f"a cascade's threshold must be a finite frequency in cm⁻¹, got {self.threshold_cm1}")


def lowest_internal_frequency(structure, hessian) -> float:
    """Lowest internal-mode frequency (cm⁻¹, imaginary = negative) of ``hessian`` (3N, 3N) eV/Å², as the guard
    computes it (`hessfit.modes.normal_modes`: translations and rotations projected out)."""
    from hessfit.modes import normal_modes

    freqs = np.asarray(normal_modes(structure, np.asarray(hessian, float)).frequencies_cm1, float)
    return float(freqs.min()) if freqs.size else float("nan")


def choose_sounder(structures: Sequence, primary: list, fallback: Callable[[list], list],
                   threshold_cm1: float = CASCADE_THRESHOLD_CM1) -> tuple[list, list[bool]]:
    """Per structure, the primary's Hessian, or the fallback's where the primary's lowest internal mode is below
    ``threshold_cm1`` and the fallback's is higher.

    Args:
        structures: the structures (Å, amu).
        primary: the primary's Hessians (eV/Å²; None where it gave none: kept as None).
        fallback: Hessians of a list of structures (called once, on the failing ones only).
        threshold_cm1: the guard's threshold, cm⁻¹.

    Returns:
        (Hessians, taken) with ``taken[i]`` True where the fallback's Hessian was taken.
    """
    lowest = [None if h is None else lowest_internal_frequency(s, h) for s, h in zip(structures, primary)]
    failing = [i for i, f in enumerate(lowest) if f is not None and f < threshold_cm1]
    out, taken = list(primary), [False] * len(primary)
    if failing:
        for i, h in zip(failing, fallback([structures[i] for i in failing])):
            if h is not None and lowest_internal_frequency(structures[i], h) > lowest[i]:
                out[i], taken[i] = h, True
    return out, taken


def network_leaves(model) -> tuple:
    """The single networks (`Model`) inside ``model``: itself, an ensemble's members, a cascade's networks."""
    if isinstance(model, Cascade):
        return network_leaves(model.primary) + network_leaves(model.fallback)
    members = getattr(model, "members", None)
    return tuple(members) if members is not None else (model,)
