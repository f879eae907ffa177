"""Cascades: an accurate network, and a sounder one only where the first fails the guard.

A cascade P ▷ F predicts every structure with its primary P. Where P's Hessian has an internal mode below
``threshold_cm1`` (the guard's −50 cm⁻¹: an imaginary mode that a minimum of a nearby surface cannot have), it
predicts F too and keeps F's Hessian if F's lowest internal mode is higher than P's; with ``blend_steps`` k it keeps
the least blend (1 − w) H_P + w H_F, w = 1/k … 1, that passes. No reference is needed, and F costs time only on
the structures P fails. Each Hessian is a convex combination of networks' Hessians, so it keeps their symmetry,
sum rule and equivariance; the choice is per structure.

On disk a cascade is a folder with only ``model.json``: ``{"format": "hessfit-cascade-1", "primary": REF,
"fallback": REF, "threshold_cm1": -50.0, "blend_steps": 0, "metadata": {...}}``; REF is a folder relative to the
cascade's folder or the name of a shipped model (a network or an ensemble, not a cascade). Reading and writing live in
`hessfit.model._io`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

CASCADE_FORMAT = "hessfit-cascade-1"

#: the guard's threshold (hessfit.sources.GUARD_IMAGINARY_CM1), cm⁻¹
CASCADE_THRESHOLD_CM1 = -50.0
#: the most blend weights a cascade tries (steps of 1/k)
MAX_BLEND_STEPS = 1000


@dataclasses.dataclass(frozen=True, eq=False)
class Cascade:
    """Primary and fallback (`Model` or `Ensemble`), the threshold (cm⁻¹) and metadata (metrics, provenance)."""

    primary: object
    fallback: object
    threshold_cm1: float = CASCADE_THRESHOLD_CM1
    metadata: dict = dataclasses.field(default_factory=dict)
    references: tuple[str, ...] = ()  # how model.json names primary and fallback
    blend_steps: int = 0  # 0: the fallback's Hessian whole; k: the least of it in steps of 1/k (choose_sounder)

    def __post_init__(self):
        if isinstance(self.primary, Cascade) or isinstance(self.fallback, Cascade):
            raise ValueError("a cascade's primary and fallback must be networks or ensembles, not cascades")
        if not np.isfinite(self.threshold_cm1):
            raise ValueError(f"a cascade's threshold must be a finite frequency in cm⁻¹, got {self.threshold_cm1}")
        steps = self.blend_steps
        if isinstance(steps, bool) or not isinstance(steps, (int, float)) or not np.isfinite(steps) \
                or int(steps) != steps or not 0 <= steps <= MAX_BLEND_STEPS:
            raise ValueError(f"a cascade's blend_steps must be a whole number from 0 to {MAX_BLEND_STEPS}, "
                             f"got {steps!r}")
        object.__setattr__(self, "blend_steps", int(steps))


def projected_hessian(structure, hessian, basis: np.ndarray | None = None) -> np.ndarray:
    """Bᵀ M^-½ H M^-½ B (eV Å⁻² amu⁻¹): the mass-weighted Hessian in the basis B of internal motions
    (``basis``, default `hessfit.modes.vibrational_basis`), as `hessfit.modes.normal_modes` builds it; NumPy, for
    cheap checks."""
    from hessfit.modes import vibrational_basis

    basis = vibrational_basis(structure) if basis is None else basis
    inv_sqrt_m = np.repeat(1.0 / np.sqrt(np.asarray(structure.masses, float)), 3)
    h = np.asarray(hessian, float)
    d = 0.5 * (h + h.T) * inv_sqrt_m[:, None] * inv_sqrt_m[None, :]
    return basis.T @ d @ basis


def _lowest(projected: np.ndarray) -> float:
    if not projected.size:
        return float("nan")
    from hessfit.units import FREQ_FACTOR_EV_A2

    lam = float(np.linalg.eigvalsh(projected)[0])
    return FREQ_FACTOR_EV_A2 * float(np.sign(lam)) * float(np.sqrt(abs(lam)))


def lowest_internal_frequency(structure, hessian) -> float:
    """Lowest internal-mode frequency (cm⁻¹, imaginary = negative) of ``hessian`` (3N, 3N) eV/Å², as the guard
    computes it (`hessfit.modes.normal_modes`: translations and rotations projected out)."""
    return _lowest(projected_hessian(structure, hessian))


def choose_sounder(structures: Sequence, primary: list, fallback: Callable[[list], list],
                   threshold_cm1: float = CASCADE_THRESHOLD_CM1, blend_steps: int = 0) -> tuple[list, list[float]]:
    """Per structure, the primary's Hessian, or where the primary's lowest internal mode is below
    ``threshold_cm1`` the fallback's (``blend_steps`` 0), or the least fallback that it takes (``blend_steps`` k:
    (1 − w) H_primary + w H_fallback for the smallest w in 1/k, 2/k, …, 1 whose lowest mode is at or above the
    threshold; if none is, the w with the highest lowest mode). A fallback that is no sounder than the primary is
    not taken.

    Args:
        structures: the structures (Å, amu).
        primary: the primary's Hessians (eV/Å²; None where it gave none: kept as None).
        fallback: Hessians of a list of structures (called once, on the failing ones only).
        threshold_cm1: the guard's threshold, cm⁻¹.
        blend_steps: 0 for the fallback's Hessian whole, else the number of blend weights tried.

    Returns:
        (Hessians, weights): ``weights[i]`` is the fallback's weight in structure i's Hessian (0 = the primary's).
    """
    from hessfit.modes import vibrational_basis

    bases = [None if h is None else vibrational_basis(s) for s, h in zip(structures, primary)]
    projected = [None if h is None else projected_hessian(s, h, b) for s, h, b in zip(structures, primary, bases)]
    lowest = [None if d is None else _lowest(d) for d in projected]
    failing = [i for i, f in enumerate(lowest) if f is not None and f < threshold_cm1]
    out, weights = list(primary), [0.0] * len(primary)
    grid = [1.0] if blend_steps <= 0 else [k / blend_steps for k in range(1, blend_steps + 1)]
    if failing:
        for i, hf in zip(failing, fallback([structures[i] for i in failing]), strict=True):
            if hf is None:
                continue
            df = projected_hessian(structures[i], hf, bases[i])
            best_w, best = 0.0, lowest[i]
            for w in grid:
                f = _lowest((1 - w) * projected[i] + w * df)
                if f > best:
                    best_w, best = w, f
                if f >= threshold_cm1:
                    break
            if best_w > 0:
                out[i], weights[i] = (1 - best_w) * primary[i] + best_w * hf, best_w
    return out, weights


def network_leaves(model) -> tuple:
    """The single networks (`Model`) inside ``model``: itself, an ensemble's members, a cascade's networks."""
    if isinstance(model, Cascade):
        return network_leaves(model.primary) + network_leaves(model.fallback)
    members = getattr(model, "members", None)
    return tuple(members) if members is not None else (model,)


def domain_network(model):
    """The network whose training data stand for ``model``'s domain (`check_domain`): the network of longest cutoff
    among a cascade's primary's networks or an ensemble's members (a row is zero only if zero in every network);
    a single network itself."""
    leaves = network_leaves(model.primary if isinstance(model, Cascade) else model)
    return max(leaves, key=lambda m: m.config.cutoff_angstrom)


def known_elements(model) -> set[int]:
    """Atomic numbers every network of ``model`` (a `Model` or an ensemble) was trained on."""
    return set.intersection(*(set(int(z) for z in m.config.elements) for m in network_leaves(model)))
