"""Peak detection on a spectrum and optimal (Hungarian) assignment of measured to calculated peaks.

Contract::

    sigma_fn = load_instrument("tosca").sigma_cm1                 # E (cm⁻¹) → Gaussian σ (cm⁻¹)
    measured = detect_peaks(E, I, sigma_fn, prefix="P")           # -> Peaks (P1..Pn, ascending energy)
    calculated = detect_peaks(E_sim, I_sim, sigma_fn, prefix="M") # -> Peaks (M1..Mm)
    assignment = assign_peaks(measured, calculated, sigma_fn)     # -> Assignment

Everything is plain numpy/scipy (not traced); the refinement's peak loss reuses these functions to fix
which calculated peak belongs to which measured one, then differentiates positions itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import numpy as np
from scipy import optimize, signal

from hessfit.errors import ConfigError, ValidationError

#: FWHM / σ of a Gaussian.
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))

SigmaFn = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True, eq=False)
class Peaks:
    """Peaks found in one spectrum, in ascending energy.

    Attributes:
        labels: (k,) str, ``P1..Pk`` (measured) or ``M1..Mk`` (calculated).
        energy_cm1: (k,) float, peak positions (parabolic sub-grid refinement), cm⁻¹.
        height: (k,) float, intensity at the peak (input units).
        prominence: (k,) float, height above the higher of the two surrounding minima (input units).
        width_cm1: (k,) float, full width at half prominence, cm⁻¹.
        index: (k,) int, grid index of each peak's maximum in the input arrays.
        width_sigma: (k,) float, ``width_cm1`` / instrument FWHM at that energy.
    """

    labels: tuple[str, ...]
    energy_cm1: np.ndarray
    height: np.ndarray
    prominence: np.ndarray
    width_cm1: np.ndarray
    index: np.ndarray
    width_sigma: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def strength_rank(self) -> np.ndarray:
        """(k,) float in [0, 1]: 0 for the most prominent peak, 1 for the weakest (ties share a rank)."""
        k = len(self)
        if k <= 1:
            return np.zeros(k)
        from scipy.stats import rankdata

        return (rankdata(-self.prominence) - 1.0) / (k - 1.0)

    def rows(self) -> list[dict[str, Any]]:
        return [dict(label=lab, energy_cm1=float(e), height=float(h), prominence=float(p), width_cm1=float(w))
                for lab, e, h, p, w in zip(self.labels, self.energy_cm1, self.height, self.prominence, self.width_cm1)]


def _subgrid_peak(e, y, i):
    """Vertex of the parabola through points i−1, i, i+1 (non-uniform grid); falls back to e[i]."""
    if i <= 0 or i >= len(e) - 1:
        return float(e[i])
    x0, x1, x2 = e[i - 1], e[i], e[i + 1]
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a >= 0:
        return float(x1)
    vertex = -b / (2.0 * a)
    return float(np.clip(vertex, x0, x2))


def smooth_resolution(energy_cm1, intensity, sigma_fn: SigmaFn, factor: float) -> np.ndarray:
    """Gaussian smoothing with a width of ``factor`` × σ(E) at each point (any grid spacing); (n,) → (n,)."""
    e = np.asarray(energy_cm1, float)
    y = np.asarray(intensity, float)
    if factor <= 0:
        return y.copy()
    width = factor * np.asarray(sigma_fn(e), float) * np.ones_like(e)
    out = np.empty_like(y)
    dx = np.gradient(e)
    for start in range(0, e.size, 1024):
        sl = slice(start, start + 1024)
        z = (e[None, :] - e[sl, None]) / width[sl, None]
        w = np.exp(-0.5 * z * z) * dx[None, :]
        out[sl] = (w @ y) / w.sum(axis=1)
    return out


def detect_peaks(energy_cm1, intensity, sigma_fn: SigmaFn, *, prefix: str = "P", min_prominence: float = 0.02,
                 min_width_fwhm: float = 0.5, error=None, min_snr: float = 3.0, smooth: float = 0.0,
                 max_peaks: int | None = None) -> Peaks:
    """Find peaks with `scipy.signal.find_peaks`, keeping those compatible with the instrument resolution.

    Args:
        energy_cm1: (n,) increasing energies, cm⁻¹ (any spacing).
        intensity: (n,) intensities.
        sigma_fn: resolution, E (cm⁻¹) → Gaussian σ (cm⁻¹), e.g. ``load_instrument(name).sigma_cm1``.
        prefix: label prefix: 'P' measured, 'M' calculated.
        min_prominence: minimum prominence as a fraction of the intensity range (max − min) of the input.
        min_width_fwhm: minimum full width at half prominence in units of the instrument FWHM at the peak
            (rejects one-point noise spikes; a real line cannot be much narrower than the resolution).
        error: optional (n,) one-sigma errors; a peak must also be ``min_snr`` errors prominent.
        min_snr: see ``error``.
        smooth: if > 0, find the peaks on a copy smoothed with a Gaussian of ``smooth`` × σ(E) (a matched filter
            that suppresses noise; 0.5–1 suits noisy measured data). Heights and positions (parabolic vertex) are
            taken from the smoothed copy; widths include the smoothing.
        max_peaks: keep at most this many of the most prominent peaks.

    Returns:
        Peaks, labelled ``{prefix}1..{prefix}k`` in ascending energy.
    """
    e = np.asarray(energy_cm1, float).reshape(-1)
    y = np.asarray(intensity, float).reshape(-1)
    if e.shape != y.shape or e.size < 3:
        raise ValidationError(f"detect_peaks: need matching energy/intensity arrays of ≥ 3 points, got {e.size}, {y.size}")
    if np.any(np.diff(e) <= 0):
        raise ValidationError("detect_peaks: energies must be strictly increasing")
    if min_prominence < 0 or min_width_fwhm < 0:
        raise ConfigError("detect_peaks: min_prominence and min_width_fwhm must be ≥ 0")
    if smooth > 0:
        y = smooth_resolution(e, y, sigma_fn, smooth)
    span = float(np.ptp(y))
    idx, props = signal.find_peaks(y, prominence=max(min_prominence * span, 1e-300))
    if idx.size == 0:
        return _empty(prefix)
    prom = props["prominences"]
    _, _, left, right = signal.peak_widths(y, idx, rel_height=0.5,
                                           prominence_data=(prom, props["left_bases"], props["right_bases"]))
    grid = np.arange(e.size)
    width = np.interp(right, grid, e) - np.interp(left, grid, e)
    pos = np.array([_subgrid_peak(e, y, i) for i in idx])
    fwhm_res = FWHM_PER_SIGMA * np.asarray(sigma_fn(pos), float) * np.ones_like(pos)
    width_sigma = width / fwhm_res
    keep = width_sigma >= min_width_fwhm
    if error is not None:
        err = np.asarray(error, float).reshape(-1)
        keep &= prom >= min_snr * err[idx]
    idx, prom, width, pos, width_sigma = idx[keep], prom[keep], width[keep], pos[keep], width_sigma[keep]
    if max_peaks is not None and idx.size > max_peaks:
        top = np.sort(np.argsort(-prom, kind="stable")[:max_peaks])
        idx, prom, width, pos, width_sigma = idx[top], prom[top], width[top], pos[top], width_sigma[top]
    labels = tuple(f"{prefix}{k + 1}" for k in range(idx.size))
    return Peaks(labels=labels, energy_cm1=pos, height=y[idx], prominence=prom, width_cm1=width, index=idx,
                 width_sigma=width_sigma)


def _empty(prefix: str) -> Peaks:
    z = np.zeros(0)
    return Peaks(labels=(), energy_cm1=z, height=z, prominence=z, width_cm1=z, index=np.zeros(0, int), width_sigma=z)


@dataclasses.dataclass(frozen=True, eq=False)
class Assignment:
    """An optimal one-to-one matching of measured to calculated peaks.

    Attributes:
        measured, calculated: the two peak lists.
        pairs: (K, 2) int, (measured index, calculated index) of each matched pair, ascending measured energy.
        cost: (K,) float, matching cost of each pair (position term + rank term).
        shift_cm1: (K,) float, E_measured − E_calculated, cm⁻¹.
        shift_sigma: (K,) float, ``shift_cm1`` / σ(E_measured).
        unassigned_measured: indices of measured peaks left without a partner.
        unassigned_calculated: indices of calculated peaks left without a partner.
        settings: the parameters used (``rank_weight``, ``max_cost``, ``frequency_scale``).
    """

    measured: Peaks
    calculated: Peaks
    pairs: np.ndarray
    cost: np.ndarray
    shift_cm1: np.ndarray
    shift_sigma: np.ndarray
    unassigned_measured: tuple[int, ...]
    unassigned_calculated: tuple[int, ...]
    settings: Mapping[str, float]

    @property
    def n_assigned(self) -> int:
        return int(self.pairs.shape[0])

    def partner_of_measured(self, i: int) -> int | None:
        hit = np.nonzero(self.pairs[:, 0] == i)[0]
        return int(self.pairs[hit[0], 1]) if hit.size else None

    def rows(self) -> list[dict[str, Any]]:
        """One dict per matched pair, then unassigned measured, then unassigned calculated peaks."""
        m, c = self.measured, self.calculated
        out = []
        for (i, j), cost, sh, ss in zip(self.pairs, self.cost, self.shift_cm1, self.shift_sigma):
            out.append(dict(measured=m.labels[i], measured_cm1=float(m.energy_cm1[i]),
                            measured_prominence=float(m.prominence[i]), calculated=c.labels[j],
                            calculated_cm1=float(c.energy_cm1[j]), calculated_prominence=float(c.prominence[j]),
                            shift_cm1=float(sh), shift_sigma=float(ss), cost=float(cost)))
        for i in self.unassigned_measured:
            out.append(dict(measured=m.labels[i], measured_cm1=float(m.energy_cm1[i]),
                            measured_prominence=float(m.prominence[i]), calculated="", calculated_cm1=np.nan,
                            calculated_prominence=np.nan, shift_cm1=np.nan, shift_sigma=np.nan, cost=np.nan))
        for j in self.unassigned_calculated:
            out.append(dict(measured="", measured_cm1=np.nan, measured_prominence=np.nan, calculated=c.labels[j],
                            calculated_cm1=float(c.energy_cm1[j]), calculated_prominence=float(c.prominence[j]),
                            shift_cm1=np.nan, shift_sigma=np.nan, cost=np.nan))
        return out


def assignment_cost(measured: Peaks, calculated: Peaks, sigma_fn: SigmaFn, *, rank_weight: float = 1.0,
                    frequency_scale: float = 1.0) -> np.ndarray:
    """(n, m) cost: |E_P − s·E_M| / σ(E_P)  +  rank_weight · |rank_P − rank_M| (ranks in [0, 1] by prominence)."""
    em = np.asarray(measured.energy_cm1, float)
    ec = frequency_scale * np.asarray(calculated.energy_cm1, float)
    sig = np.asarray(sigma_fn(em), float) * np.ones_like(em)
    pos = np.abs(em[:, None] - ec[None, :]) / sig[:, None]
    rank = np.abs(measured.strength_rank[:, None] - calculated.strength_rank[None, :])
    return pos + rank_weight * rank


def assign_peaks(measured_peaks: Peaks, calculated_peaks: Peaks, sigma_fn: SigmaFn, *, rank_weight: float = 1.0,
                 max_cost: float = 4.0, frequency_scale: float = 1.0) -> Assignment:
    """Optimal one-to-one assignment (Hungarian, `scipy.optimize.linear_sum_assignment`) with an "unassigned" option.

    Cost of pairing measured peak i with calculated peak j: position difference in resolution units,
    |E_i − s·E_j| / σ(E_i), plus ``rank_weight`` × the difference of their prominence ranks (each in [0, 1]).
    Leaving a peak unassigned costs ``max_cost`` / 2, so a pair is made only if its cost is below ``max_cost``
    (and never above it); the total cost over pairs and unassigned peaks is minimal.

    Args:
        measured_peaks, calculated_peaks: from `detect_peaks`.
        sigma_fn: resolution σ(E) in cm⁻¹ (the measuring instrument's).
        rank_weight: weight of the intensity-rank term (0 = positions only).
        max_cost: threshold above which peaks stay unassigned (default 4: e.g. 3σ apart with ranks 1 apart).
        frequency_scale: multiply calculated energies by this before matching (e.g. 0.97 for a known bias).
    """
    if max_cost <= 0 or rank_weight < 0 or frequency_scale <= 0:
        raise ConfigError("assign_peaks: max_cost and frequency_scale must be > 0 and rank_weight ≥ 0")
    n, m = len(measured_peaks), len(calculated_peaks)
    settings = {"rank_weight": float(rank_weight), "max_cost": float(max_cost), "frequency_scale": float(frequency_scale)}
    if n == 0 or m == 0:
        return Assignment(measured_peaks, calculated_peaks, np.zeros((0, 2), int), np.zeros(0), np.zeros(0),
                          np.zeros(0), tuple(range(n)), tuple(range(m)), settings)
    cost = assignment_cost(measured_peaks, calculated_peaks, sigma_fn, rank_weight=rank_weight,
                           frequency_scale=frequency_scale)
    big = 1e6 * max(max_cost, 1.0)
    half = 0.5 * max_cost
    aug = np.full((n + m, m + n), big)
    aug[:n, :m] = np.where(cost <= max_cost, cost, big)
    aug[:n, m:] = np.where(np.eye(n, dtype=bool), half, big)   # measured i unassigned
    aug[n:, :m] = np.where(np.eye(m, dtype=bool), half, big)   # calculated j unassigned
    aug[n:, m:] = 0.0                                          # dummy–dummy
    rows, cols = optimize.linear_sum_assignment(aug)
    keep = (rows < n) & (cols < m)
    pairs = np.stack([rows[keep], cols[keep]], axis=1).astype(int)
    pairs = pairs[np.argsort(pairs[:, 0])]
    pair_cost = cost[pairs[:, 0], pairs[:, 1]]
    em = measured_peaks.energy_cm1[pairs[:, 0]]
    shift = em - frequency_scale * calculated_peaks.energy_cm1[pairs[:, 1]]
    shift_sigma = shift / (np.asarray(sigma_fn(em), float) * np.ones_like(em))
    un_m = tuple(int(i) for i in range(n) if i not in set(pairs[:, 0].tolist()))
    un_c = tuple(int(j) for j in range(m) if j not in set(pairs[:, 1].tolist()))
    return Assignment(measured_peaks, calculated_peaks, pairs, pair_cost, shift, shift_sigma, un_m, un_c, settings)
