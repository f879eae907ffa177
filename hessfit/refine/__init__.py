"""Refine Hessians (scale factors or elements) against measured INS spectra."""

from hessfit.refine._config import RefineConfig
from hessfit.refine._external import fit_external_modes
from hessfit.refine._losses import soft_rank, soft_spearman, wasserstein_loss
from hessfit.refine._parametrize import (Parametrization, class_scales, free_elements, global_scale, internal_scales,
                                         make_parametrization)
from hessfit.refine._refine import Match, RefineResult, refine
from hessfit.refine._report import write_refinement

__all__ = ["RefineConfig", "refine", "RefineResult", "Match", "Parametrization", "make_parametrization",
           "global_scale", "class_scales", "internal_scales", "free_elements", "soft_rank", "soft_spearman",
           "wasserstein_loss", "write_refinement", "fit_external_modes"]

from hessfit._precision import float64_exports  # noqa: E402

float64_exports(globals(), ["refine", "write_refinement", "fit_external_modes"])  # float64 without a global switch
