"""Training ablation (issue 5): Hessian-vector-probe training vs full-Hessian training, and the force term.

Arms (same small model, same initial parameters, same training / validation molecules, same batching and
molecule order per epoch, same optimiser and learning-rate schedule, same number of epochs):

* ``A``       probe loss, 1 Rademacher probe per molecule (the project's loss, ``make_probe_loss_fn``);
* ``A4``      probe loss, 4 probes per molecule;
* ``B``       full-Hessian loss: the per-element MSE of every molecule's full Hessian. Computed with the same
              code as the probe loss, fed with the 3·max_atoms unit "probes" (tangent k displaces atom slot
              k // 3 along axis k % 3 in every molecule of the packed graph) and weights scaled by the number
              of probes, so that the mean over probes becomes the sum Σ_k ‖(H_pred − H_ref) e_k‖² = ‖ΔH‖²_F.
              Its value is checked against ``make_full_hessian_loss_fn`` (``jax.hessian``), whose step cost
              is timed too;
* ``C<w>``    probe loss (1 probe) + w · force MSE (``force_weight`` = w, in Å⁻²: the force MSE is in
              (eV/Å)², the Hessian MSE in (eV/Å²)²). Reference forces are 0 (the geometries are DFT minima);
* ``A-long``  probe loss, 1 probe, ``--long-factor`` × the epochs (its own, longer cosine schedule): what
              probe training reaches in a fraction of the full-Hessian arm's time.

Optimiser = ``hessfit.train._trainer.make_optimizer`` (global-norm clip 10 → Adam, no weight decay, linear
warm-up then cosine decay to 2 % of the peak), written out as clip → ``optax.scale_by_adam`` → × (−lr) with the
learning rate of the schedule passed to the compiled step, so that one compiled step serves every arm with the
same loss. The per-element energy scale is calibrated once before any arm starts (as in the trainer, with the full
Hessians of the first 4 training molecules in place of one probe).

Validation (every epoch for A, B and A-long; at the end for all arms) uses full predicted Hessians
(``make_hessian_fn`` via ``batch_hessians``): pooled per-element MSE (eV/Å²)², the mean per-molecule MSE (the
quantity the losses estimate), pooled R², frequency MAE (cm⁻¹, sorted internal modes) and the RMS force
(eV/Å) at the validation geometries (and at the training geometries).

Timing: a separate phase times warm steps of every loss on the same batch, interleaved over ``--timing-rounds``
rounds (the probe losses in blocks of ``--timing-block`` consecutive calls; median per call); the training wall
time (batch building + steps, no validation, no compilation) and the median step of every arm are recorded too.
Results of a run: docs/training_ablation.md.

    OMP_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        taskset -c 0 .venv/bin/python benchmarks/training_ablation.py [--quick] [--json out.json]
        [--arms A A4 B C A-long] [--probe-seeds N] [--epochs 8] [--n-train 128] [--force-weights 1 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

jax.config.update("jax_enable_x64", True)  # float64 physics; model computations stay float32
from hessfit.model._config import ModelConfig
from hessfit.model._energy import init_params, make_energy_fn
from hessfit.model._graph import bucket_atoms, bucket_edges, pack
from hessfit.model._hessian import batch_hessians
from hessfit.structures import load_dataset
from hessfit.train._data import Shapes, make_batch, prepare, split_indices
from hessfit.train._evaluate import _frequencies
from hessfit.train._loss import make_full_hessian_loss_fn, make_probe_loss_fn

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "data" / "hessians" / "qm9_b3lyp_hessians.npz"
MAX_ATOMS = 29  # largest molecule of the QM9 Hessian set


# ----------------------------------------------------------------------------------------------------- data
def full_batch(mols, members, shapes: Shapes, n_cols: int, dtype=np.float32):
    """Packed batch whose 'probes' are the unit tangents e_k (k < n_cols) of every molecule's atom slots.

    With weights K / ((3N)² n_mol), the probe loss's mean over the K probes equals the mean over molecules of
    the per-element MSE of the full Hessian (the target of e_k is row k = column k of the symmetric H_ref)."""
    b = make_batch(mols, members, shapes, n_probes=n_cols, rng=None, dtype=dtype,
                   probe_vectors=lambda n3: np.eye(n_cols, n3, dtype=dtype))
    return b.positions, b.graph, b.probes, b.targets, b.weights * n_cols


def fixed_shapes(mol_sets, per_step: int) -> Shapes:
    """Padded shapes that hold any ``per_step`` molecules of the given sets (one compiled shape per loss)."""
    n_max = max(m.n_atoms(k) for m in mol_sets for k in range(len(m)))
    e_max = max(m.n_edges(k) for m in mol_sets for k in range(len(m)))
    return Shapes(bucket_atoms(per_step * n_max + 1), bucket_edges(per_step * e_max))


# ------------------------------------------------------------------------------------------- compiled steps
def make_step(loss_fn, *, traced_force_weight: bool):
    """Jitted ``step(params, opt_state, lr, fw, positions, graph, probes, targets, weights)``.

    Optimiser = make_optimizer's chain with weight decay 0: clip_by_global_norm(10) → adam → × (−lr)."""
    base = optax.chain(optax.clip_by_global_norm(10.0), optax.scale_by_adam())

    def objective(params, fw, positions, graph, probes, targets, weights):
        total, aux = loss_fn(params, positions, graph, probes, targets, weights)
        if traced_force_weight:  # same formula as make_probe_loss_fn(force_weight=w), w traced
            total = aux["hessian_mse"] + fw * aux["force_mse"]
        return total, aux

    @jax.jit
    def step(params, opt_state, lr, fw, positions, graph, probes, targets, weights):
        (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(params, fw, positions, graph, probes,
                                                                          targets, weights)
        updates, opt_state = base.update(grads, opt_state, params)
        updates = jax.tree_util.tree_map(lambda u: -lr * u, updates)
        return optax.apply_updates(params, updates), opt_state, loss, aux

    return step, base


def schedule_fn(peak: float, warmup: int, total: int, final_fraction: float = 0.02):
    return optax.warmup_cosine_decay_schedule(init_value=peak * 0.01, peak_value=peak, warmup_steps=warmup,
                                              decay_steps=max(total, warmup + 1), end_value=peak * final_fraction)


# ----------------------------------------------------------------------------------------------- evaluation
class Evaluator:
    """Full predicted Hessians (make_hessian_fn) and forces of fixed packed molecule groups."""

    def __init__(self, cfg, dataset, mols, per_graph: int, shapes: Shapes):
        self.cfg = cfg
        groups = [list(range(i, min(i + per_graph, len(mols)))) for i in range(0, len(mols), per_graph)]
        self.packs = [pack([mols.species[k] for k in g], [mols.positions[k] for k in g], cutoff_angstrom=0.0,
                           n_atoms_pad=shapes.n_atoms_pad, n_edges_pad=shapes.n_edges_pad,
                           pairs_list=[mols.pairs[k] for k in g]) for g in groups]
        self.groups = groups
        self.ref = [np.asarray(dataset.hessian(int(i)), float) for i in mols.indices]
        self.structures = [dataset.structure(int(i)) for i in mols.indices]
        self.ref_freq = [_frequencies(s, h) for s, h in zip(self.structures, self.ref)]
        allref = np.concatenate([h.ravel() for h in self.ref])
        self.ss_tot = float(np.sum((allref - allref.mean()) ** 2))
        self.grad = jax.jit(jax.grad(make_energy_fn(cfg), argnums=1))

    def hessians(self, params, n_packs: int) -> list:
        return [h for p in self.packs[:n_packs] for h in batch_hessians(self.cfg, params, p)]

    def __call__(self, params, *, frequencies: bool = True) -> dict:
        sse, n_el, mol_mse, f2, n_f, fae, n_modes, n_imag = 0.0, 0, [], 0.0, 0, 0.0, 0, 0
        k = 0
        for p in self.packs:
            hs = batch_hessians(self.cfg, params, p)
            g = np.asarray(self.grad(params, jnp.asarray(p.positions, self.cfg.dtype), p.graph), float)
            real = np.asarray(p.graph.node_mask)
            f2 += float(np.sum(g[real] ** 2))
            n_f += 3 * int(real.sum())
            for h in hs:
                d = h - self.ref[k]
                sse += float(np.sum(d**2))
                n_el += d.size
                mol_mse.append(float(np.mean(d**2)))
                if frequencies:
                    fp = _frequencies(self.structures[k], h)
                    fae += float(np.sum(np.abs(fp - self.ref_freq[k])))
                    n_modes += fp.size
                    n_imag += int(np.any(fp < 0))
                k += 1
        out = {"hessian_mse": sse / n_el, "hessian_mse_per_molecule": float(np.mean(mol_mse)),
               "hessian_r2": 1.0 - sse / self.ss_tot, "rms_force": float(np.sqrt(f2 / n_f))}
        if frequencies:
            out.update(frequency_mae_cm1=fae / n_modes, molecules_with_imaginary=n_imag)
        return out


# ------------------------------------------------------------------------------------------------- running
def timed_call(fn, *args):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (< 2 min on one core after import)")
    ap.add_argument("--n-train", type=int, default=128)
    ap.add_argument("--n-val", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--per-step", type=int, default=2, help="molecules packed per training step (all arms)")
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (the trainer's default)")
    ap.add_argument("--force-weights", type=float, nargs="*", default=[1.0, 10.0])
    ap.add_argument("--long-factor", type=int, default=8, help="epochs of A-long = this × --epochs (0: skip)")
    ap.add_argument("--no-a4", action="store_true", help="skip the 4-probe arm")
    ap.add_argument("--timing-rounds", type=int, default=5)
    ap.add_argument("--timing-block", type=int, default=8,
                    help="consecutive calls of each probe loss per timing round (the full-Hessian losses: 1)")
    ap.add_argument("--arms", nargs="+", default=["A", "A4", "B", "C", "A-long"],
                    choices=["A", "A4", "B", "C", "A-long"], help="arms to train (C: one per --force-weights)")
    ap.add_argument("--probe-seeds", type=int, default=0,
                    help="extra replicates of arm A with other probe draws (same molecule order), final eval only")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the make_full_hessian_loss_fn (jax.hessian) check and timing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write all results to this JSON file")
    ap.add_argument("--plot", default=None, help="validation-curve PNG (default docs/images/training_ablation.png;"
                                                 " none with --quick)")
    args = ap.parse_args()
    if "A" not in args.arms:
        args.arms = ["A"] + args.arms  # the reference of every ratio
    if args.quick:
        args.n_train, args.n_val, args.epochs, args.long_factor = 6, 4, 2, 0
        args.no_a4, args.force_weights, args.timing_rounds, args.no_reference = True, [1.0], 2, True
    plot_path = args.plot or (None if args.quick else str(ROOT / "docs" / "images" / "training_ablation.png"))
    from tqdm import tqdm

    t_run = time.time()
    cfg = ModelConfig(n_layers=2, n_scalars=16, n_vectors=8, n_tensors=0, radial_hidden=(16,), cutoff_angstrom=4.0,
                      avg_num_neighbors=14.6)
    ds = load_dataset(str(DATASET))
    split = split_indices(len(ds), seed=0)  # the shipped model's split
    rng = np.random.default_rng(1)
    train_idx = np.sort(rng.choice(split["train"], args.n_train, replace=False))
    val_idx = np.sort(rng.choice(split["val"], args.n_val, replace=False))
    tr = prepare(ds, train_idx, elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom)
    va = prepare(ds, val_idx, elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom)
    shapes = fixed_shapes([tr], args.per_step)
    n_cols = 3 * MAX_ATOMS
    steps_per_epoch = -(-len(tr) // args.per_step)
    warmup = max(1, steps_per_epoch // 2)

    def plan(epoch):
        order = np.random.default_rng([args.seed, epoch]).permutation(len(tr))
        return [order[i:i + args.per_step].tolist() for i in range(0, len(order), args.per_step)]

    params0 = init_params(cfg, jax.random.PRNGKey(args.seed))
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params0))
    eval_per_graph = 4
    eval_shapes = fixed_shapes([tr, va], eval_per_graph)
    evaluator = Evaluator(cfg, ds, va, eval_per_graph, eval_shapes)
    evaluator_tr = Evaluator(cfg, ds, prepare(ds, train_idx[: len(va)], elements=cfg.elements,
                                              cutoff_angstrom=cfg.cutoff_angstrom), eval_per_graph, eval_shapes)
    # energy-scale calibration as in hessfit.train._trainer.train (which scales the initial H·v of one probe to
    # the reference's), here with the full Hessians of the first training molecules (the probe's expectation)
    h_pred = evaluator_tr.hessians(params0, 1)
    ratio = float(np.sqrt(sum(np.sum(h**2) for h in evaluator_tr.ref[: len(h_pred)])
                          / max(sum(np.sum(h**2) for h in h_pred), 1e-30)))
    params0 = jax.tree_util.tree_map(lambda x: x, params0)
    params0["params"]["energy_scale"] = params0["params"]["energy_scale"] * ratio

    settings = {"model": cfg.to_dict(), "n_params": n_params, "n_train": len(tr), "n_val": len(va),
                "per_step": args.per_step, "steps_per_epoch": steps_per_epoch, "epochs": args.epochs,
                "lr_peak": args.lr, "warmup_steps": warmup, "final_lr_fraction": 0.02, "grad_clip": 10.0,
                "shapes": [shapes.n_atoms_pad, shapes.n_edges_pad], "full_hessian_columns": n_cols,
                "train_atoms": [int(min(tr.n_atoms(k) for k in range(len(tr)))),
                                int(max(tr.n_atoms(k) for k in range(len(tr))))],
                "device": f"{jax.devices()[0].device_kind} ({platform.processor() or platform.machine()})",
                "jax": jax.__version__}
    print(f"# training ablation{' (QUICK smoke run)' if args.quick else ''}\n")
    print(f"model {cfg.hidden_irreps}, {cfg.n_layers} layers, radial {cfg.radial_hidden}, cutoff "
          f"{cfg.cutoff_angstrom} Å, {cfg.dtype}, {n_params} parameters; {len(tr)} train / {len(va)} val molecules "
          f"({settings['train_atoms'][0]}–{settings['train_atoms'][1]} atoms); {args.per_step} molecules per step, "
          f"{steps_per_epoch} steps per epoch, {args.epochs} epochs; peak lr {args.lr}, warm-up {warmup} steps; "
          f"padded graph {shapes.n_atoms_pad} atoms / {shapes.n_edges_pad} edges; {settings['device']}", flush=True)

    # --- compiled steps (one per loss) ---
    steps, compile_s = {}, {}
    probe0 = make_probe_loss_fn(cfg)  # force_weight 0: no force term in the graph, as the trainer with 0
    steps["probe+force"], base = make_step(make_probe_loss_fn(cfg), traced_force_weight=True)
    if args.quick:  # smoke run: one compile fewer; A runs the force step with weight 0 (its timing includes
        steps["probe"] = steps["probe+force"]  # the force term's backward pass)
    else:
        steps["probe"], _ = make_step(probe0, traced_force_weight=False)
    steps["full"] = steps["probe"]  # same loss function, K = n_cols unit probes: compiled separately by shape

    def batch_for(kind: str, members, rng_):
        if kind == "full":
            return full_batch(tr, members, shapes, n_cols)
        bb = make_batch(tr, members, shapes, n_probes=int(kind), rng=rng_)
        return bb.positions, bb.graph, bb.probes, bb.targets, bb.weights

    f32 = np.float32
    state0 = base.init(params0)
    first = plan(0)[0]
    kinds = {"1": "probe", "4": "probe", "full": "full", "1f": "probe+force"}
    if args.no_a4 or "A4" not in args.arms:
        kinds.pop("4")
    if not args.force_weights:
        kinds.pop("1f")
    timing_batches = {k: batch_for(k.rstrip("f"), first, np.random.default_rng(3)) for k in kinds}
    t_compile = tqdm(list(kinds), desc="compile", unit="fn")
    first_loss = {}
    for k in t_compile:
        out, dt = timed_call(steps[kinds[k]], params0, state0, f32(args.lr), f32(1.0), *timing_batches[k])
        compile_s[k] = dt
        first_loss[k] = float(out[3]["hessian_mse"])
    t_compile.close()

    # --- check: the unit-probe loss equals make_full_hessian_loss_fn (jax.hessian), and time that reference ---
    ref_loss = make_full_hessian_loss_fn(cfg)

    @jax.jit
    def ref_step(params, opt_state, lr, positions, graph, hessian):
        loss, grads = jax.value_and_grad(ref_loss)(params, positions, graph, hessian)
        updates, opt_state = base.update(grads, opt_state, params)
        return optax.apply_updates(params, jax.tree_util.tree_map(lambda u: -lr * u, updates)), opt_state, loss

    one_shapes = fixed_shapes([tr], 1)
    ref_batches = []
    for k in first:
        pk = pack([tr.species[k]], [tr.positions[k]], cutoff_angstrom=0.0, n_atoms_pad=one_shapes.n_atoms_pad,
                  n_edges_pad=one_shapes.n_edges_pad, pairs_list=[tr.pairs[k]])
        ref_batches.append((pk.positions.astype(f32), pk.graph, jnp.asarray(tr.hessians[k])))
    if args.no_reference:
        ref_batches, check = [], None
    else:
        ref_vals = []
        t0 = time.perf_counter()
        for rb in ref_batches:  # one compile per distinct atom count
            ref_vals.append(float(jax.block_until_ready(ref_step(params0, state0, f32(args.lr), *rb))[2]))
        compile_s["jax.hessian"] = time.perf_counter() - t0  # includes the first steps
        check = {"unit_probe_loss": first_loss["full"], "jax_hessian_loss_mean": float(np.mean(ref_vals))}
        check["rel_diff"] = (abs(check["unit_probe_loss"] - check["jax_hessian_loss_mean"])
                             / check["jax_hessian_loss_mean"])
        print(f"\ncheck: full-Hessian loss via unit probes {check['unit_probe_loss']:.6g} vs "
              f"make_full_hessian_loss_fn (jax.hessian) {check['jax_hessian_loss_mean']:.6g}: relative difference "
              f"{check['rel_diff']:.1e}")

    # --- timing phase: warm steps, interleaved, median ---
    rounds = {k: [] for k in kinds}
    if ref_batches:
        rounds["jax.hessian"] = []
    for _ in tqdm(range(args.timing_rounds), desc="timing", unit="round"):
        for k in kinds:
            for _ in range(1 if k == "full" else args.timing_block):
                _, dt = timed_call(steps[kinds[k]], params0, state0, f32(args.lr), f32(1.0), *timing_batches[k])
                rounds[k].append(dt)
        if ref_batches:
            tot = 0.0
            for rb in ref_batches:
                _, dt = timed_call(ref_step, params0, state0, f32(args.lr), *rb)
                tot += dt
            rounds["jax.hessian"].append(tot)
    step_ms = {k: 1e3 * float(np.median(v)) for k, v in rounds.items()}
    n_first = len(first)

    # --- training arms ---
    # (name, probes, force weight, epoch factor, validation every epoch, probe-seed offset)
    arms = [("A", "1", 0.0, 1, True, 0)]
    if "4" in kinds:  # (dropped from kinds by --no-a4 or when A4 is not in --arms)
        arms.append(("A4", "4", 0.0, 1, False, 0))
    arms.append(("B", "full", 0.0, 1, True, 0))  # (kept below only if in --arms)
    if "C" in args.arms:
        arms += [(f"C{w:g}", "1f", w, 1, False, 0) for w in args.force_weights]
    if args.long_factor > 1:
        arms.append(("A-long", "1", 0.0, args.long_factor, True, 0))
    arms = [a for a in arms if a[0].rstrip("0123456789.") in args.arms]
    arms += [(f"A-seed{j}", "1", 0.0, 1, False, j) for j in range(1, args.probe_seeds + 1)]
    results = {}
    for name, kind, fw, factor, curve, seed_offset in arms:
        epochs = args.epochs * factor
        # learning rates of every step, evaluated up front (no eager jax ops inside the timed loop)
        lrs = np.asarray(schedule_fn(args.lr, warmup, epochs * steps_per_epoch)(np.arange(epochs * steps_per_epoch)),
                         np.float32)
        step = steps[kinds[kind]]
        params, opt_state = params0, base.init(params0)
        history, t_train, gstep, step_times = [], 0.0, 0, []
        pbar = tqdm(total=epochs * steps_per_epoch, desc=f"arm {name}", unit="step", mininterval=2.0)
        for epoch in range(epochs):
            # same probes for A, C and A-long; other draws for the A-seed replicates
            probe_rng = np.random.default_rng([args.seed, epoch, 7] + ([seed_offset] if seed_offset else []))
            loss_sum, hmse_sum, fmse_sum = 0.0, 0.0, 0.0
            t0 = time.perf_counter()
            for members in plan(epoch):
                bb = batch_for(kind.rstrip("f"), members, probe_rng)
                ts = time.perf_counter()
                params, opt_state, loss, aux = step(params, opt_state, lrs[gstep], f32(fw), *bb)
                loss_sum += float(loss)
                step_times.append(time.perf_counter() - ts)
                hmse_sum += float(aux["hessian_mse"])
                fmse_sum += float(aux["force_mse"])
                gstep += 1
                pbar.update(1)
            t_train += time.perf_counter() - t0
            if not np.isfinite(loss_sum):
                raise RuntimeError(f"arm {name} diverged at epoch {epoch + 1}")
            pbar.set_postfix(loss=f"{hmse_sum / steps_per_epoch:.4g}", refresh=False)
            row = {"epoch": epoch + 1, "train_time_s": t_train, "train_hessian_mse": hmse_sum / steps_per_epoch,
                   "train_force_mse": fmse_sum / steps_per_epoch}
            last = epoch + 1 == epochs
            if last or (curve and (epoch + 1) % factor == 0):
                row.update({f"val_{k}": v for k, v in evaluator(params, frequencies=last).items()})
            history.append(row)
        pbar.close()
        final = evaluator(params)
        final_tr = evaluator_tr(params, frequencies=False)
        results[name] = {"kind": kind, "force_weight": fw, "epochs": epochs, "history": history,
                         "train_time_s": t_train, "s_per_epoch": t_train / epochs,
                         "ms_per_molecule_step": 1e3 * t_train / (epochs * len(tr)),
                         "median_step_ms": 1e3 * float(np.median(step_times)), "val": final,
                         "train_subset": final_tr}
        tqdm.write(f"arm {name}: {t_train:.1f} s training, val Hessian MSE {final['hessian_mse']:.4g}, "
                   f"R² {final['hessian_r2']:.4f}, freq MAE {final['frequency_mae_cm1']:.1f} cm⁻¹, "
                   f"RMS force {final['rms_force']:.3g} eV/Å")
    init_eval = evaluator(params0)

    # --- tables ---
    print("\n## Step cost (warm, same batch, interleaved; median of "
          f"{args.timing_rounds} rounds, the probe losses in blocks of {args.timing_block} consecutive calls; "
          f"{n_first} molecules of {[tr.n_atoms(k) for k in first]} atoms)\n")
    print("| loss | ms per step | ms per molecule | × probe (1) | compile s |")
    print("|---|---|---|---|---|")
    labels = {"1": "probe, 1 per molecule (A, A-long)", "4": "probe, 4 per molecule (A4)",
              "1f": "probe + force term (C)", "full": f"full Hessian, {n_cols} unit probes (B)",
              "jax.hessian": "full Hessian, make_full_hessian_loss_fn (jax.hessian, 1 molecule per call)"}
    for k in rounds:
        c = compile_s[k]
        print(f"| {labels[k]} | {step_ms[k]:.1f} | {step_ms[k] / n_first:.1f} | {step_ms[k] / step_ms['1']:.1f} | "
              f"{c:.0f} |")

    print(f"\n## Arms after {args.epochs} epochs (A-long: {args.epochs * max(args.long_factor, 1)}); validation = "
          f"{len(va)} molecules, full predicted Hessians\n")
    print("| arm | loss | train s | s/epoch | ms per molecule-step (median step) | val Hessian MSE (eV/Å²)² "
          "| per-molecule MSE | R² | freq MAE cm⁻¹ | mols w/ imaginary | RMS force val (eV/Å) "
          "| RMS force train (eV/Å) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    v0 = init_eval
    print(f"| init | — | 0 | — | — | {v0['hessian_mse']:.4g} | {v0['hessian_mse_per_molecule']:.4g} | "
          f"{v0['hessian_r2']:.4f} | {v0['frequency_mae_cm1']:.1f} | {v0['molecules_with_imaginary']} | "
          f"{v0['rms_force']:.3g} | — |")
    loss_label = {"1": "probe ×1", "4": "probe ×4", "full": "full Hessian", "1f": "probe ×1 + force"}
    for name, r in results.items():
        v = r["val"]
        lab = loss_label[r["kind"]] + (f" (w = {r['force_weight']:g} Å⁻²)" if r["kind"] == "1f" else "")
        print(f"| {name} | {lab} | {r['train_time_s']:.1f} | {r['s_per_epoch']:.2f} | {r['ms_per_molecule_step']:.1f} "
              f"({r['median_step_ms'] / args.per_step:.1f})"
              f" | {v['hessian_mse']:.4g} | {v['hessian_mse_per_molecule']:.4g} | {v['hessian_r2']:.4f} | "
              f"{v['frequency_mae_cm1']:.1f} | {v['molecules_with_imaginary']} | {v['rms_force']:.3g} | "
              f"{r['train_subset']['rms_force']:.3g} |")

    print("\n## Validation curves (Hessian MSE, (eV/Å²)², pooled; cumulative training time in s)\n")
    curve_arms = [n for n in results if any("val_hessian_mse" in h for h in results[n]["history"][:-1])]
    print("| epoch | " + " | ".join(f"{n} MSE | {n} time" for n in curve_arms) + " |")
    print("|---|" + "---|---|" * len(curve_arms))
    by_epoch = {}
    for n in curve_arms:
        for h in results[n]["history"]:
            if "val_hessian_mse" in h:
                by_epoch.setdefault(h["epoch"], {})[n] = h
    for ep in sorted(by_epoch):
        cells = []
        for n in curve_arms:
            h = by_epoch[ep].get(n)
            cells += [f"{h['val_hessian_mse']:.4g}", f"{h['train_time_s']:.0f}"] if h else ["", ""]
        print(f"| {ep} | " + " | ".join(cells) + " |")

    reps = [r for n, r in results.items() if n == "A" or n.startswith("A-seed")]
    if len(reps) > 1:
        print(f"\n## Arm A over {len(reps)} probe draws (same molecule order, same initial parameters)\n")
        print("| metric | mean | std | min | max |")
        print("|---|---|---|---|---|")
        for key in ("hessian_mse", "hessian_r2", "frequency_mae_cm1"):
            x = np.array([r["val"][key] for r in reps])
            print(f"| val {key} | {x.mean():.4g} | {x.std(ddof=1):.2g} | {x.min():.4g} | {x.max():.4g} |")
    a, bf = results["A"], results.get("B")
    ratios = {"step_full_over_probe": step_ms["full"] / step_ms["1"],
              "step_jax_hessian_over_probe": step_ms.get("jax.hessian", np.nan) / step_ms["1"]}
    if bf is not None:
        ratios.update({"epoch_time_B_over_A": bf["s_per_epoch"] / a["s_per_epoch"],
                       "median_step_B_over_A": bf["median_step_ms"] / a["median_step_ms"],
                       "val_mse_A_over_B": a["val"]["hessian_mse"] / bf["val"]["hessian_mse"],
                       "freq_mae_A_over_B": a["val"]["frequency_mae_cm1"] / bf["val"]["frequency_mae_cm1"]})
    if "A-long" in results and bf is not None:
        al = results["A-long"]
        ratios["time_B_over_A_long"] = bf["train_time_s"] / al["train_time_s"]
        ratios["val_mse_A_long_over_B"] = al["val"]["hessian_mse"] / bf["val"]["hessian_mse"]
        # first epoch at which A-long reaches B's final validation MSE
        reach = [h for h in al["history"] if h.get("val_hessian_mse", np.inf) <= bf["val"]["hessian_mse"]]
        ratios["A_long_reaches_B_at"] = ({"epoch": reach[0]["epoch"], "train_time_s": reach[0]["train_time_s"]}
                                         if reach else None)
    for name, r in results.items():
        if r["kind"] == "1f":
            ratios[f"{name}_val_mse_over_A"] = r["val"]["hessian_mse"] / a["val"]["hessian_mse"]
            ratios[f"{name}_rms_force_over_A"] = r["val"]["rms_force"] / a["val"]["rms_force"]
            ratios[f"{name}_epoch_time_over_A"] = r["s_per_epoch"] / a["s_per_epoch"]
    print("\n## Ratios (this run)\n")
    for k, v in ratios.items():
        print(f"- {k}: {v if isinstance(v, dict) or v is None else f'{v:.3g}'}")
    total = time.time() - t_run
    print(f"\ntotal run time {total:.0f} s")

    if plot_path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for n in curve_arms:
            hh = [h for h in results[n]["history"] if "val_hessian_mse" in h]
            x_ep = [h["epoch"] / (args.long_factor if n == "A-long" else 1) for h in hh]
            axes[0].plot(x_ep, [h["val_hessian_mse"] for h in hh], "o-", ms=3,
                         label=n + (f" (x: epochs / {args.long_factor})" if n == "A-long" else ""))
            axes[1].plot([h["train_time_s"] for h in hh], [h["val_hessian_mse"] for h in hh], "o-", ms=3, label=n)
        for ax in axes:
            ax.set_yscale("log")
            ax.set_ylabel("validation Hessian MSE (eV/Å²)²")
            ax.legend()
        axes[0].set_xlabel("epoch")
        axes[1].set_xscale("log")
        axes[1].set_xlabel("cumulative training time (s, one CPU thread)")
        fig.suptitle(f"probe vs full-Hessian training ({len(tr)} train / {len(va)} val QM9 molecules, {n_params} "
                     "parameters)", fontsize=9)
        fig.tight_layout()
        Path(plot_path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot_path, dpi=120)
        plt.close(fig)
        print(f"plot: {plot_path}")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": settings, "check": check, "step_ms": step_ms,
                                               "compile_s": compile_s, "init_val": init_eval, "arms": results,
                                               "ratios": ratios, "total_s": total}, indent=1, default=float))


if __name__ == "__main__":
    main()
