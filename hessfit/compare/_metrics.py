"""Agreement scores between two spectra sampled on one common energy grid.

Contract: every score takes ``(a, b)`` — two (n,) intensity vectors on the same grid — and returns a float;
`wasserstein` also needs the grid, ``(energy_cm1, a, b)``, and returns cm⁻¹. Windowing, resampling,
background removal and normalisation happen before (``hessfit.compare.preprocess``).

* `spearman`: Spearman rank correlation, identical to ``scipy.stats.spearmanr(a, b).statistic`` (average ranks
  for ties). Han et al. 2025: ρ > 0.6 ⇒ most peaks are assignable. Insensitive to scale and to any monotonic
  change of the intensities, but dominated by the many low-intensity points of a fine grid.
* `pearson`: linear correlation (scale- and offset-invariant; sensitive to strong peaks).
* `cosine`: normalised dot product (scale-invariant, *not* offset-invariant: a flat background raises it).
* `wasserstein`: 1-D earth mover's distance (cm⁻¹) between the two spectra as distributions over energy;
  negative intensities are clipped to 0. It grows smoothly with peak shifts, where the correlations saturate.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from hessfit.errors import ValidationError


def _pair(a, b, name: str):
    a = np.asarray(a, float).reshape(-1)
    b = np.asarray(b, float).reshape(-1)
    if a.shape != b.shape:
        raise ValidationError(f"{name}: vectors have {a.size} and {b.size} points; resample onto one grid first")
    if a.size < 2:
        raise ValidationError(f"{name}: need at least 2 points, got {a.size}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValidationError(f"{name}: vectors contain NaN or inf")
    return a, b


def spearman(a, b) -> float:
    """Spearman rank correlation of (n,) vectors ``a`` and ``b`` (= scipy.stats.spearmanr; NaN if one is constant)."""
    a, b = _pair(a, b, "spearman")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return pearson(stats.rankdata(a), stats.rankdata(b))


def pearson(a, b) -> float:
    """Pearson correlation of (n,) vectors (NaN if one is constant)."""
    a, b = _pair(a, b, "pearson")
    da, db = a - a.mean(), b - b.mean()
    denom = np.sqrt(np.dot(da, da) * np.dot(db, db))
    if denom == 0:
        return float("nan")
    return float(np.clip(np.dot(da, db) / denom, -1.0, 1.0))


def cosine(a, b) -> float:
    """Cosine similarity a·b / (|a||b|) of (n,) vectors (NaN if one is all zeros)."""
    a, b = _pair(a, b, "cosine")
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    if denom == 0:
        return float("nan")
    return float(np.clip(np.dot(a, b) / denom, -1.0, 1.0))


def wasserstein(energy_cm1, a, b) -> float:
    """1-D Wasserstein (earth mover's) distance in cm⁻¹ between intensities ``a``, ``b`` on grid ``energy_cm1``.

    Each spectrum is treated as point masses a_k·ΔE_k at E_k (ΔE_k = local grid spacing, so a non-uniform grid
    is weighted as a density), negative values clipped to 0; equals ``scipy.stats.wasserstein_distance`` with
    those weights.
    """
    a, b = _pair(a, b, "wasserstein")
    e = np.asarray(energy_cm1, float).reshape(-1)
    if e.shape != a.shape:
        raise ValidationError(f"wasserstein: {e.size} energies for {a.size} intensities")
    dx = np.gradient(e) if e.size > 1 else np.ones(1)
    wa, wb = np.clip(a, 0, None) * dx, np.clip(b, 0, None) * dx
    if wa.sum() <= 0 or wb.sum() <= 0:
        return float("nan")
    return float(stats.wasserstein_distance(e, e, wa, wb))


#: name → function(energy, a, b) used by `compare_spectra`.
METRICS = {
    "spearman": lambda e, a, b: spearman(a, b),
    "pearson": lambda e, a, b: pearson(a, b),
    "cosine": lambda e, a, b: cosine(a, b),
    "wasserstein_cm1": wasserstein,
}
