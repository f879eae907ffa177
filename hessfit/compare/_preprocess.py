"""Put a measured and a simulated spectrum on one footing, and score their agreement.

Contract::

    prepared = preprocess(measured, simulated_ds, config)   # -> PreparedSpectra (one grid, both normalised)
    scores = compare_spectra(measured, simulated_ds, config) # -> dict of scores + the preprocessing record

Order of operations (each step is recorded in ``PreparedSpectra.record``):

1. window: keep ``config.window_cm1`` ∩ measured range ∩ simulated range;
2. background (measured only — an isolated-molecule simulation has none): ``'none'``, ``'polynomial'``
   (iteratively clipped polynomial fit to the lower envelope, Lieber & Mahadevan-Jansen 2003) or
   ``'baseline'`` (asymmetric least-squares smooth baseline, Eilers & Boelens 2005);
3. common grid: ``'measured'`` (simulation interpolated onto the measured energies — no interpolation of
   noisy data), ``'simulated'`` (measured interpolated onto the simulation's bin centres), or a number
   (uniform grid with that step, cm⁻¹);
4. normalisation of both: ``'area'`` (unit trapezoid area over the window), ``'max'`` or ``'none'``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

import numpy as np

from hessfit.compare._metrics import METRICS
from hessfit.errors import ConfigError, ValidationError
from hessfit.units import CM1_PER_MEV

BACKGROUNDS = ("none", "polynomial", "baseline")
NORMALISATIONS = ("area", "max", "none")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CompareConfig:
    """How measured and simulated spectra are prepared and compared.

    Attributes:
        window_cm1: (low, high) energy window, cm⁻¹. Default (50, 3500): below ~50 cm⁻¹ lie the elastic line and
            lattice modes an isolated molecule lacks; TOSCA/VISION/TFXA data end at 3500–4000 cm⁻¹ and the
            C–H stretches (~2900–3100) must stay in. Clipped to the range both spectra cover.
        grid: 'measured' (default), 'simulated', or a float step (cm⁻¹) for a uniform grid.
        normalize: 'area' (default), 'max' or 'none'; applied to both spectra after background removal.
        background: 'none' (default), 'polynomial' or 'baseline' (measured spectrum only).
        background_degree: degree of the polynomial background.
        baseline_lambda: smoothness λ of the asymmetric-least-squares baseline (on point index; larger = stiffer).
        baseline_asymmetry: weight p of points above the baseline (small = hug the lower envelope).
        variable: data variable of the simulated dataset to compare ('total' or 'order_1', ...).
    """

    window_cm1: tuple[float, float] = (50.0, 3500.0)
    grid: str | float = "measured"
    normalize: str = "area"
    background: str = "none"
    background_degree: int = 3
    baseline_lambda: float = 1e5
    baseline_asymmetry: float = 0.01
    variable: str = "total"

    def __post_init__(self):
        lo, hi = (float(v) for v in self.window_cm1)
        if not (0 <= lo < hi):
            raise ConfigError(f"window_cm1 must be (low, high) with 0 ≤ low < high, got {self.window_cm1}")
        object.__setattr__(self, "window_cm1", (lo, hi))
        if isinstance(self.grid, str):
            if self.grid not in ("measured", "simulated"):
                try:
                    object.__setattr__(self, "grid", float(self.grid))
                except ValueError:
                    raise ConfigError(f"grid must be 'measured', 'simulated' or a step in cm-1, got {self.grid!r}") from None
        if not isinstance(self.grid, str) and not float(self.grid) > 0:
            raise ConfigError(f"grid step must be positive, got {self.grid}")
        if self.normalize not in NORMALISATIONS:
            raise ConfigError(f"normalize must be one of {', '.join(NORMALISATIONS)}, got {self.normalize!r}")
        if self.background not in BACKGROUNDS:
            raise ConfigError(f"background must be one of {', '.join(BACKGROUNDS)}, got {self.background!r}")
        if not 0 <= self.background_degree <= 10:
            raise ConfigError(f"background_degree must be 0..10, got {self.background_degree}")
        if self.baseline_lambda <= 0 or not 0 < self.baseline_asymmetry < 0.5:
            raise ConfigError("baseline_lambda must be > 0 and 0 < baseline_asymmetry < 0.5")

    def replace(self, **changes) -> "CompareConfig":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedSpectra:
    """Measured and simulated spectra on one grid, ready to score.

    Attributes:
        energy_cm1: (n,) float, common grid, cm⁻¹.
        measured: (n,) float, measured intensity after background removal and normalisation.
        calculated: (n,) float, simulated intensity, normalised the same way.
        measured_error: (n,) float, scaled one-sigma errors, or None.
        background: (n,) float, the subtracted background in the normalised measured units (0 if none).
        measured_raw: (n,) float, measured intensity on the grid before background removal and normalisation.
        record: dict describing every step (window, grid, background coefficients, normalisation factors).
    """

    energy_cm1: np.ndarray
    measured: np.ndarray
    calculated: np.ndarray
    measured_error: np.ndarray | None
    background: np.ndarray
    measured_raw: np.ndarray
    record: Mapping[str, Any]


# ----------------------------------------------------------------------------- pieces

def simulated_arrays(simulated, variable: str = "total") -> tuple[np.ndarray, np.ndarray]:
    """(energy_cm1, intensity per cm⁻¹) from a `hessfit.ins.simulate` Dataset (cm⁻¹ or meV axis), an (E, I) pair
    in cm⁻¹, or anything with ``energy_cm1`` and ``intensity`` (e.g. another MeasuredSpectrum)."""
    if isinstance(simulated, tuple) and len(simulated) == 2:
        e, y = (np.asarray(v, float).reshape(-1) for v in simulated)
        return e, y
    if hasattr(simulated, "energy_cm1") and hasattr(simulated, "intensity"):
        return np.asarray(simulated.energy_cm1, float), np.asarray(simulated.intensity, float)
    try:
        e = np.asarray(simulated["energy"].values, float)
        y = np.asarray(simulated[variable].values, float)
    except KeyError as exc:
        raise ConfigError(f"simulated spectrum has no variable {exc}; available: "
                          f"{', '.join(map(str, getattr(simulated, 'data_vars', [])))}") from None
    if simulated["energy"].attrs.get("units", "cm-1") == "meV":
        e, y = e * CM1_PER_MEV, y / CM1_PER_MEV
    return e, y


def polynomial_background(energy_cm1, intensity, *, degree: int = 3, max_iter: int = 200, tol: float = 1e-6):
    """Polynomial lower envelope by iterative clipping (ModPoly). Returns (background (n,), coefficients).

    Coefficients are for numpy.polynomial.Polynomial in E (cm⁻¹), lowest power first.
    """
    e = np.asarray(energy_cm1, float)
    y = np.asarray(intensity, float)
    poly = np.polynomial.Polynomial
    work = y.copy()
    fit = poly.fit(e, work, degree)
    for _ in range(max_iter):
        base = fit(e)
        new = np.minimum(work, base)
        if np.linalg.norm(new - work) <= tol * max(np.linalg.norm(work), 1e-300):
            break
        work = new
        fit = poly.fit(e, work, degree)
    return fit(e), fit.convert().coef


def als_baseline(intensity, *, lam: float = 1e5, p: float = 0.01, n_iter: int = 20) -> np.ndarray:
    """Asymmetric least-squares smooth baseline (Eilers & Boelens 2005) of an (n,) signal, on point index."""
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    y = np.asarray(intensity, float)
    n = y.size
    if n < 4:
        return np.full_like(y, y.min())
    d = sparse.diags([1.0, -2.0, 1.0], [0, -1, -2], shape=(n, n - 2))
    penalty = lam * (d @ d.T)
    w = np.ones(n)
    z = y
    for _ in range(n_iter):
        wm = sparse.spdiags(w, 0, n, n)
        z = spsolve(sparse.csc_matrix(wm + penalty), w * y)
        w_new = np.where(y > z, p, 1.0 - p)
        if np.array_equal(w_new, w):
            break
        w = w_new
    return np.asarray(z)


def _trapz(y, x) -> float:
    return float(np.trapezoid(y, x)) if hasattr(np, "trapezoid") else float(np.trapz(y, x))


def _normalise(e, y, how: str) -> float:
    if how == "area":
        return _trapz(y, e)
    if how == "max":
        return float(np.max(np.abs(y)))
    return 1.0


def preprocess(measured, simulated, config: CompareConfig | None = None, **overrides) -> PreparedSpectra:
    """Window, background-correct, resample and normalise a measured and a simulated spectrum.

    Args:
        measured: `hessfit.structures.readers.spectrum.MeasuredSpectrum` (energies in cm⁻¹).
        simulated: Dataset from `hessfit.ins.simulate` (uses ``config.variable``), an (energy_cm1, intensity) pair
            (e.g. the bin centres and ``fn(H).sum(0)`` of `hessfit.ins.spectrum_fn_for`) or a MeasuredSpectrum.
        config: CompareConfig; keyword ``overrides`` replace its fields (e.g. ``background='baseline'``).

    Raises:
        ValidationError: the spectra do not overlap inside the window, or fewer than 5 points remain.
    """
    config = (config or CompareConfig()).replace(**overrides) if overrides else (config or CompareConfig())
    e_sim, y_sim = simulated_arrays(simulated, config.variable)
    e_meas = np.asarray(measured.energy_cm1, float)
    y_meas = np.asarray(measured.intensity, float)
    err = None if measured.error is None else np.asarray(measured.error, float)
    lo = max(config.window_cm1[0], float(e_meas[0]), float(e_sim[0]))
    hi = min(config.window_cm1[1], float(e_meas[-1]), float(e_sim[-1]))
    if hi <= lo:
        raise ValidationError(f"measured ({e_meas[0]:g}–{e_meas[-1]:g} cm-1) and simulated ({e_sim[0]:g}–{e_sim[-1]:g} "
                              f"cm-1) spectra do not overlap inside the window {config.window_cm1}")
    keep = (e_meas >= lo) & (e_meas <= hi)
    if keep.sum() < 5:
        raise ValidationError(f"only {int(keep.sum())} measured points in {lo:g}–{hi:g} cm-1; widen the window")
    em, ym = e_meas[keep], y_meas[keep]
    errm = None if err is None else err[keep]
    record: dict[str, Any] = {"window_cm1": [lo, hi], "window_requested_cm1": list(config.window_cm1),
                              "variable": config.variable}

    # background on the measured points (native grid)
    if config.background == "polynomial":
        bg, coef = polynomial_background(em, ym, degree=config.background_degree)
        record["background"] = {"method": "polynomial (iteratively clipped lower envelope)",
                                "degree": config.background_degree, "coefficients_cm1_powers": coef.tolist()}
    elif config.background == "baseline":
        bg = als_baseline(ym, lam=config.baseline_lambda, p=config.baseline_asymmetry)
        record["background"] = {"method": "asymmetric least squares (Eilers & Boelens 2005)",
                                "lambda": config.baseline_lambda, "asymmetry": config.baseline_asymmetry}
    else:
        bg = np.zeros_like(ym)
        record["background"] = {"method": "none"}
    total_area = _trapz(ym, em)
    record["background"]["fraction_of_area_removed"] = _trapz(bg, em) / total_area if total_area else 0.0

    # common grid
    if config.grid == "measured":
        grid = em
        meas_raw, meas_bg, err_g = ym, bg, errm
        record["grid"] = {"kind": "measured", "n_points": int(grid.size)}
    else:
        if config.grid == "simulated":
            grid = e_sim[(e_sim >= lo) & (e_sim <= hi)]
            record["grid"] = {"kind": "simulated", "n_points": int(grid.size),
                              "step_cm1": float(np.median(np.diff(e_sim)))}
        else:
            step = float(config.grid)
            grid = np.arange(lo, hi + 0.5 * step, step)
            grid = grid[grid <= hi]
            record["grid"] = {"kind": "uniform", "step_cm1": step, "n_points": int(grid.size)}
        if grid.size < 5:
            raise ValidationError(f"common grid has {grid.size} points in {lo:g}–{hi:g} cm-1; use a finer grid")
        meas_raw = np.interp(grid, em, ym)
        meas_bg = np.interp(grid, em, bg)
        err_g = None if errm is None else np.interp(grid, em, errm)
    calc = np.interp(grid, e_sim, y_sim)
    meas = meas_raw - meas_bg

    # normalisation
    n_meas = _normalise(grid, meas, config.normalize)
    n_calc = _normalise(grid, calc, config.normalize)
    if n_meas == 0 or not np.isfinite(n_meas):
        raise ValidationError("measured spectrum has zero area/height in the window after background removal")
    if n_calc == 0 or not np.isfinite(n_calc):
        raise ValidationError("simulated spectrum is zero in the comparison window; check the energy ranges")
    record["normalize"] = {"method": config.normalize, "measured_divisor": n_meas, "calculated_divisor": n_calc}
    return PreparedSpectra(energy_cm1=grid, measured=meas / n_meas, calculated=calc / n_calc,
                           measured_error=None if err_g is None else err_g / abs(n_meas),
                           background=meas_bg / n_meas, measured_raw=meas_raw, record=record)


def compare_spectra(measured, simulated, config: CompareConfig | None = None, **overrides) -> dict[str, Any]:
    """Score the agreement of a measured and a simulated spectrum.

    Defaults (`CompareConfig`): window 50–3500 cm⁻¹, the measured energies as the common grid, no background
    removal, both spectra normalised to unit area. See docs/compare.md for why.

    Returns:
        dict with ``spearman``, ``pearson``, ``cosine`` (dimensionless), ``wasserstein_cm1`` (cm⁻¹),
        ``n_points``, ``window_cm1`` and ``preprocessing`` (the full record of `preprocess`, JSON-serialisable).
    """
    prepared = preprocess(measured, simulated, config, **overrides)
    out: dict[str, Any] = {name: fn(prepared.energy_cm1, prepared.measured, prepared.calculated)
                           for name, fn in METRICS.items()}
    out["n_points"] = int(prepared.energy_cm1.size)
    out["window_cm1"] = list(prepared.record["window_cm1"])
    out["preprocessing"] = json.loads(json.dumps(prepared.record))
    return out
