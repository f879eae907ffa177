"""Compare simulated with measured INS spectra: pre-processing, scores, peak assignment, mode descriptions, output.

Data flow::

    measured = read_spectrum("exp.dat", energy_units="cm-1")          # MeasuredSpectrum (cm⁻¹)
    scores = compare_spectra(measured, simulate(structure, H, cfg))   # dict: spearman, pearson, cosine, wasserstein_cm1
    result = assign_spectrum(structure, H, measured, ins_config=cfg)  # peaks P*/M*, Hungarian assignment, modes
    write_report(result, "outdir")                                    # CSV, NetCDF, overlay PNG, Molden, xyz, PNGs
"""

from hessfit.compare._analysis import ComparisonResult, PeakSettings, assign_spectrum
from hessfit.compare._contrib import Sticks, peak_contributions, stick_spectrum
from hessfit.compare._describe import describe_modes, group_motion, potential_energy_distribution
from hessfit.compare._metrics import cosine, pearson, spearman, wasserstein
from hessfit.compare._peaks import Assignment, Peaks, assign_peaks, assignment_cost, detect_peaks
from hessfit.compare._plot import plot_comparison
from hessfit.compare._preprocess import (CompareConfig, PreparedSpectra, als_baseline, compare_spectra,
                                         polynomial_background, preprocess)
from hessfit.compare._report import check_report_writable, comparison_dataset, write_report, write_table_csv
from hessfit.compare._viewers import plot_mode, write_mode_animation, write_mode_png, write_molden
from hessfit.structures import MeasuredSpectrum, read_spectrum

__all__ = [
    "MeasuredSpectrum", "read_spectrum",
    "CompareConfig", "PreparedSpectra", "preprocess", "compare_spectra", "polynomial_background", "als_baseline",
    "spearman", "pearson", "cosine", "wasserstein",
    "Peaks", "Assignment", "detect_peaks", "assign_peaks", "assignment_cost",
    "Sticks", "stick_spectrum", "peak_contributions",
    "potential_energy_distribution", "describe_modes",
    "group_motion",
    "PeakSettings", "ComparisonResult", "assign_spectrum",
    "plot_comparison", "plot_mode", "write_molden", "write_mode_animation", "write_mode_png",
    "write_report", "write_table_csv", "comparison_dataset", "check_report_writable",
]

from hessfit._precision import float64_exports  # noqa: E402

# float64 without a global switch
float64_exports(globals(), ["compare_spectra", "assign_spectrum", "stick_spectrum", "peak_contributions"])
