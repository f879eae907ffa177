"""Preprocessing of a measured spectrum shared by `refine` and `finetune`.

- `window_spectrum`: cut the fitted energy window (cm⁻¹) and remove the polynomial lower-envelope baseline;
- `simulation_range_cm1`: the simulation grid range (cm⁻¹) that covers the window plus a margin;
- `background_basis`: the polynomial columns of the background fitted linearly with the intensity scale (finetune);
- `bernstein_basis`: the non-negative Bernstein columns of refine's background (non-negative coefficients give a
  background ≥ 0 everywhere);
- `holdout_mask`: which measured points a refinement holds out for validation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from hessfit.errors import ValidationError

MIN_WINDOW_POINTS = 10
SIMULATION_MARGIN_CM1 = 100.0


class WindowedSpectrum(NamedTuple):
    """A measured spectrum inside the fitted window; all arrays (n,), energies in cm⁻¹."""

    energy: np.ndarray  # energy transfer, cm⁻¹
    y_raw: np.ndarray  # intensity as measured
    y: np.ndarray  # y_raw − baseline if the baseline is subtracted, else a copy of y_raw
    baseline: np.ndarray  # polynomial lower envelope of y_raw (always computed)


def window_spectrum(measured, e_min_cm1: float, e_max_cm1: float, *, subtract_baseline: bool = True,
                    baseline_degree: int = 3, source: str = "spectrum", hint: str = "") -> WindowedSpectrum:
    """Cut ``measured`` (MeasuredSpectrum: ``energy_cm1``, ``intensity``) to e_min_cm1 ≤ E ≤ e_max_cm1 (cm⁻¹).

    The baseline is the ModPoly lower envelope (`hessfit.compare.polynomial_background`, degree
    ``baseline_degree`` in E) of the windowed intensity; ``y`` is the intensity minus it when ``subtract_baseline``.
    Raises ValidationError (one line, starting with ``source``, ending with ``; hint`` if given) when fewer
    than 10 points fall in the window.
    """
    from hessfit.compare import polynomial_background

    e_all, y_all = np.asarray(measured.energy_cm1, float), np.asarray(measured.intensity, float)
    window = (e_all >= e_min_cm1) & (e_all <= e_max_cm1)
    n = int(window.sum())
    if n < MIN_WINDOW_POINTS:
        raise ValidationError(f"{source}: only {n} points in the window {e_min_cm1}-{e_max_cm1} cm⁻¹"
                              + (f"; {hint}" if hint else ""))
    energy, y_raw = e_all[window], y_all[window]
    baseline, _ = polynomial_background(energy, y_raw, degree=baseline_degree)
    y = y_raw - baseline if subtract_baseline else y_raw.copy()
    return WindowedSpectrum(energy, y_raw, y, baseline)


def simulation_range_cm1(energy, margin_cm1: float = SIMULATION_MARGIN_CM1) -> tuple[float, float]:
    """(lo, hi) cm⁻¹ of the simulation grid for measured energies ``energy`` (cm⁻¹).

    lo = max(0, floor(E_min − margin)), hi = ceil(E_max + margin): the window plus a margin (100 cm⁻¹ by default)
    so resolution-broadened peaks just outside it still reach in.
    """
    return max(0.0, math.floor(energy.min() - margin_cm1)), math.ceil(energy.max() + margin_cm1)


def background_basis(energy, degree: int, *, xp=np):
    """(n, degree + 1) columns t**k, k = 0..degree, of the polynomial background; (n, 0) when degree < 0.

    t maps the energies ``energy`` (cm⁻¹) linearly onto [−1, 1] (Chebyshev range, for conditioning).
    ``xp`` is the array namespace (numpy or jax.numpy) the columns are computed in.
    """
    e = xp.asarray(energy)
    if degree < 0:
        return xp.zeros((e.shape[0], 0), dtype=e.dtype)
    t = 2.0 * (e - e.min()) / (e.max() - e.min()) - 1.0
    return xp.stack([t**k for k in range(degree + 1)], axis=1)


def bernstein_basis(energy, degree: int, *, xp=np, e_range=None):
    """(n, degree + 1) Bernstein polynomials C(d, k) t^k (1 − t)^(d − k), t = (E − E_min)/(E_max − E_min) ∈ [0, 1].

    Every column is ≥ 0 and the columns sum to 1, so any non-negative coefficients give a background that is
    ≥ 0 everywhere and lies between the smallest and largest coefficient: degree 0 is a constant, degree 1 any
    non-negative straight line, degree 2 a smooth bowl or hump. (n, 0) when degree < 0. ``energy`` in cm⁻¹;
    ``e_range`` (E_min, E_max) overrides the range of ``energy`` (to evaluate a fitted background on another grid).
    """
    e = xp.asarray(energy)
    if degree < 0:
        return xp.zeros((e.shape[0], 0), dtype=e.dtype)
    lo, hi = (e.min(), e.max()) if e_range is None else e_range
    t = (e - lo) / (hi - lo)
    return xp.stack([math.comb(degree, k) * t**k * (1.0 - t) ** (degree - k) for k in range(degree + 1)], axis=1)


def resolution_units(energy, sigma_fn) -> np.ndarray:
    """Cumulative ∫ dE/σ(E) from the first energy (trapezoid on the given points): distance in resolution widths."""
    e = np.asarray(energy, float)
    inv = 1.0 / np.asarray(sigma_fn(e), float)
    return np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(e))])


def holdout_mask(energy, spec: str, sigma_fn, *, block_sigmas: float = 8.0, every: int = 5, offset: int = 2,
                 source: str = "holdout") -> np.ndarray:
    """Boolean (n,) mask of held-out points of a measured spectrum (energies cm⁻¹, sorted ascending).

    ``spec``:
      * ``blocks`` (default): contiguous blocks ``block_sigmas`` resolution widths wide (σ(E) of the instrument,
        so blocks are as wide in resolution units on a logarithmic or a uniform grid, and a peak's tails rarely
        reach the next block); every ``every``-th block is held out, starting at block ``offset``.
      * ``blocks:K`` or ``blocks:K:OFFSET``: the same with every K-th block (from block OFFSET).
      * ``range:LO-HI``: the energies LO ≤ E ≤ HI (cm⁻¹) are held out.
      * ``none``: nothing is held out (no validation; the seed is never kept on that ground).
    Raises ValidationError (one line naming ``source``) for an unknown spec or a split that leaves fewer
    than 10 points on either side.
    """
    e = np.asarray(energy, float)
    spec = (spec or "blocks").strip().lower()
    if spec == "none":
        return np.zeros(e.size, bool)
    if spec.startswith("range:"):
        try:
            lo, hi = (float(v) for v in spec[6:].split("-"))
        except ValueError:
            raise ValidationError(f"{source}: cannot read {spec!r}; use range:LO-HI in cm⁻¹, e.g. range:1100-1800") from None
        mask = (e >= lo) & (e <= hi)
    elif spec.startswith("blocks"):
        parts = spec.split(":")
        try:
            every = int(parts[1]) if len(parts) > 1 else every
            offset = int(parts[2]) if len(parts) > 2 else offset
        except ValueError:
            raise ValidationError(f"{source}: cannot read {spec!r}; use blocks, blocks:K or blocks:K:OFFSET") from None
        if every < 2 or not 0 <= offset < every:
            raise ValidationError(f"{source}: {spec!r} needs K ≥ 2 and 0 ≤ OFFSET < K")
        block = np.floor(resolution_units(e, sigma_fn) / block_sigmas).astype(int)
        mask = block % every == offset
    else:
        raise ValidationError(f"{source}: unknown hold-out {spec!r}; use blocks, blocks:K[:OFFSET], range:LO-HI or none")
    if mask.sum() < MIN_WINDOW_POINTS or (~mask).sum() < MIN_WINDOW_POINTS:
        raise ValidationError(f"{source}: hold-out {spec!r} leaves {int(mask.sum())} held-out and {int((~mask).sum())} "
                              f"fitted points (need ≥ {MIN_WINDOW_POINTS} each)")
    return mask
