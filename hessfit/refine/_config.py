"""`RefineConfig`: a refinement recipe (TOML files in hessfit/refine/recipes/, linked from fitting_configs/recipes/)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hessfit._config_io import dataclass_from_file
from hessfit.errors import ConfigError

RECIPE_DIR = Path(__file__).parent / "recipes"

#: log-scale prior widths (1σ of ln c) of scale factors: stretches are transferable to a few per cent (Pulay SQM
#: factors of one functional scatter by ~2-5 %), bends less, torsions and out-of-plane terms least; pair classes
#: by topological distance likewise
DEFAULT_PRIOR_WIDTHS = {"X-H stretch": 0.05, "X-Y stretch": 0.05, "X-H bend": 0.10, "bend": 0.10, "torsion": 0.20,
                        "out-of-plane": 0.20, "global scale": 0.10, "1-2": 0.05, "1-3": 0.10, "1-4": 0.20,
                        "far": 0.30, "intermolecular scale": 0.30}


def _default_background_degree(subtract_baseline: bool) -> int:
    """The background when none is asked for: none on top of a subtracted baseline, else a constant."""
    return -1 if subtract_baseline else 0


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
        background_degree: degree of the non-negative Bernstein background (0 a constant ≥ 0, 1 any straight line
            ≥ 0, 2 a smooth bowl or hump ≥ 0), fitted in closed form with the intensity scale at every step by bounded
            least squares (scale ≥ min_scale_fraction·‖y‖/‖s‖ > 0, background coefficients ≥ 0); −1: no background.
            Default (None): −1 when ``subtract_baseline`` (the lower envelope is already gone, and a constant fitted
            to the rest sat at ~0.45 of the peaks on hexane, where the measurement falls to 0), else 0. A constant
            changes no rank (bar ties from rounding), so the default recipes' scale factors are the same either way.
        min_scale_fraction: floor of the intensity scale, as a fraction of the scale that matches the norms of the
            simulation and the measurement (so the scale is > 0 by construction).
        fit_resolution: fit a resolution-width scale (bounds resolution_bounds, log-Gaussian prior of width
            resolution_prior_width); off by default: the instrument file's resolution is used as it is.
        fit_wings: fit the phonon-wing A_ISO (Å², bounds wing_bounds, start wing_a_iso).
        external_modes: a molecule measured as a solid: add the external-mode model (a Gaussian lattice-mode band
            on the six rigid-body vectors, `hessfit.ins.external_modes`, 7 samples), its centre and width (cm⁻¹)
            chosen once by `fit_external_modes` on the seed and then held; it drives the phonon wings and the
            multi-phonon background. Not for crystals (they have their own lattice modes).
        scale_bounds: bounds of scale factors (global, classes, internal).
        intermolecular_bounds: bounds of a crystal's 'intermolecular scale' (the factor on the Hessian blocks
            between different molecules; prior width 30 %: intermolecular force constants of GFN2-xTB or DFT-D
            are far less certain than intramolecular ones).
        class_grouping: pair classes of the 'classes' recipe: 'hydrogen' (X–H or X–Y × topological distance, ≤ 8
            classes) or 'elements' (element pair × distance: 18 classes for C8H16O, most of them undetermined).
        class_group_width: > 0 makes the classes prior hierarchical: each class's ln c is shrunk (width from
            prior_widths by distance) towards the mean of its group (X-H, X-Y or the element pair), and that mean
            towards 0 with this width; 0: every class towards 1 independently.
        prior_widths: width w of the log-Gaussian prior ½(ln c / w)² of each scale factor c, by parameter name
            (internal types, 'global scale') or by the topological class suffix ('1-2', '1-3', '1-4', 'far').
        prior_path: prior strength λ of each stage (the last one repeats): the prior is λ·½Σ(ln c/w)² (scale
            recipes) or λ·prior_strength·3N‖PΔP‖²/‖H0‖² (free). Default one strength, 0.01, chosen offline by the
            held-out Spearman of the synthetic recovery benchmark among 0.003, 0.01, 0.03 and strong-to-weak paths
            (docs/refine.md); the held-out score then picks the stage (early stopping) in every run.
        prior_strength: weight of the ‖ΔH‖²/‖H0‖² prior (free parametrisation), multiplied by prior_path.
        prior_variants: config overrides (dicts, e.g. {class_group_width = 0.1}) fitted as well; the fit with the
            best held-out Spearman is returned (prior chosen by validation, at the cost of one fit per variant).
        holdout: validation split of the measured points: 'blocks' (default; every 5th block of holdout_block_sigmas
            resolution widths), 'blocks:K[:OFFSET]', 'range:LO-HI' (cm⁻¹) or 'none'. Held-out points never enter the
            loss, the nuisance fit or the peak matching of the fit.
        holdout_block_sigmas: width of a hold-out block in resolution widths σ(E).
        accept_worse: return the fitted parameters even when the held-out Spearman is below the seed's (by default
            the seed's parameters are kept and the result says so).
        bootstrap: number of warm-started bootstrap refits (noise resampled from the residuals and the hold-out
            offset rotated) for the bootstrap uncertainties; 0 skips them.
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
    background_degree: int | None = None
    min_scale_fraction: float = 0.01
    fit_resolution: bool = False
    resolution_bounds: tuple[float, float] = (0.9, 1.1)
    resolution_prior_width: float = 0.05
    fit_wings: bool = False
    external_modes: bool = False
    wing_a_iso: float = 0.035
    wing_bounds: tuple[float, float] = (0.0, 0.1)
    scale_bounds: tuple[float, float] = (0.75, 1.25)
    intermolecular_bounds: tuple[float, float] = (0.5, 2.0)
    class_grouping: str = "hydrogen"
    class_group_width: float = 0.0
    prior_variants: tuple = ()
    prior_widths: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_PRIOR_WIDTHS))
    prior_path: tuple[float, ...] = (0.01,)
    prior_strength: float = 1.0
    holdout: str = "blocks"
    holdout_block_sigmas: float = 8.0
    accept_worse: bool = False
    bootstrap: int = 0
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
        lo, hi = self.resolution_bounds
        if not 0 < lo <= 1 <= hi:
            raise ConfigError(f"resolution_bounds must satisfy 0 < lower ≤ 1 ≤ upper, got {list(self.resolution_bounds)}")
        if not 0 < self.scale_bounds[0] < 1 < self.scale_bounds[1]:
            raise ConfigError(f"scale_bounds must satisfy 0 < lower < 1 < upper, got {list(self.scale_bounds)}")
        if not 0 < self.intermolecular_bounds[0] < 1 < self.intermolecular_bounds[1]:
            raise ConfigError("intermolecular_bounds must satisfy 0 < lower < 1 < upper, got "
                              f"{list(self.intermolecular_bounds)}")
        if not self.prior_path or min(self.prior_path) < 0:
            raise ConfigError("prior_path must list one or more strengths ≥ 0")
        widths = {**DEFAULT_PRIOR_WIDTHS, **dict(self.prior_widths)}
        if min(widths.values()) <= 0:
            raise ConfigError("prior_widths must be > 0")
        if not 0 < self.min_scale_fraction < 1:
            raise ConfigError("min_scale_fraction must lie in (0, 1)")
        if self.background_degree is None:
            object.__setattr__(self, "background_degree", _default_background_degree(self.subtract_baseline))
        if self.background_degree > 4:
            raise ConfigError("background_degree must be ≤ 4 (a background with few degrees of freedom)")
        variants = tuple(dict(v) for v in self.prior_variants)
        known = {f.name for f in dataclasses.fields(self)} - {"prior_variants"}
        for v in variants:
            if set(v) - known:
                raise ConfigError(f"prior_variants: unknown fields {sorted(set(v) - known)}")
        object.__setattr__(self, "prior_variants", variants)
        object.__setattr__(self, "prior_widths", widths)
        object.__setattr__(self, "prior_path", tuple(float(v) for v in self.prior_path))
        object.__setattr__(self, "resolution_bounds", tuple(self.resolution_bounds))
        object.__setattr__(self, "wing_bounds", tuple(self.wing_bounds))
        object.__setattr__(self, "scale_bounds", tuple(self.scale_bounds))
        object.__setattr__(self, "intermolecular_bounds", tuple(self.intermolecular_bounds))

    def prior_width(self, name: str) -> float:
        """Log-scale prior width of the scale factor called ``name`` (exact name, else its last word)."""
        if name in self.prior_widths:
            return float(self.prior_widths[name])
        return float(self.prior_widths.get(name.split()[-1], 0.10))

    def prior_strength_at(self, stage: int) -> float:
        return self.prior_path[min(stage, len(self.prior_path) - 1)]

    def replace(self, **changes) -> "RefineConfig":
        """A copy with ``changes`` (None values ignored); a default background follows a changed subtract_baseline."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if ("subtract_baseline" in changes and "background_degree" not in changes
                and self.background_degree == _default_background_degree(self.subtract_baseline)):
            changes["background_degree"] = None  # resolved again by __post_init__
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def load(cls, name_or_path: str | Path, **overrides) -> "RefineConfig":
        """Load a recipe by name (file in hessfit/refine/recipes/) or path; ``overrides`` (not None) win."""
        path = Path(name_or_path)
        if path.suffix != ".toml":
            path = RECIPE_DIR / f"{name_or_path}.toml"
        if not path.exists():
            names = ", ".join(sorted(p.stem for p in RECIPE_DIR.glob("*.toml")))
            raise ConfigError(f"unknown recipe {str(name_or_path)!r}; available: {names}, or a .toml path")
        return dataclass_from_file(cls, path, table="refine", what="refine recipe", overrides=overrides)
