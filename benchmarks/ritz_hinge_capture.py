"""How much of the dense curvature hinge the energy model's Rayleigh–Ritz hinge sees, and what it costs (issue 17).

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/ritz_hinge_capture.py [--model nequip_mf] [--block 6] [--steps 1]
        [--qm9 120]

On the first QM9 validation molecules of the shipped split (`checkpoints/multi_fidelity/mf_energy_freq/split.json`),
X = Rᵀ H_pred R is the model's Hessian whitened by the reference (floor 100 cm⁻¹; `hessfit.train._loss`). Prints
the dense hinge Σ relu(−μ)² (all eigenvalues of X, from the model's full Hessians), the Ritz hinge of the training
loss (`ritz_curvature_hinge`, block k), how many molecules have μ_min < −0.01 and how many of them the Ritz values
find, and the time of one loss gradient of a Hessian batch with and without the term (the baseline, same run).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def ritz_values(x: np.ndarray, block: int, steps: int = 1) -> np.ndarray:
    """Ritz values of the symmetric ``x`` (M, M) on span(E, x E, …, x^s E), E = e_1..e_k, k = ``block``, s =
    ``steps`` (the training hinge's space in NumPy: ``x`` = Rᵀ H R, whose first columns are the lowest reference
    modes)."""
    blocks = [np.eye(len(x))[:, : min(block, len(x))]]
    for _ in range(steps):
        q, _ = np.linalg.qr(np.hstack(blocks))
        nxt = x @ blocks[-1]
        blocks.append(np.linalg.qr(nxt - q @ (q.T @ nxt))[0])
    stacked = np.hstack(blocks)
    basis, _ = np.linalg.qr(stacked)
    sv = np.linalg.svd(stacked, compute_uv=False)
    basis = basis[:, : int(np.sum(sv > 1e-10 * sv[0]))]  # drop what a rank-deficient stack leaves undefined
    return np.linalg.eigvalsh(basis.T @ x @ basis)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="nequip_mf", help="an energy model (name or folder)")
    p.add_argument("--block", type=int, default=6, help="lowest reference modes per molecule (k)")
    p.add_argument("--steps", type=int, default=1, help="Krylov steps after the block (s)")
    p.add_argument("--qm9", type=int, default=120, help="QM9 validation molecules (the first of the split)")
    p.add_argument("--data", default="/work/shared/data/hessians/qm9_b3lyp_hessians.npz")
    args = p.parse_args()

    from hessfit.model import batch_hessians, load_model, pack
    from hessfit.structures import load_dataset
    from hessfit.train._data import batch_shapes, make_batch, plan_batches, prepare
    from hessfit.train._loss import make_probe_loss_fn

    model = load_model(args.model)
    cfg, params = model.config, model.params
    ds = load_dataset(args.data)
    split = json.loads((ROOT / "checkpoints/multi_fidelity/mf_energy_freq/split.json").read_text())
    val = split["val"][: args.qm9]
    mols = prepare(ds, val, elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom, soft_mode_floor_cm1=100.0)
    shapes = batch_shapes(mols, 383)
    batches = plan_batches(mols, list(range(len(val))), shapes, 383)

    def loss(weight):
        return make_probe_loss_fn(cfg, curvature_hinge_weight=weight, curvature_hinge_block=args.block,
                                  curvature_hinge_krylov_steps=args.steps)

    value = jax.jit(loss(1.0))
    grads = {w: jax.jit(jax.grad(lambda q, *a, w=w: loss(w)(q, *a)[0])) for w in (0.0, 1.0)}
    rng = np.random.default_rng(0)
    dense, ritz_jax, mu_min, times = [], 0.0, [], {0.0: [], 1.0: []}
    ritz_np = []
    for i, members in enumerate(batches):
        b = make_batch(mols, members, shapes, n_probes=1, rng=rng)
        a = (b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule, b.soft)
        ritz_jax += float(value(params, *a)[1]["curvature_hinge"]) * len(members)
        if i < 3:
            for w, g in grads.items():
                jax.block_until_ready(g(params, *a))
                t = time.perf_counter()
                jax.block_until_ready(g(params, *a))
                times[w].append(time.perf_counter() - t)
        packed = pack([mols.species[k] for k in members], [mols.positions[k] for k in members],
                      cutoff_angstrom=cfg.cutoff_angstrom)
        for k, h in zip(members, batch_hessians(cfg, params, packed)):
            r = np.asarray(mols.mode_bases[k][0], float)
            x = r.T @ h @ r
            mu = np.linalg.eigvalsh(x)
            theta = ritz_values(x, args.block, args.steps)
            dense.append(np.sum(np.maximum(-mu, 0) ** 2))
            ritz_np.append((np.sum(np.maximum(-theta, 0) ** 2), theta.min()))
            mu_min.append(mu.min())
    dense, mu_min = np.array(dense), np.array(mu_min)
    ritz_np = np.array(ritz_np)
    neg = mu_min < -0.01
    print(f"model {args.model}, block k = {args.block}, Krylov steps s = {args.steps} "
          f"({args.block * (args.steps + 1)} HVPs), "
          f"{len(dense)} QM9 validation molecules")
    print("| quantity | value |\n|---|---|")
    print(f"| dense hinge, mean per molecule | {dense.mean():.4f} |")
    print(f"| Ritz hinge, mean per molecule (loss / NumPy) | {ritz_jax / len(dense):.4f} / {ritz_np[:, 0].mean():.4f} |")
    print(f"| molecules with μ_min < −0.01 / found by the Ritz values | {neg.sum()} / {(ritz_np[neg, 1] < -0.01).sum()} |")
    print(f"| Ritz share of the dense hinge on them | {ritz_np[neg, 0].sum() / max(dense[neg].sum(), 1e-30):.2f} |")
    base, with_term = np.median(times[0.0]), np.median(times[1.0])
    print(f"| Hessian-batch gradient without / with the term (s) | {base:.2f} / {with_term:.2f} ({with_term / base:.1f}×) |")


if __name__ == "__main__":
    main()
