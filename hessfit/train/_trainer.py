"""The training loop: optax AdamW with warm-up + cosine schedule, HVP-probe loss, checkpoints and resume,
early stopping on the validation loss, a tqdm progress bar and a loss-curve plot.

Run folder layout (``out``): ``split.json`` (seeded split, dataset path and size), ``config.json`` (model and
training configs), ``checkpoint.msgpack`` (full state, rewritten every few minutes and each epoch),
``best/`` (the best model so far by validation loss, a loadable model folder), ``history.json`` and
``loss_curve.png``.
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
from hessfit.model import Model, ModelConfig, check_config_compatible, init_params, save_model
from hessfit.train._config import TrainConfig, dataset_files
from hessfit.train._data import (batch_shapes, column_probes, concat_sets, make_batch, merge_shapes, plan_batches,
                                prepare, prepare_frequencies, split_indices, unit_columns)
from hessfit.train._loss import make_loss_fn


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """Outcome of `train`: the best model, the history and the run folder."""

    model: Model
    history: list
    out_dir: Path
    stopped: str  # "max_epochs", "early_stopping", "time_limit"

#: training settings that may differ when a run is resumed (limits, not the optimisation itself)
RESUMABLE_CHANGES = ("time_limit_s", "checkpoint_every_s", "patience_epochs", "max_epochs")


def training_data_summary(dataset, indices) -> dict:
    """Molecule sizes, shortest distance per element pair (Å) and the atoms' bonding environments
    (`hessfit.structures.atom_environments`) of the training molecules."""
    from hessfit.structures import atom_environments

    dmin: dict[str, float] = {}
    sizes = []
    environments: set[str] = set()
    for i in indices:
        z = dataset.numbers(i)
        pos = dataset.positions(i)
        sizes.append(len(z))
        environments.update(atom_environments(dataset.structure(i)))
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
        iu = np.triu_indices(len(z), 1)
        a = np.minimum(z[iu[0]], z[iu[1]])
        b = np.maximum(z[iu[0]], z[iu[1]])
        for key in set(zip(a.tolist(), b.tolist())):
            m = float(d[iu][(a == key[0]) & (b == key[1])].min())
            k = f"{key[0]}-{key[1]}"
            dmin[k] = min(dmin.get(k, np.inf), m)
    return {"n_molecules": len(sizes), "min_atoms": int(min(sizes)), "max_atoms": int(max(sizes)),
            "min_distance_angstrom": {k: round(v, 4) for k, v in sorted(dmin.items())},
            "atom_environments": sorted(environments)}


def merge_data_summaries(a: dict, b: dict) -> dict:
    """One `training_data_summary` of two sets of molecules (sizes and shortest distances of both)."""
    dmin = dict(a["min_distance_angstrom"])
    for k, v in b["min_distance_angstrom"].items():
        dmin[k] = min(dmin.get(k, np.inf), v)
    merged = {"n_molecules": a["n_molecules"] + b["n_molecules"], "min_atoms": min(a["min_atoms"], b["min_atoms"]),
              "max_atoms": max(a["max_atoms"], b["max_atoms"]), "min_distance_angstrom": dict(sorted(dmin.items()))}
    if "atom_environments" in a and "atom_environments" in b:  # unknown for either: unknown for both
        merged["atom_environments"] = sorted(set(a["atom_environments"]) | set(b["atom_environments"]))
    return merged


def make_optimizer(cfg: TrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
    total = max(cfg.max_epochs * steps_per_epoch, cfg.warmup_steps + 1)
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=cfg.learning_rate * 0.01, peak_value=cfg.learning_rate, warmup_steps=cfg.warmup_steps,
        decay_steps=total, end_value=cfg.learning_rate * cfg.final_lr_fraction)
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip_norm),
                       optax.adamw(schedule, weight_decay=cfg.weight_decay)), schedule


_COMPILED: dict = {}


def _compiled_fns(mcfg: ModelConfig, tcfg: TrainConfig, steps_per_epoch: int):
    """Optimizer, schedule and jitted step/eval functions, reused by runs with the same settings (resume)."""
    frequency_weight = tcfg.frequency_weight if tcfg.frequency_dataset else 0.0
    key = (mcfg, tcfg.learning_rate, tcfg.warmup_steps, tcfg.final_lr_fraction, tcfg.weight_decay,
           tcfg.grad_clip_norm, tcfg.max_epochs, tcfg.force_weight, tcfg.soft_mode_weight, steps_per_epoch,
           frequency_weight, tcfg.soft_mode_floor_cm1, tcfg.curvature_hinge_weight, tcfg.mode_curvature_weight,
           tcfg.mode_curvature_max_cm1, tcfg.curvature_hinge_block, tcfg.curvature_hinge_krylov_steps,
           tcfg.curvature_hinge_level0, tcfg.mode_curvature_level0)
    if key not in _COMPILED:
        optimizer, schedule = make_optimizer(tcfg, steps_per_epoch)
        loss_fn = make_loss_fn(mcfg, force_weight=tcfg.force_weight, soft_mode_weight=tcfg.soft_mode_weight,
                               frequency_weight=frequency_weight, frequency_floor_cm1=tcfg.soft_mode_floor_cm1,
                               curvature_hinge_weight=tcfg.curvature_hinge_weight,
                               mode_curvature_weight=tcfg.mode_curvature_weight,
                               mode_curvature_max_cm1=tcfg.mode_curvature_max_cm1,
                               curvature_hinge_block=tcfg.curvature_hinge_block,
                               curvature_hinge_krylov_steps=tcfg.curvature_hinge_krylov_steps,
                               curvature_hinge_level0=tcfg.curvature_hinge_level0,
                               mode_curvature_level0=tcfg.mode_curvature_level0)

        @jax.jit
        def step_fn(params, opt_state, positions, graph, probes, targets, weights, molecule, soft, freq=None):
            (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, positions, graph, probes,
                                                                            targets, weights, molecule, soft, freq)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss, aux

        _COMPILED.clear()  # keep at most one set of compiled functions alive
        _COMPILED[key] = (optimizer, schedule, step_fn, jax.jit(loss_fn))
    return _COMPILED[key]


def _predicted_hv(mcfg: ModelConfig, params, b) -> np.ndarray:
    """H·probes (K, A, 3) of the untrained model, to calibrate its output scale."""
    if mcfg.kind == "blocks":
        from hessfit.model import make_direct_hessian_fn

        h = jax.jit(make_direct_hessian_fn(mcfg), static_argnums=4)(params, b.positions, b.graph, b.molecule,
                                                                     b.positions.shape[0])
        return (np.asarray(b.probes).reshape(len(b.probes), -1) @ np.asarray(h)).reshape(b.probes.shape)
    from hessfit.model import make_hvp_fn

    return np.asarray(jax.jit(make_hvp_fn(mcfg))(params, b.positions, b.graph, b.probes))


def transfer_params(params: dict, source: str | Path, *, copied: list | None = None, n_fidelities: int = 1) -> dict:
    """Copy from the model folder ``source`` every top-level parameter block (embedding, layer_k, ...) whose
    shapes match ``params`` exactly; the rest keep their initial values. The names of the copied blocks are
    appended to ``copied`` when given.

    A model with more levels of theory (``n_fidelities``, `ModelConfig.n_fidelities`) than ``source`` gets the
    source's species-indexed tables (embedding, self-connections, output scale) copied to every level, so that it
    starts out predicting the source's Hessian at each level.
    """
    from hessfit.model import load_model

    loaded = load_model(source)
    src = loaded.params["params"]
    levels, rest = divmod(n_fidelities, loaded.config.n_fidelities)
    out = dict(params["params"])
    for name, block in params["params"].items():
        if name not in src:
            continue
        leaves, treedef = jax.tree_util.tree_flatten(block)
        src_leaves = jax.tree_util.tree_leaves(src[name])
        same = jax.tree_util.tree_structure(block) == jax.tree_util.tree_structure(src[name]) and all(
            np.shape(a) == np.shape(b) for a, b in zip(leaves, src_leaves))
        tiled = not same and levels > 1 and not rest and len(leaves) == len(src_leaves) and all(
            np.shape(a) == np.shape(b) or (np.ndim(a) >= 1 and np.shape(a)[0] == levels * np.shape(b)[0]
                                           and np.shape(a)[1:] == np.shape(b)[1:]) for a, b in zip(leaves, src_leaves))
        if not (same or tiled):
            continue
        if tiled:
            # species index = element + n_elements · level: tile along the species axis; the embedding's
            # one-hot input is normalised by 1/√(n_species), so its weights grow by √levels
            gain = np.sqrt(levels) if name == "embedding" else 1.0
            src_leaves = [b if np.shape(a) == np.shape(b)
                          else gain * np.tile(np.asarray(b), (levels,) + (1,) * (np.ndim(b) - 1))
                          for a, b in zip(leaves, src_leaves)]
        if copied is not None:
            copied.append(name)
        out[name] = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(b, jnp.asarray(a).dtype) for a, b in zip(leaves, src_leaves)])
    return {**params, "params": out}


def _curvature_terms(tcfg: TrainConfig) -> dict:
    """The curvature terms that are on: aux key -> weight."""
    terms = {"curvature_hinge": tcfg.curvature_hinge_weight, "mode_curvature_error": tcfg.mode_curvature_weight}
    return {k: w for k, w in terms.items() if w}


def _extra_val_terms(aux: list, tcfg: TrainConfig) -> dict:
    """History entries of the extra datasets' validation sets: Hessian MSE (and the curvature terms) per set."""
    out = {"val_extra_hessian_mse": [a["hessian_mse"] for a in aux]}
    out.update({f"val_extra_{k}": [a[k] for a in aux] for k in _curvature_terms(tcfg)})
    return out


def plot_loss_curve(history: list, path: Path) -> None:
    """Train and validation objectives per epoch, one marker per epoch (a one-epoch run shows its points); with
    soft-mode, frequency or curvature terms in the objective the validation Hessian MSE gets its own line (the
    objective is then not a Hessian MSE)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ep = [h["epoch"] for h in history]
    val_mse = [h.get("val_hessian_mse", h["val_loss"]) for h in history]
    extra_terms = any(not np.isclose(h["val_loss"], m, rtol=1e-6, atol=0.0) for h, m in zip(history, val_mse))
    what = "objective" if extra_terms else "Hessian MSE"
    ax.semilogy(ep, [h["train_loss"] for h in history], "o-", label=f"train {what} (probe estimate)")
    ax.semilogy(ep, [h["val_loss"] for h in history], "o-", label=f"validation {what}")
    if extra_terms:
        ax.semilogy(ep, val_mse, "s--", label="validation Hessian MSE")
    ax.set_xlabel("epoch")
    ax.set_xlim(min(ep) - 0.5, max(ep) + 0.5)  # whole epochs on the axis, also for a one-epoch run
    if len(ep) <= 12:
        ax.set_xticks(ep)
    else:
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    extra = "\n+ weighted soft-mode, frequency, curvature" if extra_terms else ""
    ax.set_ylabel("Hessian MSE per element (eV/Å²)²" + extra, fontsize=8 if extra_terms else None)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load_extra_dataset(entry: str | tuple[str, ...]):
    """One level of theory of ``TrainConfig.extra_datasets``: its file, or its files concatenated in order."""
    from hessfit.structures import concat_datasets, load_dataset

    files = dataset_files(entry)
    if len(files) == 1:
        return load_dataset(files[0])
    return concat_datasets([load_dataset(p) for p in files])


def _splits(split_path: Path, dataset, dataset_path, extras: list, extra_paths: list, tcfg: TrainConfig, *,
            resume: bool):
    """The run's seeded train/val/test splits of the dataset and of each extra dataset (``extras``, read from
    ``extra_paths``: the extra Hessian datasets, then the frequency dataset): read from ``split_path`` when
    resuming (refusing datasets of other sizes), else made and written there."""
    if split_path.exists() and resume:
        saved = json.loads(split_path.read_text())
        saved_extra = [e["n_molecules"] for e in saved.get("extra", [])]
        if saved["n_molecules"] != len(dataset) or saved_extra != [len(e) for e in extras]:
            raise ConfigError(f"{split_path}: run was made on datasets of {saved['n_molecules']} molecules (extra: "
                              f"{saved_extra}), these have {len(dataset)} (extra: {[len(e) for e in extras]}); "
                              "use a new --out folder")
        keys = ("train", "val", "test")
        return ({k: np.asarray(saved[k], int) for k in keys},
                [{k: np.asarray(e[k], int) for k in keys} for e in saved.get("extra", [])])
    split = split_indices(len(dataset), seed=tcfg.data_split_seed, fractions=tcfg.split_fractions)
    extra_splits = [split_indices(len(e), seed=tcfg.data_split_seed, fractions=tcfg.split_fractions) for e in extras]
    split_path.write_text(json.dumps({"seed": tcfg.data_split_seed, "fractions": list(tcfg.split_fractions),
                                      "dataset": dataset_path, "n_molecules": len(dataset),
                                      **{k: v.tolist() for k, v in split.items()},
                                      "extra": [{"dataset": p, "n_molecules": len(e),
                                                 **{k: v.tolist() for k, v in es.items()}}
                                                for p, e, es in zip(extra_paths, extras, extra_splits)]}))
    return split, extra_splits


def train(dataset, out_dir: str | Path, *, model_config: ModelConfig | None = None,
          train_config: TrainConfig | None = None, dataset_path: str | None = None, resume: bool = True,
          progress: bool = False) -> TrainResult:
    """Train a Hessian model (``model_config.kind``: energy or blocks) on the Hessians of ``dataset`` (a
    HessianDataset), writing the run to ``out_dir``.

    An existing run in ``out_dir`` is resumed (``resume=True``) when its configs match, else ConfigError.
    """
    mcfg = model_config or ModelConfig()
    tcfg = train_config or TrainConfig()
    run = RunFolder(out_dir, "config.json", tcfg.checkpoint_every_s)
    out = run.path

    # --- split (stored with the run) ---
    if tcfg.mode_curvature_weight and mcfg.kind != "blocks":
        raise ConfigError("TrainConfig.mode_curvature_weight needs a direct block model "
                          f"(ModelConfig.kind = 'blocks'), not '{mcfg.kind}'")
    if mcfg.n_fidelities != 1 + len(tcfg.extra_datasets):
        raise ConfigError(f"ModelConfig.n_fidelities is {mcfg.n_fidelities}, but the run has "
                          f"{1 + len(tcfg.extra_datasets)} levels of theory (the dataset and "
                          f"{len(tcfg.extra_datasets)} extra dataset(s)); set n_fidelities to match")
    extras = [load_extra_dataset(entry) for entry in tcfg.extra_datasets]
    supplements = [load_extra_dataset(path) for path in tcfg.supplement_datasets]
    freq_ds = None
    if tcfg.frequency_dataset:
        from hessfit.structures import load_frequency_dataset

        freq_ds = load_frequency_dataset(tcfg.frequency_dataset)
    with_freq = [freq_ds] if freq_ds is not None else []
    split, extra_splits = _splits(out / "split.json", dataset, dataset_path, extras + with_freq,
                                  list(tcfg.extra_datasets) + [tcfg.frequency_dataset] * len(with_freq), tcfg,
                                  resume=resume)
    freq_split = extra_splits.pop() if freq_ds is not None else None
    saved = run.saved_settings() if resume else None
    if saved is not None:
        check_config_compatible(saved["model"], mcfg)
        run.require_same_settings({"train": tcfg.to_dict()}, saved={"train": saved["train"]},
                                  may_change={f"train.{k}" for k in RESUMABLE_CHANGES})
    run.write_settings({"model": mcfg.to_dict(), "train": tcfg.to_dict(), "dataset": dataset_path})

    train_idx = split["train"][: tcfg.max_train_molecules]
    val_idx = split["val"][: tcfg.max_val_molecules] if len(split["val"]) else train_idx  # no val split: overfit check
    whitened = tcfg.soft_mode_weight or tcfg.curvature_hinge_weight or tcfg.mode_curvature_weight
    floor = tcfg.soft_mode_floor_cm1 if whitened else None

    def prepared(ds, idx, level):
        return prepare(ds, idx, elements=mcfg.elements, cutoff_angstrom=mcfg.cutoff_angstrom,
                       soft_mode_floor_cm1=floor, fidelity=level)

    va = prepared(dataset, val_idx, 0)
    extra_va = [prepared(e, es["val"] if len(es["val"]) else es["train"], k + 1)
                for k, (e, es) in enumerate(zip(extras, extra_splits))]
    extra_tr = [prepared(e, es["train"], k + 1) for k, (e, es) in enumerate(zip(extras, extra_splits))]
    freq_tr, freq_va, freq_train_idx = [], [], None
    if freq_ds is not None:
        freq_train_idx = freq_split["train"][: tcfg.max_frequency_molecules]
        freq_tr, freq_va = ([prepare_frequencies(freq_ds, idx, elements=mcfg.elements,
                                                 cutoff_angstrom=mcfg.cutoff_angstrom)]
                            for idx in (freq_train_idx,
                                        freq_split["val"] if len(freq_split["val"]) else freq_split["train"]))
    supplement_tr = [prepared(s, np.arange(len(s)), 0) for s in supplements]  # level 0, every molecule trains
    tr = concat_sets([prepared(dataset, train_idx, 0)] + supplement_tr * tcfg.supplement_repeats
                     + extra_tr * tcfg.extra_repeats + freq_tr)
    n_hessian_tr = len(tr) - sum(len(m) for m in freq_tr)  # frequency-labelled molecules come last
    # an energy model gets each molecule's full Hessian from unit column probes: frequency molecules in batches of
    # their own (a block model's one forward pass gives every block, so its batches mix both kinds)
    separate_freq = bool(freq_tr) and mcfg.kind != "blocks"
    shapes = merge_shapes([batch_shapes(m, tcfg.max_atoms_per_batch) for m in [tr, va, *extra_va, *freq_va]])
    dtype = np.dtype(mcfg.dtype)
    def epoch_plan(epoch: int) -> list:
        order = np.random.default_rng([tcfg.seed, epoch]).permutation(len(tr))
        if not separate_freq:
            return plan_batches(tr, order, shapes, tcfg.max_atoms_per_batch)
        plan = (plan_batches(tr, order[order < n_hessian_tr], shapes, tcfg.max_atoms_per_batch)
                + plan_batches(tr, order[order >= n_hessian_tr], shapes, tcfg.max_atoms_per_batch))
        return [plan[i] for i in np.random.default_rng([tcfg.seed, epoch, 1]).permutation(len(plan))]

    steps_per_epoch = len(epoch_plan(0))
    optimizer, schedule, step_fn, eval_fn = _compiled_fns(mcfg, tcfg, steps_per_epoch)
    summary = training_data_summary(dataset, train_idx)
    extra_summaries = [training_data_summary(e, es["train"]) for e, es in zip(extras, extra_splits)]
    if freq_ds is not None:  # level-0 data too: the model's domain (`check_domain`) includes these molecules
        freq_summary = training_data_summary(freq_ds, freq_train_idx)
        extra_summaries.append({"frequency_dataset": tcfg.frequency_dataset, **freq_summary})
        summary = merge_data_summaries(summary, freq_summary)
    for path, s in zip(tcfg.supplement_datasets, supplements):  # level 0 too: part of the model's domain
        s_summary = training_data_summary(s, np.arange(len(s)))
        extra_summaries.append({"supplement_dataset": path, **s_summary})
        summary = merge_data_summaries(summary, s_summary)

    # fixed validation batches and probes
    val_rng = np.random.default_rng(12345)

    def fixed_batches(mols):
        plans = plan_batches(mols, np.arange(len(mols)), shapes, tcfg.max_atoms_per_batch)
        return [(make_batch(mols, m, shapes, n_probes=4, rng=val_rng, dtype=dtype), len(m)) for m in plans]

    def frequency_batch(mols, members, rng):
        """A batch of frequency-labelled molecules only, for an energy model: unit column probes."""
        return make_batch(mols, members, shapes, n_probes=shapes.n_freq_dim, rng=rng, dtype=dtype,
                          probe_vectors=unit_columns(shapes.n_freq_dim))

    def frequency_batches(mols):
        if not separate_freq:
            return fixed_batches(mols)
        plans = plan_batches(mols, np.arange(len(mols)), shapes, tcfg.max_atoms_per_batch)
        return [(frequency_batch(mols, m, None), len(m)) for m in plans]

    val_batches = fixed_batches(va)
    extra_val_batches = [fixed_batches(m) for m in extra_va]
    freq_val_batches = [frequency_batches(m) for m in freq_va]
    supplement_batches = [b for m in supplement_tr for b in fixed_batches(m)]

    def mean_aux(params, batches) -> dict:
        """The loss's aux terms (Hessian MSE, soft-mode term, frequency terms) averaged over the molecules."""
        sums, n = {}, 0
        for b, count in batches:
            _, aux = eval_fn(params, b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule, b.soft,
                             b.freq)
            for k, v in aux.items():
                sums[k] = sums.get(k, 0.0) + float(v) * count
            n += count
        return {k: v / n for k, v in sums.items()}

    def validate(params) -> tuple[float, float, float, dict]:
        """(objective, Hessian MSE, soft-mode term, frequency terms) on the main dataset's validation molecules
        (and the frequency dataset's); the objective is the Hessian MSE plus the weighted soft-mode and frequency
        terms (the force term is not validated)."""
        aux = mean_aux(params, val_batches)
        mse, soft = aux["hessian_mse"], aux["soft_mode_mse"]
        curvature = _curvature_terms(tcfg)
        objective = mse + tcfg.soft_mode_weight * soft + sum(w * aux[k] for k, w in curvature.items())
        freq = {f"val_{k}": aux[k] for k in curvature}
        if freq_val_batches:
            f = mean_aux(params, freq_val_batches[0])
            # the frequency term is per molecule of its own batches, the Hessian MSE per molecule of theirs
            freq.update(val_frequency_mse=f["frequency_mse"], val_frequency_mae_cm1=f["frequency_mae_cm1"])
            objective += tcfg.frequency_weight * f["frequency_mse"]
        return objective, mse, soft, freq

    # --- state: fresh or resumed ---
    params = init_params(mcfg, jax.random.PRNGKey(tcfg.seed))
    scale_key = "block_scale" if mcfg.kind == "blocks" else "energy_scale"
    copied: list = []
    if tcfg.init_from:
        params = transfer_params(params, tcfg.init_from, copied=copied, n_fidelities=mcfg.n_fidelities)
    state = {"params": params, "opt_state": optimizer.init(params), "epoch": 0, "batch": 0, "step": 0,
             "best_val": float("inf"), "best_epoch": -1, "elapsed_s": 0.0, "epoch_loss_sum": 0.0, "epoch_loss_n": 0}
    history: list = []
    if resume and run.has_checkpoint():
        state, history = run.load(state)
    elif scale_key not in copied:
        # calibrate the per-element energy scale so the initial H·v has the reference magnitude (not when a
        # trained model's scale was transferred: fine-tuning starts from that model exactly)
        b = make_batch(tr, plan_batches(tr, np.arange(len(tr)), shapes, tcfg.max_atoms_per_batch)[0], shapes,
                       n_probes=1, rng=np.random.default_rng(0), dtype=dtype)
        ratio = float(np.sqrt(np.sum(b.targets**2) / max(np.sum(_predicted_hv(mcfg, params, b) ** 2), 1e-30)))
        params = jax.tree_util.tree_map(lambda x: x, params)
        params["params"][scale_key] = params["params"][scale_key] * ratio
        state["params"] = params
        state["opt_state"] = optimizer.init(params)

    def save_best(params, epoch, val, val_soft=None):
        meta = {"training_data": summary, "extra_training_data": extra_summaries, "train_config": tcfg.to_dict(),
                "dataset": dataset_path, "best_epoch": epoch, "val_hessian_mse": val, "val_soft_mode_mse": val_soft,
                "split_seed": tcfg.data_split_seed, "training_time_s": state["elapsed_s"]}
        save_model(out / "best", Model(mcfg, jax.tree_util.tree_map(np.asarray, params), meta))

    if mcfg.kind == "blocks":  # one forward pass gives the whole Hessian: exact full-Hessian loss
        n_probes = 3 * max(tr.n_atoms(k) for k in range(len(tr)))
        probe_vectors = column_probes(n_probes)
    else:
        n_probes, probe_vectors = tcfg.probes_per_molecule, None
    t_start = time.time() - float(state["elapsed_s"])
    last_plot = 0.0
    stopped = "max_epochs"
    pbar = None
    if progress:
        from tqdm import tqdm

        pbar = tqdm(total=steps_per_epoch, unit="step", dynamic_ncols=True, mininterval=2.0)
    while int(state["epoch"]) < tcfg.max_epochs:
        epoch = int(state["epoch"])
        plan = epoch_plan(epoch)
        if pbar is not None:
            pbar.reset(total=len(plan))
            pbar.update(int(state["batch"]))
            pbar.set_description(f"epoch {epoch + 1}/{tcfg.max_epochs}")
        rng = np.random.default_rng([tcfg.seed, epoch, int(state["batch"]), 7])
        for bi in range(int(state["batch"]), len(plan)):
            if separate_freq and plan[bi][0] >= n_hessian_tr:
                b = frequency_batch(tr, plan[bi], rng)
            else:
                b = make_batch(tr, plan[bi], shapes, n_probes=n_probes, rng=rng, dtype=dtype,
                               probe_vectors=probe_vectors)
            params, opt_state, loss, aux = step_fn(state["params"], state["opt_state"], b.positions, b.graph,
                                                   b.probes, b.targets, b.weights, b.molecule, b.soft, b.freq)
            loss = float(loss)
            # what validate() measures
            objective = loss if tcfg.soft_mode_weight or freq_ds is not None else float(aux["hessian_mse"])
            if not np.isfinite(loss):
                raise ConvergenceError(f"training diverged (loss {loss}) at epoch {epoch + 1}, step {bi}; "
                                  "lower --lr or raise grad_clip_norm")
            state.update(params=params, opt_state=opt_state, batch=bi + 1, step=int(state["step"]) + 1,
                         epoch_loss_sum=float(state["epoch_loss_sum"]) + objective,
                         epoch_loss_n=int(state["epoch_loss_n"]) + 1, elapsed_s=time.time() - t_start)
            if pbar is not None:
                pbar.update(1)
                pbar.set_postfix(loss=f"{float(state['epoch_loss_sum']) / int(state['epoch_loss_n']):.4g}",
                                 refresh=False)
            run.maybe_save(state, history)
            if tcfg.time_limit_s is not None and time.time() - t_start > tcfg.time_limit_s:
                stopped = "time_limit"
                break
        if stopped == "time_limit":
            run.save(state, history)
            break
        val, val_mse, val_soft, val_freq = validate(state["params"])
        train_loss = float(state["epoch_loss_sum"]) / max(int(state["epoch_loss_n"]), 1)
        history.append({"epoch": epoch + 1, "step": int(state["step"]), "train_loss": train_loss, "val_loss": val,
                        "val_hessian_mse": val_mse, "val_soft_mode_mse": val_soft,
                        **(_extra_val_terms([mean_aux(state["params"], b) for b in extra_val_batches],
                                            tcfg) if extra_val_batches else {}),
                        **val_freq,
                        **({"supplement_hessian_mse": mean_aux(state["params"], supplement_batches)["hessian_mse"]}
                           if supplement_batches else {}),
                        "lr": float(schedule(int(state["step"]))), "elapsed_s": time.time() - t_start})
        if val < float(state["best_val"]):
            state.update(best_val=val, best_epoch=epoch + 1)
            save_best(state["params"], epoch + 1, val_mse, val_soft if tcfg.soft_mode_weight else None)
        state.update(epoch=epoch + 1, batch=0, epoch_loss_sum=0.0, epoch_loss_n=0, elapsed_s=time.time() - t_start)
        if pbar is not None:
            pbar.write(f"epoch {epoch + 1}: train {train_loss:.4g}  val {val:.4g}  (best {float(state['best_val']):.4g}"
                       f" @ {int(state['best_epoch'])})  {time.time() - t_start:.0f} s")
        run.save(state, history)
        if time.time() - last_plot > 60 or int(state["epoch"]) >= tcfg.max_epochs:
            plot_loss_curve(history, out / "loss_curve.png")
            last_plot = time.time()
        if epoch + 1 - int(state["best_epoch"]) >= tcfg.patience_epochs:
            stopped = "early_stopping"
            break
    if pbar is not None:
        pbar.close()
    if history:
        plot_loss_curve(history, out / "loss_curve.png")
    if not (out / "best" / "model.json").exists():  # stopped before the first epoch ended
        save_best(state["params"], int(state["epoch"]), float("nan"))
    from hessfit.model import load_model

    return TrainResult(load_model(out / "best"), history, out, stopped)
