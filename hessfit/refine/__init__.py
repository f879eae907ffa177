"""Refine Hessians (scale factors or elements) against measured INS spectra."""

from hessfit.refine._config import RefineConfig
from hessfit.refine._external import fit_external_modes
from hessfit.refine._losses import (l2_loss, linear_nuisance_fit, positive_nuisance_fit, soft_rank, soft_spearman,
                                    wasserstein_loss)
from hessfit.refine._measurement import bernstein_basis, simulation_range_cm1, window_spectrum
from hessfit.refine._parametrize import (Parametrization, class_scales, crystal_parametrization, free_elements,
                                         global_scale, internal_scales, make_parametrization)
from hessfit.refine._refine import Match, RefineResult, refine
from hessfit.refine._report import (check_outdir, chosen_stage_text, heldout_peak_text, scale_factor_rows,
                                   write_refinement)
from hessfit.refine._seeds import plot_seeds, seed_rows, write_seed_table

__all__ = ["RefineConfig", "chosen_stage_text", "heldout_peak_text", "refine", "RefineResult", "Match",
           "Parametrization", "make_parametrization", "crystal_parametrization", "global_scale", "class_scales",
           "internal_scales", "free_elements",
           "soft_rank", "soft_spearman", "wasserstein_loss", "write_refinement", "fit_external_modes", "l2_loss",
           "linear_nuisance_fit",
           "positive_nuisance_fit", "bernstein_basis", "simulation_range_cm1", "window_spectrum", "check_outdir",
           "scale_factor_rows", "plot_seeds", "seed_rows", "write_seed_table"]

from hessfit._precision import float64_exports  # noqa: E402

float64_exports(globals(), ["refine", "write_refinement", "fit_external_modes"])  # float64 without a global switch
