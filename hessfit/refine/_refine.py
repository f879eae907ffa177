"""Refine a Hessian against a measured INS spectrum.

Data flow: seed Hessian H0 → parametrisation p ↦ H(p) → modes → simulated spectrum (orders 1..n,
optional resolution scale and wings as nuisance parameters) → interpolated onto the measured energies →
intensity scale (> 0) and non-negative Bernstein background fitted by bounded least squares on the fitted
points (closed form, differentiable) → losses on the fitted points + λ·log-Gaussian prior on the scale factors.
Validation: a hold-out split of the measured points (interleaved energy blocks by default) never enters the
loss; after the seed and after every stage its Spearman is measured. Stages go from a strong to a weak prior
(λ from ``prior_path``) while the soft-rank temperature is lowered; each re-matches measured peaks to
calculated modes (outside the gradient). The stage with the best held-out Spearman is returned, or the seed
when no stage beats it (unless ``accept_worse``).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from hessfit.ins import (InsConfig, concat_modes, external_modes, load_instrument, make_modes_spectrum_fn,
                         make_order1_intensity_fn)
from hessfit.modes import modes_from_hessian, rigid_body_basis, vibrational_basis
from hessfit.refine._config import RefineConfig
from hessfit.refine._external import EXTERNAL_SAMPLES, external_band
from hessfit.refine._losses import (l2_loss, peak_loss, positive_nuisance_fit, soft_spearman, wasserstein_loss)
from hessfit.refine._measurement import bernstein_basis, holdout_mask, simulation_range_cm1, window_spectrum
from hessfit.refine._parametrize import Parametrization, make_parametrization
from hessfit.structures import cross_sections


@dataclasses.dataclass(frozen=True, eq=False)
class Match:
    """Measured peaks matched to calculated modes (fixed during a stage)."""

    mode_index: np.ndarray  # (K,) int
    peak_energy_cm1: np.ndarray  # (K,)
    peak_sigma_cm1: np.ndarray  # (K,)
    peak_labels: tuple[str, ...]

    @staticmethod
    def empty() -> "Match":
        return Match(np.zeros(0, int), np.zeros(0), np.ones(0), ())

    def padded(self, length: int):
        """(mode_index, energy, sigma, mask) padded to ``length`` entries (mask 0 for padding)."""
        k = self.mode_index.size
        pad = max(0, length - k)
        return (jnp.asarray(np.pad(self.mode_index, (0, pad))), jnp.asarray(np.pad(self.peak_energy_cm1, (0, pad))),
                jnp.asarray(np.pad(self.peak_sigma_cm1, (0, pad), constant_values=1.0)),
                jnp.asarray(np.pad(np.ones(k), (0, pad))))


@dataclasses.dataclass(frozen=True, eq=False)
class RefineResult:
    """Everything a refinement produced (energies cm⁻¹, Hessians eV/Å²)."""

    structure: object
    config: RefineConfig
    ins_config: InsConfig
    parametrization: Parametrization
    params: np.ndarray
    hessian_seed: np.ndarray
    hessian_refined: np.ndarray
    resolution_scale: float
    wing_a_iso: float
    energy_cm1: np.ndarray
    measured: np.ndarray
    simulated_before: np.ndarray
    simulated_after: np.ndarray
    model_before: np.ndarray
    model_after: np.ndarray
    frequencies_before: np.ndarray
    frequencies_after: np.ndarray
    match_before: Match
    match_after: Match
    history: list
    metrics: dict
    uncertainties: np.ndarray | None
    elapsed_s: float
    heldout: np.ndarray | None = None  # (n,) bool: measured points held out for validation
    nuisance_before: np.ndarray | None = None  # (intensity scale, background coefficients ≥ 0) of the seed
    nuisance_after: np.ndarray | None = None
    stages: list = dataclasses.field(default_factory=list)  # per candidate: stage, prior strength, held-out score
    selected_stage: int = -1  # −1: the seed's parameters were kept
    kept_seed: bool = False  # True when the fit lowered the held-out score and the seed was kept
    bootstrap_sigma: np.ndarray | None = None  # bootstrap 1σ of the parameters (noise + hold-out choice)
    at_bounds: dict = dataclasses.field(default_factory=dict)  # parameter name -> 'lower' / 'upper'

    @property
    def parameter_names(self) -> list[str]:
        names = list(self.parametrization.names)
        if self.config.fit_resolution:
            names.append("resolution scale")
        if self.config.fit_wings:
            names.append("wing A_ISO (Å²)")
        return names


class _Problem:
    """The objective and its pieces for one molecule and one measured spectrum."""

    def __init__(self, structure, h_seed, energy, y, config: RefineConfig, held=None, external=None):
        self.structure, self.config = structure, config
        self.energy, self.y = np.asarray(energy, float), np.asarray(y, float)
        self.held = np.zeros(self.energy.size, bool) if held is None else np.asarray(held, bool)
        self.train_idx = np.flatnonzero(~self.held)
        lo, hi = simulation_range_cm1(self.energy)
        self.ins_config = InsConfig(instrument=config.instrument, temperature_k=config.temperature_k,
                                    max_order=config.max_order, e_min_cm1=lo, e_max_cm1=hi,
                                    bin_width_cm1=config.bin_width_cm1,
                                    wing_a_iso=config.wing_a_iso if config.fit_wings else 0.0,
                                    resolution_margin=max(1.0, config.resolution_bounds[1]))
        self.instrument = load_instrument(config.instrument)
        self.param = make_parametrization(config.parametrization, structure, h_seed,
                                          **self._param_options(config))
        self.n_h = self.param.init.size
        core = make_modes_spectrum_fn(self.ins_config)
        order1 = make_order1_intensity_fn(self.ins_config)
        self.centres = jnp.asarray(core.energies_cm1)
        masses = jnp.asarray(structure.masses)
        basis = jnp.asarray(vibrational_basis(structure))  # 3N−6 for a molecule, 3N−3 for a crystal
        xs = jnp.asarray(cross_sections(structure.numbers, structure.masses, self.ins_config.cross_section))
        e = jnp.asarray(self.energy)
        self.background = bernstein_basis(self.energy, config.background_degree)  # (n, degree + 1), ≥ 0
        poly = jnp.asarray(self.background)
        y_j = jnp.asarray(self.y)
        from scipy.stats import rankdata

        tidx = jnp.asarray(self.train_idx)
        w_train = jnp.asarray((~self.held).astype(float))
        y_t = y_j[tidx]
        e_t = e[tidx]
        ranks = jnp.asarray(rankdata(self.y[self.train_idx]))
        y_norm_train = float(np.linalg.norm(self.y[self.train_idx]))
        widths = jnp.asarray([config.prior_width(n) for n in self.param.names]) if self.param.names else None
        # classes: a hierarchical prior, each class shrunk towards its group's mean (X-H / X-Y, or the element
        # pair) and the group mean towards 1 (width class_group_width); the means are profiled out in closed form
        groups = []
        if self.param.kind == "classes" and config.class_group_width > 0:
            keys = [n.split()[0] for n in self.param.names]
            groups = [jnp.asarray([k == g for k in keys], dtype=float) for g in dict.fromkeys(keys)]

        def unpack(x):
            k = self.n_h
            res = x[k] if config.fit_resolution else 1.0
            k += int(config.fit_resolution)
            wing = x[k] if config.fit_wings else None
            return x[: self.n_h], res, wing

        lattice = None
        if external is not None:  # (centre, width) cm⁻¹ of the external-mode band, held (config.external_modes)
            rigid = rigid_body_basis(structure.positions, structure.masses)
            lattice = external_modes(rigid, masses, float(external[0]), float(external[1]), EXTERNAL_SAMPLES)

        def predict(x):
            p, res, wing = unpack(x)
            h = self.param.apply(p)
            modes = modes_from_hessian(h, masses, basis)
            spec = core(modes if lattice is None else concat_modes(modes, lattice), xs, res, wing).sum(0)
            s = jnp.interp(e, self.centres, spec)
            cols = jnp.concatenate([s[:, None], poly], axis=1)
            # intensity scale ≥ min_scale_fraction × the norm-matching scale (> 0), background coefficients ≥ 0;
            # solved on the fitted points only
            floor = config.min_scale_fraction * y_norm_train / (jnp.sqrt(jnp.sum(w_train * s * s)) + 1e-300)
            lower = jnp.concatenate([floor[None], jnp.zeros(poly.shape[1])])
            coef = positive_nuisance_fit(cols, y_j, lower, weights=w_train)
            return modes, s, cols @ coef, spec, coef

        def prior(x):
            """½Σ(ln c/w)² over scale factors (and the resolution scale), or the free recipe's norm prior."""
            p, res, _ = unpack(x)
            if self.param.kind == "free":
                value = self.param.prior(p)
            elif groups:
                theta, a = jnp.log(p), 1.0 / widths**2
                value = 0.0
                for m in groups:  # min over μ of ½Σ_k a_k(θ_k − μ)² + ½μ²/W², μ* = Σaθ/(Σa + 1/W²)
                    mu = jnp.sum(m * a * theta) / (jnp.sum(m * a) + 1.0 / config.class_group_width**2)
                    value = value + 0.5 * jnp.sum(m * a * (theta - mu) ** 2) + 0.5 * (mu / config.class_group_width) ** 2
            else:
                value = 0.5 * jnp.sum((jnp.log(p) / widths) ** 2)
            if config.fit_resolution:
                value = value + 0.5 * (jnp.log(res) / config.resolution_prior_width) ** 2
            return value

        def loss(x, softness, strength, mode_index, peak_e, peak_sig, peak_mask):
            modes, s, model, _, _ = predict(x)
            mt = model[tidx]  # the loss sees the fitted points only
            rho = soft_spearman(mt, ranks, softness)
            total = config.w_spearman * (1.0 - rho)
            if config.w_peak:
                total = total + config.w_peak * peak_loss(modes.frequencies_cm1, mode_index, peak_e, peak_sig,
                                                           peak_mask)
            if config.w_l2:
                total = total + config.w_l2 * l2_loss(mt, y_t)
            if config.w_wasserstein:
                total = total + config.w_wasserstein * wasserstein_loss(e_t, mt, y_t) / 100.0
            total = total + strength * prior(x)
            return total, (rho, model)

        self.prior = prior
        self.unpack = unpack
        self.predict = jax.jit(predict)
        self.loss = loss
        def order1_of_modes(m):  # (frequencies cm⁻¹, order-1 stick intensities)
            return m.frequencies_cm1, order1(m, xs)

        self.order1_of_modes = jax.jit(order1_of_modes)  # for modes that predict already returned
        y_norm = float(np.linalg.norm(self.y))
        # reuses the compiled predict (a separate jit would compile the whole simulator again)
        self.residuals = lambda x: (np.asarray(self.predict(jnp.asarray(x))[2]) - self.y) / y_norm

    @staticmethod
    def _param_options(config):
        crystal = {"intermolecular_bounds": config.intermolecular_bounds}  # used for a crystal only
        if config.parametrization == "classes":
            return {"bounds": config.scale_bounds, "grouping": config.class_grouping, **crystal}
        if config.parametrization in ("global", "internal"):
            return {"bounds": config.scale_bounds, **crystal}
        if config.parametrization == "free":
            return {"prior_strength": config.prior_strength, **crystal}
        return crystal

    def initial(self):
        x, lo, hi = [self.param.init], [self.param.lower], [self.param.upper]
        if self.config.fit_resolution:
            x.append([1.0]), lo.append([self.config.resolution_bounds[0]]), hi.append([self.config.resolution_bounds[1]])
        if self.config.fit_wings:
            x.append([self.config.wing_a_iso]), lo.append([self.config.wing_bounds[0]]), hi.append([self.config.wing_bounds[1]])
        x0 = np.concatenate([np.asarray(v, float) for v in x])
        if self.param.lower is None:  # free elements: only the nuisance parameters are bounded
            lo[0], hi[0] = np.full(self.n_h, -np.inf), np.full(self.n_h, np.inf)
        return x0, np.concatenate([np.asarray(v, float) for v in lo]), np.concatenate([np.asarray(v, float) for v in hi])

    def match(self, prediction, measured_peaks) -> Match:
        """Assign measured peaks to calculated peaks, then each calculated peak to its dominant fundamental.

        ``prediction``: the (modes, simulation, model) that ``self.predict(x)`` returned for the current x.
        """
        from hessfit.compare import assign_peaks, detect_peaks

        if len(measured_peaks) == 0:
            return Match.empty()
        sigma_fn = self.instrument.sigma_cm1
        crystal = getattr(self.structure, "is_crystal", False)
        modes, s = prediction[0], prediction[1]
        calc = detect_peaks(self.energy, np.asarray(s), sigma_fn, prefix="M")
        if len(calc) == 0:
            return Match.empty()
        assignment = assign_peaks(measured_peaks, calc, sigma_fn)
        freqs, inten = (np.asarray(v) for v in self.order1_of_modes(modes))  # reuse predict's modes
        idx, pe, ps, labels = [], [], [], []
        s_np = np.asarray(s)
        for i, j in assignment.pairs:
            ec = calc.energy_cm1[j]
            sig = float(sigma_fn(ec))
            weight = inten * np.exp(-0.5 * ((freqs - ec) / sig) ** 2)
            # keep peaks made mostly (≥ min_share of the simulated density) by one fundamental (in a crystal: with
            # the modes within σ/2 of it, its copies over the molecules and q-points, which the shared parameters
            # move together), whose frequency then is the peak position; blended and overtone peaks carry no
            # clean frequency information
            best = int(np.argmax(weight))
            share = weight[np.abs(freqs - freqs[best]) <= 0.5 * sig].sum() if crystal else weight[best]
            density = s_np[calc.index[j]]
            if weight[best] <= 0 or share / (np.sqrt(2 * np.pi) * sig) < self.config.peak_min_share * density:
                continue
            idx.append(best)
            pe.append(float(measured_peaks.energy_cm1[i]))
            ps.append(float(sigma_fn(measured_peaks.energy_cm1[i])))
            labels.append(measured_peaks.labels[i])
        return Match(np.asarray(idx, int), np.asarray(pe), np.asarray(ps), tuple(labels))


def _peak_rms(freqs, match: Match, keep=None) -> float:
    """RMS (cm⁻¹) of matched mode frequency − measured peak energy, over the entries where ``keep`` (bool) is True."""
    idx, pe = match.mode_index, match.peak_energy_cm1
    if keep is not None:
        idx, pe = idx[keep], pe[keep]
    if idx.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((np.asarray(freqs)[idx] - pe) ** 2)))


def _subset_peaks(peaks, keep):
    keep = np.asarray(keep, bool)
    return dataclasses.replace(peaks, labels=tuple(lab for lab, k in zip(peaks.labels, keep) if k),
                               **{f: np.asarray(getattr(peaks, f))[keep] for f in
                                  ("energy_cm1", "height", "prominence", "width_cm1", "index", "width_sigma")})


def _held_entries(match: Match, energy, held) -> np.ndarray:
    """(K,) bool: the matched measured peak lies on a held-out point (nearest measured energy)."""
    if match.mode_index.size == 0:
        return np.zeros(0, bool)
    nearest = np.abs(np.asarray(energy)[None, :] - match.peak_energy_cm1[:, None]).argmin(axis=1)
    return np.asarray(held)[nearest]


def _score(value) -> float:
    """A held-out Spearman for ranking candidates (NaN, e.g. a constant model, ranks last)."""
    return -np.inf if value is None or not np.isfinite(value) else float(value)


def _scores(pred, y, y_raw, held) -> dict:
    """Spearman on the fitted points (model vs baseline-corrected; simulation vs raw) and on the held-out points."""
    from hessfit.compare import spearman

    s, model = np.asarray(pred[1]), np.asarray(pred[2])
    fit = ~held
    out = {"fitted": spearman(model[fit], y[fit]), "fitted_as_measured": spearman(s[fit], y_raw[fit]),
           "heldout": float("nan"), "heldout_as_measured": float("nan")}
    if held.any():
        out["heldout"] = spearman(model[held], y[held])
        out["heldout_as_measured"] = spearman(s[held], y_raw[held])
    return out


def uniform_grid_scores(prob, pred, y, y_raw, held, step_cm1: float = 1.0) -> dict:
    """Spearman on a uniform ``step_cm1`` grid over the window (both spectra linearly interpolated onto it).

    A logarithmic instrument grid (TFXA, TOSCA: steps ∝ E) puts about half its points below 200 cm⁻¹, so the
    Spearman on the measured grid weighs the low-energy region much more than a uniform grid does.
    Keys: as_measured (simulation vs raw), fit (model vs baseline-corrected), heldout (model, held-out part).
    """
    from hessfit.compare import spearman

    e = prob.energy
    eu = np.arange(np.ceil(e.min()), np.floor(e.max()) + 0.5 * step_cm1, step_cm1)
    s_u = np.interp(eu, np.asarray(prob.centres), np.asarray(pred[3]))
    coef = np.asarray(pred[4])
    model_u = coef[0] * s_u + bernstein_basis(eu, prob.config.background_degree, e_range=(e.min(), e.max())) @ coef[1:]
    y_u, yraw_u = np.interp(eu, e, y), np.interp(eu, e, y_raw)
    held_u = np.asarray(held)[np.clip(np.searchsorted(e, eu), 0, e.size - 1)]
    out = {"as_measured": spearman(s_u, yraw_u), "fit": spearman(model_u, y_u), "heldout": float("nan")}
    if held_u.any():
        out["heldout"] = spearman(model_u[held_u], y_u[held_u])
    return out


def refine(structure, hessian_seed, measured, config: RefineConfig | None = None, *, progress: bool = False
           ) -> RefineResult:
    """Refine ``hessian_seed`` ((3N, 3N) eV/Å²) of ``structure`` against ``measured`` (MeasuredSpectrum).

    With ``config.prior_variants`` (config overrides, e.g. a hierarchical classes prior) the fit is run once
    per variant as well and the result with the highest held-out Spearman is returned (the first on ties);
    ``metrics['prior_variants']`` lists every candidate's held-out score. See `_refine_single`.
    """
    config = config or RefineConfig()
    t0 = time.perf_counter()
    band = external_band(structure, hessian_seed, measured, config) if config.external_modes else None
    best = _refine_single(structure, hessian_seed, measured, config, progress=progress, external=band)
    if band is not None and not best.kept_seed:
        # the band was chosen with the seed's modes; chosen again with the fitted ones, and if it moved, the fit
        # is repeated from the seed with the new band and kept when its held-out score is not lower
        moved = external_band(structure, best.hessian_refined, measured, config)
        if moved != band:
            again = _refine_single(structure, hessian_seed, measured, config, progress=progress, external=moved)
            if _score(again.metrics["spearman_heldout_after"]) >= _score(best.metrics["spearman_heldout_after"]):
                best, band = again, moved
    if not config.prior_variants:
        return dataclasses.replace(best, elapsed_s=time.perf_counter() - t0)
    scores = [{"variant": {}, "spearman_heldout_after": best.metrics["spearman_heldout_after"],
               "kept_seed": best.kept_seed}]
    for variant in config.prior_variants:
        r = _refine_single(structure, hessian_seed, measured, config.replace(**variant), progress=progress,
                           external=band)
        scores.append({"variant": dict(variant), "spearman_heldout_after": r.metrics["spearman_heldout_after"],
                       "kept_seed": r.kept_seed})
        if _score(r.metrics["spearman_heldout_after"]) > _score(best.metrics["spearman_heldout_after"]):
            best = r
    best.metrics["prior_variants"] = scores
    return dataclasses.replace(best, elapsed_s=time.perf_counter() - t0)


def _refine_single(structure, hessian_seed, measured, config: RefineConfig, *, progress: bool = False,
                   external: tuple[float, float] | None = None) -> RefineResult:
    """One refinement of ``hessian_seed`` ((3N, 3N) eV/Å²) of ``structure`` against ``measured``.

    Returns a RefineResult with the refined Hessian (the seed's when the held-out Spearman fell and
    ``config.accept_worse`` is False: then ``kept_seed`` is True), spectra before/after on the measured energies,
    history, metrics (true Spearman fitted and held-out, on the measured and a uniform 1 cm⁻¹ grid, peak-position
    RMS) and scale-factor uncertainties (curvature; bootstrap when ``config.bootstrap`` > 0). ``external``: the
    (centre, width) cm⁻¹ of a held external-mode band (`config.external_modes`), or None.
    """
    from hessfit.compare import detect_peaks, spearman
    from hessfit.structures import validate_hessian

    t0 = time.perf_counter()
    h0 = validate_hessian(hessian_seed, n_atoms=structure.n_atoms, source=f"seed Hessian of {structure.name}")
    source = getattr(measured, "source", "spectrum") or "spectrum"
    energy, y_raw, y, baseline = window_spectrum(
        measured, config.e_min_cm1, config.e_max_cm1, subtract_baseline=config.subtract_baseline,
        baseline_degree=config.baseline_degree, source=source, hint="adjust --e-min/--e-max")
    sigma_fn = load_instrument(config.instrument).sigma_cm1
    held = holdout_mask(energy, config.holdout, sigma_fn, block_sigmas=config.holdout_block_sigmas, source=source)
    prob = _Problem(structure, h0, energy, y, config, held, external)
    measured_peaks = detect_peaks(energy, y_raw - baseline, prob.instrument.sigma_cm1, prefix="P", smooth=0.5)
    # the fit sees only the peaks on fitted points; all peaks are matched for the report
    fit_peaks = _subset_peaks(measured_peaks, ~held[np.asarray(measured_peaks.index, int)])

    x, lo, hi = prob.initial()
    x = jnp.asarray(x)
    lo, hi = jnp.asarray(lo), jnp.asarray(hi)
    prediction0 = prob.predict(x)
    match0 = prob.match(prediction0, measured_peaks)
    scores0 = _scores(prediction0, y, y_raw, held)

    solver = _make_solver(prob, config)
    history = []
    n_total = config.stages * config.steps_per_stage
    bar = tqdm(total=n_total, desc=f"refine {structure.name} [{config.parametrization}]", disable=not progress,
               leave=False, mininterval=0.5)
    candidates = [dict(stage=-1, prior_strength=float("nan"), loss=float("nan"), x=np.asarray(x), **scores0)]
    match = prob.match(prediction0, fit_peaks)
    previous = np.inf
    step = 0
    for stage in range(config.stages):
        frac = stage / max(1, config.stages - 1)
        softness = config.softness_start * (config.softness_end / config.softness_start) ** frac
        strength = config.prior_strength_at(stage)
        if stage:
            match = prob.match(prob.predict(x), fit_peaks)
        index, pe, ps, mask = match.padded(max(1, len(fit_peaks)))
        if stage < config.peak_start_stage:  # align by rank correlation first; wrong early matches would pin modes
            mask = jnp.zeros_like(mask)
        args = (jnp.asarray(softness), jnp.asarray(strength), index, pe, ps, mask)
        x, stage_loss = _run_stage(prob, solver, x, lo, hi, args, config, history, bar, step, stage)
        sc = _scores(prob.predict(x), y, y_raw, held)
        candidates.append(dict(stage=stage, prior_strength=strength, loss=stage_loss, x=np.asarray(x), **sc))
        step += config.steps_per_stage
        if abs(previous - stage_loss) < config.tol:
            break
        previous = stage_loss
    bar.close()

    # early stopping and prior strength by validation: the stage with the best held-out Spearman (the earliest,
    # i.e. the most strongly regularised, on ties); when even that is below the seed's score, the seed's
    # parameters, or with accept_worse the last (least regularised) stage, the fit the user asked for
    fitted = candidates[1:]
    best = max(fitted, key=lambda c: _score(c["heldout"])) if held.any() else fitted[-1]
    worse = bool(held.any()) and _score(best["heldout"]) < _score(scores0["heldout"])
    kept_seed = worse and not config.accept_worse
    chosen = candidates[0] if kept_seed else fitted[-1] if worse else best
    x = jnp.asarray(chosen["x"])

    prediction1 = prob.predict(x)
    modes0, s0, m0 = prediction0[:3]
    modes1, s1, m1 = prediction1[:3]
    freqs0, freqs1 = np.asarray(modes0.frequencies_cm1), np.asarray(modes1.frequencies_cm1)
    match1 = prob.match(prediction1, measured_peaks)
    p, res, wing = prob.unpack(x)
    h1 = np.asarray(prob.param.apply(p))
    scores1 = _scores(prediction1, y, y_raw, held)
    uni0, uni1 = (uniform_grid_scores(prob, pr, y, y_raw, held) for pr in (prediction0, prediction1))
    h0e, h1e = _held_entries(match0, energy, held), _held_entries(match1, energy, held)
    metrics = {
        # the field's score: simulated vs measured as measured (no background handling), as `hessfit compare`
        "spearman_before": spearman(np.asarray(s0), y_raw), "spearman_after": spearman(np.asarray(s1), y_raw),
        # the fitted score: model (scaled simulation + fitted background) vs baseline-corrected measurement
        "spearman_fit_before": spearman(np.asarray(m0), y), "spearman_fit_after": spearman(np.asarray(m1), y),
        # the same on the fitted points only and on the held-out points only (validation)
        "spearman_fitted_before": scores0["fitted"], "spearman_fitted_after": scores1["fitted"],
        "spearman_heldout_before": scores0["heldout"], "spearman_heldout_after": scores1["heldout"],
        "spearman_heldout_as_measured_before": scores0["heldout_as_measured"],
        "spearman_heldout_as_measured_after": scores1["heldout_as_measured"],
        # on a uniform 1 cm⁻¹ grid (the measured grid of TFXA/TOSCA is logarithmic)
        "spearman_uniform_before": uni0["as_measured"], "spearman_uniform_after": uni1["as_measured"],
        "spearman_uniform_fit_before": uni0["fit"], "spearman_uniform_fit_after": uni1["fit"],
        "spearman_uniform_heldout_before": uni0["heldout"], "spearman_uniform_heldout_after": uni1["heldout"],
        "peak_rms_cm1_before": _peak_rms(freqs0, match0), "peak_rms_cm1_after": _peak_rms(freqs1, match1),
        "peak_rms_heldout_cm1_before": _peak_rms(freqs0, match0, h0e),
        "peak_rms_heldout_cm1_after": _peak_rms(freqs1, match1, h1e),
        "n_heldout_matched_before": int(np.sum(h0e)), "n_heldout_matched_after": int(np.sum(h1e)),
        "n_measured_peaks": len(measured_peaks), "n_heldout_peaks": len(measured_peaks) - len(fit_peaks),
        "n_matched_before": int(match0.mode_index.size), "n_matched_after": int(match1.mode_index.size),
        "n_imaginary_before": int(np.sum(freqs0 < 0)), "n_imaginary_after": int(np.sum(freqs1 < 0)),
        "holdout": config.holdout, "n_points": int(energy.size), "n_heldout_points": int(held.sum()),
        "fraction_points_below_200_cm1": float(np.mean(energy < 200.0)),
        "selected_stage": int(chosen["stage"]), "selected_prior_strength": float(chosen["prior_strength"]),
        "kept_seed": bool(kept_seed), "heldout_worse": bool(worse),
        "intensity_scale_before": float(prediction0[4][0]), "intensity_scale_after": float(prediction1[4][0]),
        **({"external_centre_cm1": external[0], "external_width_cm1": external[1]} if external else {}),
    }
    names = list(prob.param.names) + (["resolution scale"] if config.fit_resolution else []) + (
        ["wing A_ISO (Å²)"] if config.fit_wings else [])
    at_bounds = {}
    if prob.param.lower is not None:
        xv, lov, hiv = np.asarray(x), np.asarray(lo), np.asarray(hi)
        tol = 1e-3 * (hiv - lov)
        for k, name in enumerate(names):
            if xv[k] <= lov[k] + tol[k]:
                at_bounds[name] = "lower"
            elif xv[k] >= hiv[k] - tol[k]:
                at_bounds[name] = "upper"
    stages = [{k: v for k, v in c.items() if k != "x"} for c in candidates]
    boot = None
    if config.bootstrap > 0 and not kept_seed and prob.param.kind != "free":
        boot = _bootstrap(structure, h0, energy, y, config, prob, x, chosen, progress=progress)
    return RefineResult(
        structure=structure, config=config, ins_config=prob.ins_config, parametrization=prob.param,
        params=np.asarray(p), hessian_seed=h0, hessian_refined=0.5 * (h1 + h1.T),
        resolution_scale=float(res), wing_a_iso=float(wing) if wing is not None else 0.0,
        energy_cm1=energy, measured=y, simulated_before=np.asarray(s0), simulated_after=np.asarray(s1),
        model_before=np.asarray(m0), model_after=np.asarray(m1), frequencies_before=freqs0, frequencies_after=freqs1,
        match_before=match0, match_after=match1, history=history, metrics=metrics,
        uncertainties=_uncertainties(prob, x), elapsed_s=time.perf_counter() - t0, heldout=held,
        nuisance_before=np.asarray(prediction0[4]), nuisance_after=np.asarray(prediction1[4]), stages=stages,
        selected_stage=int(chosen["stage"]), kept_seed=bool(kept_seed), bootstrap_sigma=boot, at_bounds=at_bounds)


def _bootstrap(structure, h0, energy, y, config, prob, x, chosen, *, progress) -> np.ndarray:
    """1σ of the parameters over ``config.bootstrap`` warm-started refits.

    Each replicate (a) rotates the held-out blocks (blocks:K:OFFSET → the next OFFSET; other splits stay) and
    (b) resamples the noise: the residual of the chosen model, sign-flipped per hold-out-sized block (a wild
    bootstrap that keeps the correlation of neighbouring points), added back to the model. It then runs one stage
    from the chosen parameters at the final softness and the chosen prior strength.
    """
    from hessfit.refine._measurement import resolution_units

    rng = np.random.default_rng(0)
    model = np.asarray(prob.predict(x)[2])
    resid = y - model
    sigma_fn = prob.instrument.sigma_cm1
    block = np.floor(resolution_units(energy, sigma_fn) / config.holdout_block_sigmas).astype(int)
    spec = config.holdout.strip().lower()
    every, offset = 5, 2
    if spec.startswith("blocks"):
        parts = spec.split(":")
        every = int(parts[1]) if len(parts) > 1 else every
        offset = int(parts[2]) if len(parts) > 2 else offset
    strength = chosen["prior_strength"] if np.isfinite(chosen["prior_strength"]) else config.prior_path[-1]
    samples = []
    for b in range(config.bootstrap):
        if spec.startswith("blocks"):
            spec_b = f"blocks:{every}:{(offset + b + 1) % every}"
        else:
            spec_b = spec
        held_b = holdout_mask(energy, spec_b, sigma_fn, block_sigmas=config.holdout_block_sigmas)
        signs = rng.choice([-1.0, 1.0], size=block.max() + 1)[block]
        pb = _Problem(structure, h0, energy, model + signs * resid, config, held_b)
        _, lo, hi = pb.initial()
        solver = _make_solver(pb, config)
        args = (jnp.asarray(config.softness_end), jnp.asarray(strength), *Match.empty().padded(1))
        bar = tqdm(total=config.steps_per_stage, disable=not progress, leave=False,
                   desc=f"bootstrap {b + 1}/{config.bootstrap}")
        xb, _ = _run_stage(pb, solver, jnp.asarray(x), jnp.asarray(lo), jnp.asarray(hi), args, config, [], bar, 0, 0)
        bar.close()
        samples.append(np.asarray(xb))
    return np.std(np.asarray(samples), axis=0, ddof=1) if len(samples) > 1 else None


def _make_solver(prob, config):
    """One compiled objective for all stages (stage arguments keep fixed shapes, so nothing recompiles)."""
    value_and_grad = jax.value_and_grad(prob.loss, has_aux=True)
    if config.solver == "lbfgsb":
        return {"value_and_grad": jax.jit(value_and_grad)}
    import optax

    total = config.stages * config.steps_per_stage
    schedule = optax.exponential_decay(config.learning_rate, transition_steps=total, decay_rate=0.1)
    opt = optax.adam(schedule)

    @jax.jit
    def step(x, state, lo, hi, *args):
        (value, aux), g = value_and_grad(x, *args)
        updates, state = opt.update(g, state, x)
        return jnp.clip(optax.apply_updates(x, updates), lo, hi), state, value, aux

    return {"init": opt.init, "step": step, "state": None}


def _run_stage(prob, solver, x, lo, hi, args, config, history, bar, step0, stage):
    from scipy.optimize import minimize
    from scipy.stats import spearmanr

    held, fit = prob.held, prob.train_idx

    def record(k, value, aux):
        rho_soft, model = aux
        model = np.asarray(model)
        rho = float(spearmanr(model[fit], prob.y[fit]).statistic)
        rho_held = float(spearmanr(model[held], prob.y[held]).statistic) if held.any() else float("nan")
        history.append({"step": step0 + k, "stage": stage, "loss": float(value), "soft_spearman": float(rho_soft),
                        "spearman": rho, "spearman_heldout": rho_held, "softness": float(args[0]),
                        "prior_strength": float(args[1])})
        bar.set_postfix(loss=f"{float(value):.4f}", fitted=f"{rho:.3f}", heldout=f"{rho_held:.3f}")
        bar.update(1)

    if config.solver == "lbfgsb":
        # scipy's L-BFGS-B (bounded, robust line search) on the jit-compiled JAX value and gradient: one
        # compilation of the objective, ~1.1 evaluations per iteration
        last = {"k": 0}

        def fun(xv):
            (value, aux), g = solver["value_and_grad"](jnp.asarray(xv), *args)
            last.update(x=np.array(xv), value=float(value), aux=aux)
            return float(value), np.asarray(g, dtype=float)

        def callback(intermediate_result):
            if not np.array_equal(intermediate_result.x, last["x"]):
                fun(intermediate_result.x)
            record(last["k"], last["value"], last["aux"])
            last["k"] += 1

        n_before = bar.n
        res = minimize(fun, np.asarray(x, float), jac=True, method="L-BFGS-B", callback=callback,
                       bounds=list(zip(np.asarray(lo, float), np.asarray(hi, float))),
                       options={"maxiter": config.steps_per_stage, "ftol": 1e-12, "gtol": 1e-9})
        bar.update(config.steps_per_stage - (bar.n - n_before))
        return jnp.asarray(res.x), float(res.fun)
    if solver["state"] is None:
        solver["state"] = solver["init"](x)
    value = np.inf
    for k in range(config.steps_per_stage):
        x, solver["state"], value, aux = solver["step"](x, solver["state"], lo, hi, *args)
        record(k, value, aux)
    return x, float(value)


def _uncertainties(prob: _Problem, x) -> np.ndarray | None:
    """1σ of the scale parameters from the curvature of the least-squares misfit: diag((JᵀJ)⁻¹)·RSS/(n−k)."""
    if prob.param.kind == "free":
        return None
    # central differences (the order-2 kernel has a reverse-mode rule only; k forward pairs are cheap)
    x = np.asarray(x, float)
    steps = 1e-5 * np.maximum(1.0, np.abs(x))
    cols = []
    for i, h in enumerate(steps):
        dx = np.zeros_like(x)
        dx[i] = h
        cols.append((prob.residuals(x + dx) - prob.residuals(x - dx)) / (2.0 * h))
    jac = np.stack(cols, axis=1)
    r = prob.residuals(x)
    n, k = jac.shape
    jtj = jac.T @ jac
    try:
        cov = np.linalg.pinv(jtj) * float(r @ r) / max(1, n - k)
    except np.linalg.LinAlgError:
        return None
    return np.sqrt(np.clip(np.diag(cov), 0, None))
