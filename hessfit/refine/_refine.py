"""Refine a Hessian against a measured INS spectrum.

Data flow: seed Hessian H0 → parametrisation p ↦ H(p) → modes → simulated spectrum (orders 1..n,
resolution scale and wings as nuisance parameters) → interpolated onto the measured energies →
intensity scale and polynomial background fitted linearly (closed form, differentiable) → losses.
Stages: each stage re-matches measured peaks to calculated modes (outside the gradient) and lowers
the soft-rank temperature; within a stage the solver (bounded L-BFGS or Adam) runs a fixed number of steps.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from hessfit.ins import InsConfig, load_instrument, make_modes_spectrum_fn
from hessfit.ins._simulate import make_order1_intensity_fn
from hessfit.modes import internal_basis, modes_from_hessian
from hessfit.refine._config import RefineConfig
from hessfit.refine._losses import (l2_loss, linear_nuisance_fit, peak_loss, soft_spearman, wasserstein_loss)
from hessfit.refine._measurement import background_basis, simulation_range_cm1, window_spectrum
from hessfit.refine._parametrize import Parametrization, make_parametrization
from hessfit.structures._elements import cross_sections


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


class _Problem:
    """The objective and its pieces for one molecule and one measured spectrum."""

    def __init__(self, structure, h_seed, energy, y, config: RefineConfig):
        self.structure, self.config = structure, config
        self.energy, self.y = np.asarray(energy, float), np.asarray(y, float)
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
        basis = jnp.asarray(internal_basis(structure.positions, structure.masses))
        xs = jnp.asarray(cross_sections(structure.numbers, structure.masses, self.ins_config.cross_section))
        e = jnp.asarray(self.energy)
        poly = background_basis(e, config.background_degree, xp=jnp)  # (n, degree + 1), constant
        y_j = jnp.asarray(self.y)
        from scipy.stats import rankdata

        ranks = jnp.asarray(rankdata(self.y))

        def unpack(x):
            k = self.n_h
            res = x[k] if config.fit_resolution else 1.0
            k += int(config.fit_resolution)
            wing = x[k] if config.fit_wings else None
            return x[: self.n_h], res, wing

        def predict(x):
            p, res, wing = unpack(x)
            h = self.param.apply(p)
            modes = modes_from_hessian(h, masses, basis)
            spec = core(modes, xs, res, wing).sum(0)
            s = jnp.interp(e, self.centres, spec)
            cols = jnp.concatenate([s[:, None], poly], axis=1)
            coef = linear_nuisance_fit(cols, y_j)
            return modes, s, cols @ coef

        def loss(x, softness, mode_index, peak_e, peak_sig, peak_mask):
            p, _, _ = unpack(x)
            modes, s, model = predict(x)
            rho = soft_spearman(model, ranks, softness)
            total = config.w_spearman * (1.0 - rho)
            if config.w_peak:
                total = total + config.w_peak * peak_loss(modes.frequencies_cm1, mode_index, peak_e, peak_sig,
                                                           peak_mask)
            if config.w_l2:
                total = total + config.w_l2 * l2_loss(model, y_j)
            if config.w_wasserstein:
                total = total + config.w_wasserstein * wasserstein_loss(e, model, y_j) / 100.0
            total = total + self.param.prior(p)
            return total, (rho, model)

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
        if config.parametrization in ("classes", "internal"):
            return {"bounds": config.scale_bounds}
        if config.parametrization == "free":
            return {"prior_strength": config.prior_strength}
        return {}

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
        modes, s, _ = prediction
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
            # keep peaks made mostly (≥ min_share of the simulated density) by one fundamental, whose frequency
            # then is the peak position; blended and overtone peaks carry no clean frequency information
            density = s_np[calc.index[j]]
            if weight.max() <= 0 or weight.max() / (np.sqrt(2 * np.pi) * sig) < self.config.peak_min_share * density:
                continue
            idx.append(int(np.argmax(weight)))
            pe.append(float(measured_peaks.energy_cm1[i]))
            ps.append(float(sigma_fn(measured_peaks.energy_cm1[i])))
            labels.append(measured_peaks.labels[i])
        return Match(np.asarray(idx, int), np.asarray(pe), np.asarray(ps), tuple(labels))


def _peak_rms(freqs, match: Match) -> float:
    if match.mode_index.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((np.asarray(freqs)[match.mode_index] - match.peak_energy_cm1) ** 2)))


def refine(structure, hessian_seed, measured, config: RefineConfig | None = None, *, progress: bool = False
           ) -> RefineResult:
    """Refine ``hessian_seed`` ((3N, 3N) eV/Å²) of ``structure`` against ``measured`` (MeasuredSpectrum).

    Returns a RefineResult with the refined Hessian, spectra before/after on the measured energies,
    history, metrics (true Spearman, peak-position RMS) and scale-factor uncertainties.
    """
    from hessfit.compare import detect_peaks, spearman
    from hessfit.structures import validate_hessian

    config = config or RefineConfig()
    t0 = time.perf_counter()
    h0 = validate_hessian(hessian_seed, n_atoms=structure.n_atoms, source=f"seed Hessian of {structure.name}")
    energy, y_raw, y, baseline = window_spectrum(
        measured, config.e_min_cm1, config.e_max_cm1, subtract_baseline=config.subtract_baseline,
        baseline_degree=config.baseline_degree, source=getattr(measured, "source", "spectrum"),
        hint="adjust --e-min/--e-max")
    prob = _Problem(structure, h0, energy, y, config)
    measured_peaks = detect_peaks(energy, y_raw - baseline, prob.instrument.sigma_cm1, prefix="P", smooth=0.5)

    x, lo, hi = prob.initial()
    x = jnp.asarray(x)
    lo, hi = jnp.asarray(lo), jnp.asarray(hi)
    prediction0 = prob.predict(x)
    modes0, s0, m0 = prediction0
    freqs0 = np.asarray(modes0.frequencies_cm1)
    match0 = prob.match(prediction0, measured_peaks)

    solver = _make_solver(prob, config)
    history = []
    n_total = config.stages * config.steps_per_stage
    bar = tqdm(total=n_total, desc=f"refine {structure.name} [{config.parametrization}]", disable=not progress,
               leave=False, mininterval=0.5)
    match = match0
    previous = np.inf
    step = 0
    for stage in range(config.stages):
        frac = stage / max(1, config.stages - 1)
        softness = config.softness_start * (config.softness_end / config.softness_start) ** frac
        if stage:
            match = prob.match(prob.predict(x), measured_peaks)
        index, pe, ps, mask = match.padded(max(1, len(measured_peaks)))
        if stage < config.peak_start_stage:  # align by rank correlation first; wrong early matches would pin modes
            mask = jnp.zeros_like(mask)
        args = (jnp.asarray(softness), index, pe, ps, mask)
        x, stage_loss = _run_stage(prob, solver, x, lo, hi, args, config, history, bar, step, stage)
        step += config.steps_per_stage
        if abs(previous - stage_loss) < config.tol:
            break
        previous = stage_loss
    bar.close()

    prediction1 = prob.predict(x)
    modes1, s1, m1 = prediction1
    freqs1 = np.asarray(modes1.frequencies_cm1)
    match1 = prob.match(prediction1, measured_peaks)
    p, res, wing = prob.unpack(x)
    h1 = np.asarray(prob.param.apply(p))
    metrics = {
        # the field's score: simulated vs measured as measured (no background handling), as `hessfit compare`
        "spearman_before": spearman(np.asarray(s0), y_raw), "spearman_after": spearman(np.asarray(s1), y_raw),
        # the fitted score: model (scaled simulation + fitted background) vs baseline-corrected measurement
        "spearman_fit_before": spearman(np.asarray(m0), y), "spearman_fit_after": spearman(np.asarray(m1), y),
        "peak_rms_cm1_before": _peak_rms(freqs0, match0), "peak_rms_cm1_after": _peak_rms(freqs1, match1),
        "n_measured_peaks": len(measured_peaks), "n_matched_before": int(match0.mode_index.size),
        "n_matched_after": int(match1.mode_index.size),
        "n_imaginary_after": int(np.sum(freqs1 < 0)),
    }
    return RefineResult(
        structure=structure, config=config, ins_config=prob.ins_config, parametrization=prob.param,
        params=np.asarray(p), hessian_seed=h0, hessian_refined=0.5 * (h1 + h1.T),
        resolution_scale=float(res), wing_a_iso=float(wing) if wing is not None else 0.0,
        energy_cm1=energy, measured=y, simulated_before=np.asarray(s0), simulated_after=np.asarray(s1),
        model_before=np.asarray(m0), model_after=np.asarray(m1), frequencies_before=freqs0, frequencies_after=freqs1,
        match_before=match0, match_after=match1, history=history, metrics=metrics,
        uncertainties=_uncertainties(prob, x), elapsed_s=time.perf_counter() - t0)


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

    def record(k, value, aux):
        rho_soft, model = aux
        rho = float(spearmanr(np.asarray(model), prob.y).statistic)
        history.append({"step": step0 + k, "stage": stage, "loss": float(value), "soft_spearman": float(rho_soft),
                        "spearman": rho, "softness": float(args[0])})
        bar.set_postfix(loss=f"{float(value):.4f}", spearman=f"{rho:.3f}")
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
