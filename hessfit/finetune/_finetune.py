"""The fine-tuning loop: optax Adam on the trainable parameter group, checkpoints and resume, tqdm progress.

Run folder (``out``): ``model.json`` + ``params.msgpack`` (the fine-tuned model, loadable with
``load_model(out)`` / ``--model out``), ``finetune.json`` (settings, entries, base model), ``checkpoint.msgpack``
(parameters, optimiser state, step; rewritten every ``checkpoint_every_s`` and at the end), ``history.json``
(per step: loss terms, mean Spearman) and ``summary.json`` (per entry Spearman and frequencies before/after).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hessfit._run_folder import RunFolder
from hessfit.errors import ConfigError, ConvergenceError
from hessfit.finetune._config import FinetuneConfig, SpectrumEntry
from hessfit.finetune._loss import PreparedEntry, ReplayTerm, SpectralTerm, param_l2, prepare_entry, trainable_mask


@dataclasses.dataclass(frozen=True, eq=False)
class FinetuneResult:
    """The fine-tuned model, history, per-entry summary and the run folder."""

    model: object
    history: list
    summary: dict
    out_dir: Path
    seconds_per_step: float


class Objective:
    """The full fine-tuning loss L(θ) (see `FinetuneConfig`) with its gradient on the trainable parameters."""

    def __init__(self, model, entries: list[PreparedEntry], config: FinetuneConfig, *, replay: ReplayTerm | None = None):
        self.model, self.config = model, config
        self.params0 = jax.tree_util.tree_map(jnp.asarray, model.params)
        self.mask = trainable_mask(model.params, config.trainable, model.config.n_layers)
        self.spectral = SpectralTerm(model.config, entries, max_atoms_per_pack=config.max_atoms_per_pack)
        self.replay = replay

    def softness(self, step: int) -> float:
        c = self.config
        frac = min(step / max(1, c.steps - 1), 1.0)
        return c.softness_start * (c.softness_end / c.softness_start) ** frac

    def value_and_grad(self, params, step: int):
        c = self.config
        spec, aux, grads = self.spectral.value_and_grad(params, self.mask, self.softness(step), c.w_spearman, c.w_l2)
        terms = {"spectral": spec}
        total = spec
        if c.param_l2_weight:
            r, g = param_l2(params, self.params0, self.mask)
            terms["param_l2"] = r
            total += c.param_l2_weight * r
            grads = jax.tree_util.tree_map(lambda a, b: a + c.param_l2_weight * b.astype(a.dtype), grads, g)
        if self.replay is not None and c.replay_weight:
            r, g = self.replay.value_and_grad(params, self.mask, step)
            terms["replay"] = r
            total += c.replay_weight * r
            grads = jax.tree_util.tree_map(lambda a, b: a + c.replay_weight * b.astype(a.dtype), grads, g)
        return total, grads, terms, aux

    def value(self, params, step: int) -> float:
        c = self.config
        total, _ = self.spectral.value(params, self.mask, self.softness(step), c.w_spearman, c.w_l2)
        if c.param_l2_weight:
            total += c.param_l2_weight * param_l2(params, self.params0, self.mask)[0]
        if self.replay is not None and c.replay_weight:
            total += c.replay_weight * self.replay.value(params, step)
        return total


def make_optimizer(config: FinetuneConfig, mask) -> optax.GradientTransformation:
    """Adam (cosine decay to 10 %) with gradient clipping on the trainable leaves; frozen leaves get zero updates."""
    schedule = optax.cosine_decay_schedule(config.learning_rate, max(config.steps, 1), alpha=0.1)
    labels = jax.tree_util.tree_map(lambda m: "train" if m else "freeze", mask)
    return optax.multi_transform({"train": optax.chain(optax.clip_by_global_norm(config.grad_clip_norm),
                                                       optax.adam(schedule)),
                                  "freeze": optax.set_to_zero()}, labels)


def entry_spearmans(entries: list[PreparedEntry], aux) -> list[float]:
    """True Spearman ρ of each entry's fitted model spectrum with its (baseline-subtracted) measurement."""
    from hessfit.compare import spearman

    return [float(spearman(np.asarray(a[1]), e.y)) for e, a in zip(entries, aux)]


def load_entries(entries: list[SpectrumEntry], config: FinetuneConfig, model) -> list[PreparedEntry]:
    """Read each entry's structure and spectrum files and preprocess them."""
    from hessfit.compare import read_spectrum
    from hessfit.structures import read_structure

    out = []
    for e in entries:
        s = read_structure(e.structure)
        m = read_spectrum(e.spectrum, energy_units=e.energy_units)
        out.append(prepare_entry(s, m, e, config, elements=model.config.elements))
    return out


def make_replay(model, config: FinetuneConfig, *, dataset=None) -> ReplayTerm | None:
    """The replay term from ``config.replay_*`` (None when replay_weight is 0)."""
    if not config.replay_weight:
        return None
    from hessfit.structures import load_dataset
    from hessfit.train import split_indices

    if dataset is None:
        if not Path(config.replay_dataset).is_file():
            raise ConfigError(f"{config.replay_dataset}: replay dataset not found")
        dataset = load_dataset(config.replay_dataset)
    if config.replay_split:
        path = Path(config.replay_split)
        if not path.is_file():
            raise ConfigError(f"{path}: replay split file not found")
        split = json.loads(path.read_text())
        if split.get("n_molecules") not in (None, len(dataset)):
            raise ConfigError(f"{path}: split of {split.get('n_molecules')} molecules, dataset has {len(dataset)}")
        train_idx = np.asarray(split["train"], int)
    else:
        tc = model.metadata.get("train_config")
        if not tc:
            raise ConfigError("replay needs replay_split: the base model's metadata has no train_config to rebuild "
                              "its training split from")
        seed = model.metadata.get("split_seed", tc["seed"])  # the trainer records the split's seed
        train_idx = split_indices(len(dataset), seed=int(seed), fractions=tc["split_fractions"])["train"]
    rng = np.random.default_rng(config.seed)
    idx = np.sort(rng.choice(train_idx, size=min(config.replay_molecules, len(train_idx)), replace=False))
    return ReplayTerm(model.config, dataset, idx, model.params, trainable_mask(model.params, config.trainable,
                                                                               model.config.n_layers),
                      batch_atoms=config.replay_batch_atoms, probes=config.replay_probes, seed=config.seed)


def finetune(model, entries: list[PreparedEntry], config: FinetuneConfig, out_dir: str | Path, *,
             replay: ReplayTerm | None = None, entry_settings: list | None = None, base_model: str | None = None,
             resume: bool = True, progress: bool = False) -> FinetuneResult:
    """Fine-tune ``model`` (hessfit.model.Model) on prepared entries; writes the run folder ``out_dir``.

    An existing run in ``out_dir`` with the same settings is resumed from its checkpoint; different settings
    raise ConfigError (use a new folder).
    """
    from hessfit.model import Model, save_model

    run = RunFolder(out_dir, "finetune.json", config.checkpoint_every_s)
    out = run.path
    settings = {"config": config.to_dict(), "entries": entry_settings or [e.name for e in entries],
                "base_model": base_model, "model_config": model.config.to_dict()}
    if run.has_checkpoint():
        if not resume:
            raise ConfigError(f"{out}: holds a fine-tuning run; resume it or use a new --out folder")
        run.require_same_settings(settings, may_change={"config.steps", "config.checkpoint_every_s"})
    run.write_settings(settings)

    obj = Objective(model, entries, config, replay=replay)
    optimizer = make_optimizer(config, obj.mask)
    params = jax.tree_util.tree_map(jnp.asarray, model.params)
    state = {"params": params, "opt_state": optimizer.init(params), "step": 0, "elapsed_s": 0.0}
    history: list = []
    if run.has_checkpoint():
        state, history = run.load(state)

    @jax.jit
    def apply(params, opt_state, grads):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    # spectra before (pretrained parameters)
    _, aux0 = obj.spectral.value(obj.params0, obj.mask, config.softness_end)
    rho0 = entry_spearmans(entries, aux0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=min(int(state["step"]), config.steps), desc="finetune", unit="step",
                   dynamic_ncols=True, mininterval=1.0)
    t_start = time.time() - float(state["elapsed_s"])
    step_times = []
    while int(state["step"]) < config.steps:
        step = int(state["step"])
        t0 = time.perf_counter()
        loss, grads, terms, aux = obj.value_and_grad(state["params"], step)
        if not np.isfinite(loss):
            raise ConvergenceError(f"fine-tuning diverged (loss {loss}) at step {step}; lower learning_rate")
        params, opt_state = apply(state["params"], state["opt_state"], grads)
        rhos = entry_spearmans(entries, aux)
        step_times.append(time.perf_counter() - t0)
        state.update(params=params, opt_state=opt_state, step=step + 1, elapsed_s=time.time() - t_start)
        history.append({"step": step + 1, "loss": float(loss), **{k: float(v) for k, v in terms.items()},
                        "mean_spearman": float(np.mean(rhos)), "softness": obj.softness(step),
                        "seconds": step_times[-1]})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss):.4f}", spearman=f"{np.mean(rhos):.3f}", refresh=False)
        run.maybe_save(state, history)
    if bar is not None:
        bar.close()
    run.save(state, history)

    final = jax.tree_util.tree_map(np.asarray, state["params"])
    _, aux1 = obj.spectral.value(final, obj.mask, config.softness_end)
    rho1 = entry_spearmans(entries, aux1)
    summary = {"entries": [{"name": e.name, "weight": e.weight, "spearman_before": a, "spearman_after": b,
                            "frequencies_before_cm1": np.asarray(x0[2]).round(2).tolist(),
                            "frequencies_after_cm1": np.asarray(x1[2]).round(2).tolist()}
                           for e, a, b, x0, x1 in zip(entries, rho0, rho1, aux0, aux1)],
               "mean_spearman_before": float(np.mean(rho0)), "mean_spearman_after": float(np.mean(rho1)),
               "param_l2_final": param_l2(final, obj.params0, obj.mask)[0],
               "steps": int(state["step"]), "elapsed_s": float(state["elapsed_s"]),
               "seconds_per_step": float(np.median(step_times[1:] or step_times)) if step_times else float("nan")}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    meta = dict(model.metadata)
    meta["finetune"] = {"base_model": base_model, "config": config.to_dict(), "entries": settings["entries"],
                        "mean_spearman_before": summary["mean_spearman_before"],
                        "mean_spearman_after": summary["mean_spearman_after"], "steps": summary["steps"]}
    ft_model = Model(model.config, final, meta)
    save_model(out, ft_model)
    return FinetuneResult(ft_model, history, summary, out, summary["seconds_per_step"])


def finetune_from_toml(spectra: str | Path, out_dir: str | Path, *, model_path: str | Path | None = None,
                       overrides: dict | None = None, resume: bool = True, progress: bool = False) -> FinetuneResult:
    """Load the base model (``model_path`` or the shipped energy model ``nequip_qm9``) and the spectra set, then
    `finetune`."""
    from hessfit.finetune._config import load_spectra_set
    from hessfit.model import Cascade, Ensemble, load_model

    model = load_model(model_path or "nequip_qm9")  # the default: the shipped energy model
    if isinstance(model, (Ensemble, Cascade)):
        kind = "an ensemble" if isinstance(model, Ensemble) else "a cascade"
        names = model.references if isinstance(model, Ensemble) else ()  # a cascade names ensembles
        raise ConfigError(f"{model_path}: {kind} cannot be fine-tuned; fine-tune one network "
                          f"(--model {' or '.join(names) or 'nequip_mf or blocks_mf'})")
    config, entries = load_spectra_set(spectra)
    if overrides:
        config = FinetuneConfig(**{**config.to_dict(), **{k: v for k, v in overrides.items() if v is not None}})
    prepared = load_entries(entries, config, model)
    replay = make_replay(model, config)
    return finetune(model, prepared, config, out_dir, replay=replay, entry_settings=[e.to_dict() for e in entries],
                    base_model=str(model_path) if model_path else "nequip_qm9", resume=resume, progress=progress)
