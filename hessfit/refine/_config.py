"""`RefineConfig`: a refinement recipe (TOML files in fitting_configs/recipes/)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hessfit._config_io import dataclass_from_file
from hessfit.errors import ConfigError

RECIPE_DIR = Path(__file__).parent / "recipes"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RefineConfig:
    """Settings of a refinement.

    Attributes:
        parametrization: 'global', 'classes', 'internal' (Pulay SQM) or 'free' (Hessian elements).
        solver: 'lbfgsb' (SciPy L-BFGS-B on the jit-compiled JAX objective; scale models) or 'adam' (optax, exponential-decay schedule).
        instrument, temperature_k, max_order: simulation settings (see InsConfig).
        e_min_cm1, e_max_cm1: fitted energy window, cm⁻¹ (clipped to the measured range).
        bin_width_cm1: simulation grid step, cm⁻¹ (the simulation is interpolated onto the measured energies).
        w_spearman, w_peak, w_l2, w_wasserstein: loss weights.
        peak_start_stage: first stage that uses the peak loss (earlier stages align by rank correlation only).
        peak_min_share: a calculated peak enters the peak loss only if one fundamental makes at least this share
            of its simulated intensity.
        softness_start, softness_end: soft-rank temperature (fraction of the spectrum's std), annealed geometrically.
        stages, steps_per_stage: outer stages (peak re-matching + annealing) × solver iterations per stage.
        learning_rate: Adam initial step (decays ×0.1 over the run).
        subtract_baseline: remove a smooth lower-envelope polynomial (ModPoly, degree baseline_degree) from the
            measured spectrum once before fitting (multiphonon/lattice background an isolated molecule lacks).
        background_degree: polynomial background (in normalised energy) fitted linearly, in closed form, with the
            intensity scale at every step; −1 fits the intensity scale only.
        fit_resolution: fit a resolution-width scale (bounds resolution_bounds).
        fit_wings: fit the phonon-wing A_ISO (Å², bounds wing_bounds, start wing_a_iso).
        scale_bounds: bounds of scale factors (classes/internal; global uses ±30 %).
        prior_strength: weight of the ‖ΔH‖²/‖H0‖² prior (free parametrisation).
        tol: stop when the loss changes by less than this between stages.
    """

    parametrization: str = "internal"
    solver: str = "lbfgsb"
    instrument: str = "tosca"
    temperature_k: float = 10.0
    max_order: int = 2
    e_min_cm1: float = 50.0
    e_max_cm1: float = 3500.0
    bin_width_cm1: float = 2.0
    w_spearman: float = 1.0
    w_peak: float = 0.05
    peak_start_stage: int = 1
    peak_min_share: float = 0.5
    w_l2: float = 0.0
    w_wasserstein: float = 0.0
    softness_start: float = 0.1
    softness_end: float = 0.01
    stages: int = 3
    steps_per_stage: int = 20
    learning_rate: float = 0.01
    subtract_baseline: bool = True
    baseline_degree: int = 3
    background_degree: int = 0
    fit_resolution: bool = True
    resolution_bounds: tuple[float, float] = (0.5, 2.0)
    fit_wings: bool = False
    wing_a_iso: float = 0.035
    wing_bounds: tuple[float, float] = (0.0, 0.1)
    scale_bounds: tuple[float, float] = (0.5, 1.5)
    prior_strength: float = 1.0
    tol: float = 1e-5

    def __post_init__(self):
        if self.parametrization not in ("global", "classes", "internal", "free"):
            raise ConfigError(f"parametrization must be global, classes, internal or free, got {self.parametrization!r}")
        if self.solver not in ("lbfgsb", "adam"):
            raise ConfigError(f"solver must be lbfgsb or adam, got {self.solver!r}")
        if self.e_max_cm1 <= self.e_min_cm1:
            raise ConfigError("e_max_cm1 must exceed e_min_cm1")
        if self.stages < 1 or self.steps_per_stage < 1:
            raise ConfigError("stages and steps_per_stage must be ≥ 1")
        if min(self.w_spearman, self.w_peak, self.w_l2, self.w_wasserstein) < 0:
            raise ConfigError("loss weights must be ≥ 0")
        object.__setattr__(self, "resolution_bounds", tuple(self.resolution_bounds))
        object.__setattr__(self, "wing_bounds", tuple(self.wing_bounds))
        object.__setattr__(self, "scale_bounds", tuple(self.scale_bounds))

    def replace(self, **changes) -> "RefineConfig":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def load(cls, name_or_path: str | Path, **overrides) -> "RefineConfig":
        """Load a recipe by name (file in fitting_configs/recipes/) or path; ``overrides`` (not None) win."""
        path = Path(name_or_path)
        if path.suffix != ".toml":
            path = RECIPE_DIR / f"{name_or_path}.toml"
        if not path.exists():
            names = ", ".join(sorted(p.stem for p in RECIPE_DIR.glob("*.toml")))
            raise ConfigError(f"unknown recipe {str(name_or_path)!r}; available: {names}, or a .toml path")
        return dataclass_from_file(cls, path, table="refine", what="refine recipe", overrides=overrides)
