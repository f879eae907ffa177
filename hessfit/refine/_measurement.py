"""Preprocessing of a measured spectrum shared by `refine` and `finetune`.

- `window_spectrum`: cut the fitted energy window (cm⁻¹) and remove the polynomial lower-envelope baseline;
- `simulation_range_cm1`: the simulation grid range (cm⁻¹) that covers the window plus a margin;
- `background_basis`: the polynomial columns of the background fitted linearly with the intensity scale.
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
