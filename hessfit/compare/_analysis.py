"""The whole interpretation in one call: simulate, compare, find and assign peaks, name the modes.

Contract::

    result = assign_spectrum(structure, hessian, measured, ins_config=InsConfig(instrument="tfxa", max_order=2))
    result.scores            # dict from compare_spectra
    result.assignment        # Assignment (P1..Pn ↔ M1..Mm)
    result.table()           # list of row dicts (CSV-ready): peaks, shifts, modes, shares, descriptions
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from hessfit.compare._contrib import Sticks, peak_contributions, stick_spectrum
from hessfit.compare._describe import describe_modes
from hessfit.compare._metrics import METRICS
from hessfit.compare._peaks import Assignment, assign_peaks, detect_peaks
from hessfit.compare._preprocess import CompareConfig, PreparedSpectra, preprocess, simulated_arrays
from hessfit.ins import InsConfig, load_instrument, simulate
from hessfit.modes import normal_modes


@dataclasses.dataclass(frozen=True, kw_only=True)
class PeakSettings:
    """Peak detection and assignment settings (see `detect_peaks`, `assign_peaks`).

    Attributes:
        min_prominence: measured peaks: minimum prominence, fraction of the intensity range in the window.
        min_prominence_calculated: the same for the calculated spectrum.
        min_width_fwhm: minimum peak width in instrument FWHMs.
        min_snr: minimum prominence in measured one-sigma errors (when the file has errors).
        smooth_measured: smooth the measured spectrum with smooth_measured × σ(E) before peak finding (0 = off).
        rank_weight: weight of the intensity-rank term of the assignment cost.
        max_cost: pairs costlier than this stay unassigned (position in σ + rank term).
        frequency_scale: calculated energies are multiplied by this before matching.
    """

    min_prominence: float = 0.02
    min_prominence_calculated: float = 0.01
    min_width_fwhm: float = 0.5
    min_snr: float = 3.0
    smooth_measured: float = 0.0
    rank_weight: float = 1.0
    max_cost: float = 4.0
    frequency_scale: float = 1.0

    def __post_init__(self):
        from hessfit.errors import ConfigError

        if min(self.min_prominence, self.min_prominence_calculated, self.min_width_fwhm, self.min_snr,
               self.smooth_measured, self.rank_weight) < 0 or self.max_cost <= 0 or self.frequency_scale <= 0:
            raise ConfigError("PeakSettings: thresholds and weights must be ≥ 0, max_cost and frequency_scale > 0")


@dataclasses.dataclass(frozen=True, eq=False)
class ComparisonResult:
    """Everything `assign_spectrum` computed.

    Attributes:
        structure, hessian: the inputs (Hessian (3N, 3N), eV/Å²).
        measured: MeasuredSpectrum as read. simulated: Dataset from `hessfit.ins.simulate` (cm⁻¹ axis).
        prepared: PreparedSpectra (common grid, background, normalisation). scores: dict from the metrics.
        calculated_energy_cm1, calculated_intensity: (k,) simulated total on its own grid inside the window,
            normalised like ``prepared.calculated`` (used for calculated peak detection and plotting).
        assignment: Assignment. contributions: per calculated peak, from `peak_contributions`.
        frequencies_cm1: (M,) mode frequencies. descriptions: (M,) plain-language mode descriptions.
        sticks: order-1/2 Sticks. settings: dict of every setting used (JSON-serialisable).
        modes: hessfit.modes.Modes of ``structure``/``hessian`` (for the viewers).
    """

    structure: Any
    hessian: np.ndarray
    measured: Any
    simulated: Any
    prepared: PreparedSpectra
    scores: dict
    calculated_energy_cm1: np.ndarray
    calculated_intensity: np.ndarray
    assignment: Assignment
    contributions: list
    frequencies_cm1: np.ndarray
    descriptions: list
    sticks: Sticks
    settings: dict
    modes: Any = None

    def table(self) -> list[dict[str, Any]]:
        """Assignment table: one row per matched pair, then unassigned measured and calculated peaks.

        Columns: measured, measured_cm1, calculated, calculated_cm1, shift_cm1, shift_sigma, cost,
        modes ('ν12 fundamental 1021 cm-1 62% | ν3+ν9 combination 1030 cm-1 12%'), main_mode (the largest
        share, e.g. 'ν12' or 'ν3+ν9'), main_mode_cm1, main_mode_description, higher_order_share.
        """
        labels = {lab: k for k, lab in enumerate(self.assignment.calculated.labels)}
        rows = []
        for row in self.assignment.rows():
            row = dict(row)
            k = labels.get(row["calculated"])
            if k is None:
                row.update(modes="", main_mode="", main_mode_cm1=np.nan, main_mode_description="",
                           higher_order_share=np.nan)
            else:
                c = self.contributions[k]
                parts = [f"{'+'.join(f'ν{m}' for m in t['modes'])} {t['kind']} {t['energy_cm1']:.0f} cm-1 "
                         f"{100 * t['share']:.0f}%" for t in c["contributions"]]
                row["modes"] = " | ".join(parts)
                main = c["contributions"][0] if c["contributions"] else None   # the largest share
                if main is None:
                    row.update(main_mode="", main_mode_cm1=np.nan, main_mode_description="")
                else:
                    row["main_mode"] = "+".join(f"ν{m}" for m in main["modes"])
                    row["main_mode_cm1"] = main["energy_cm1"]
                    if main["order"] == 1:
                        row["main_mode_description"] = self.descriptions[main["modes"][0] - 1]
                    else:
                        parts = " and ".join(f"ν{m} ({self.descriptions[m - 1].split(';')[0]})"
                                             for m in dict.fromkeys(main["modes"]))
                        row["main_mode_description"] = f"{main['kind']} of {parts}"
                row["higher_order_share"] = c["higher_order_share"]
            rows.append(row)
        return rows


def assign_spectrum(structure, hessian, measured, *, ins_config: InsConfig | None = None,
                    compare_config: CompareConfig | None = None, peaks: PeakSettings | None = None,
                    resolution_scale: float = 1.0, simulated=None) -> ComparisonResult:
    """Simulate the spectrum of ``structure``/``hessian``, compare it with ``measured`` and assign the peaks.

    Args:
        structure: Structure. hessian: (3N, 3N) eV/Å². measured: MeasuredSpectrum.
        ins_config: simulation settings (instrument, temperature, orders, grid; default InsConfig()); its grid
            must cover the comparison window.
        compare_config: CompareConfig (window, grid, background, normalisation).
        peaks: PeakSettings (detection thresholds, assignment cost).
        resolution_scale: multiplies the instrument σ(E) in the simulation and in the peak analysis.
        simulated: a precomputed `simulate` Dataset (cm⁻¹ axis) to reuse instead of simulating again.
    """
    ins_config = ins_config or InsConfig()
    compare_config = compare_config or CompareConfig()
    peaks = peaks or PeakSettings()
    if ins_config.units != "cm-1":
        ins_config = ins_config.replace(units="cm-1")
    instrument = load_instrument(ins_config.instrument)

    def sigma_fn(e):
        return resolution_scale * instrument.sigma_cm1(e)

    modes = normal_modes(structure, hessian)
    if simulated is None:
        simulated = simulate(structure, hessian, ins_config, resolution_scale=resolution_scale)
    prepared = preprocess(measured, simulated, compare_config)
    scores = {name: fn(prepared.energy_cm1, prepared.measured, prepared.calculated) for name, fn in METRICS.items()}
    scores["n_points"] = int(prepared.energy_cm1.size)
    scores["window_cm1"] = list(prepared.record["window_cm1"])

    lo, hi = prepared.record["window_cm1"]
    e_sim, y_sim = simulated_arrays(simulated, compare_config.variable)
    inside = (e_sim >= lo) & (e_sim <= hi)
    calc_e = e_sim[inside]
    calc_y = y_sim[inside] / prepared.record["normalize"]["calculated_divisor"]

    meas_peaks = detect_peaks(prepared.energy_cm1, prepared.measured, sigma_fn, prefix="P",
                              min_prominence=peaks.min_prominence, min_width_fwhm=peaks.min_width_fwhm,
                              error=prepared.measured_error, min_snr=peaks.min_snr,
                              smooth=peaks.smooth_measured)
    calc_peaks = detect_peaks(calc_e, calc_y, sigma_fn, prefix="M", min_prominence=peaks.min_prominence_calculated,
                              min_width_fwhm=peaks.min_width_fwhm)
    assignment = assign_peaks(meas_peaks, calc_peaks, sigma_fn, rank_weight=peaks.rank_weight,
                              max_cost=peaks.max_cost, frequency_scale=peaks.frequency_scale)
    sticks = stick_spectrum(structure, modes, ins_config)
    total = simulated_arrays(simulated, "total")
    contributions = peak_contributions(calc_peaks.energy_cm1, sticks, sigma_fn, simulated_total=total)
    descriptions = describe_modes(structure, hessian, modes)
    settings = {"ins": {k: v for k, v in dataclasses.asdict(ins_config).items()},
                "compare": json.loads(json.dumps(dataclasses.asdict(compare_config))),
                "peaks": dataclasses.asdict(peaks), "resolution_scale": resolution_scale,
                "preprocessing": json.loads(json.dumps(prepared.record))}
    return ComparisonResult(structure=structure, hessian=np.asarray(hessian, float), measured=measured,
                            simulated=simulated, prepared=prepared, scores=scores, calculated_energy_cm1=calc_e,
                            calculated_intensity=calc_y, assignment=assignment, contributions=contributions,
                            frequencies_cm1=np.asarray(modes.frequencies_cm1), descriptions=descriptions,
                            sticks=sticks, settings=settings, modes=modes)
