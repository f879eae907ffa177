"""Cost of the soft-mode term in a training step (docs/soft_mode_training.md).

    python benchmarks/soft_mode_step.py [--molecules 64] [--repeats 5]

For each shipped member (`nequip_qm9`: energy model, 1 Rademacher probe per molecule; `blocks_qm9`: block model,
exact column probes), one batch of QM9 training molecules (the trainer's packing, 383 atoms) is timed warm, as the
trainer runs it (value and parameter gradient of the loss, jitted): without the soft-mode term (the baseline),
then with it. Also times the one-off preparation of the whitening matrices per molecule. Prints median times
(s) and the ratio to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QM9 = Path(os.environ.get("HESSFIT_QM9", ROOT.parent / "shared" / "data" / "hessians" / "qm9_b3lyp_hessians.npz"))
SPLIT = ROOT / "checkpoints" / "nequip_qm9" / "split.json"


def median_time(fn, repeats: int) -> float:
    import jax

    jax.block_until_ready(fn())  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--molecules", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()

    import jax

    from hessfit.model import load_model
    from hessfit.structures import load_dataset
    from hessfit.train._data import batch_shapes, column_probes, make_batch, plan_batches, prepare
    from hessfit.train._loss import make_loss_fn

    ds = load_dataset(QM9)
    idx = json.loads(SPLIT.read_text())["train"][: args.molecules]
    print(f"load average {os.getloadavg()[0]:.1f}; one batch of QM9 training molecules, warm, median of "
          f"{args.repeats}\n| model | molecules in batch | step without (s) | step with soft-mode term (s) | ratio "
          "| whitening matrices, per molecule (ms) |\n|---|---|---|---|---|---|")
    for name in ("nequip_qm9", "blocks_qm9"):
        model = load_model(name)
        cfg = model.config
        kw = dict(elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom)
        plain = prepare(ds, idx, **kw)
        prepare(ds, idx[:8], soft_mode_floor_cm1=100.0, **kw)  # compile the eigensolver for the common sizes
        t0 = time.perf_counter()
        soft = prepare(ds, idx, soft_mode_floor_cm1=100.0, **kw)
        prep_ms = 1e3 * ((time.perf_counter() - t0) / len(idx))
        shapes = batch_shapes(plain, 383)
        members = plan_batches(plain, np.arange(len(plain)), shapes, 383)[0]
        if cfg.kind == "blocks":
            k = 3 * max(plain.n_atoms(i) for i in range(len(plain)))
            batch_kw = dict(n_probes=k, rng=None, probe_vectors=column_probes(k))
        else:
            batch_kw = dict(n_probes=1, rng=np.random.default_rng(0))
        params = jax.tree_util.tree_map(jax.numpy.asarray, model.params)
        row = []
        for mols, weight in ((plain, 0.0), (soft, 10.0)):
            b = make_batch(mols, members, shapes, dtype=np.float32, **batch_kw)
            grad = jax.jit(jax.value_and_grad(make_loss_fn(cfg, soft_mode_weight=weight), has_aux=True))
            row.append(median_time(lambda: grad(params, b.positions, b.graph, b.probes, b.targets, b.weights,
                                                b.molecule, b.soft), args.repeats))
        print(f"| {name} | {len(members)} | {row[0]:.3f} | {row[1]:.3f} | {row[1] / row[0]:.2f} | {prep_ms:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
