"""Stacked regression of committed networks on the QM9 validation split (docs/stacked_members.md).

    OMP_NUM_THREADS=1 python benchmarks/stacked_members.py [--drop NAME ...] [--compare cascade_pooled DIR]

Predicts the 412 validation molecules with every member (cached per member under ``--cache``), halves the
split by a seeded permutation, fits convex weights (w ≥ 0, Σw = 1) minimising the Hessian MSE of Σ wₖHₖ on half A
(`hessfit.train._stacking`, a quadratic programme), drops members below ``--min-weight`` and refits until none
is, then prints each member's weight and, on half B (`hessfit.train.evaluate`), the Hessian MSE and R², the
frequency MAE (all modes, below 200 cm⁻¹) and the molecules with a mode below −50 and −20 cm⁻¹ of every member
and of the stacked mean. ``--compare`` evaluates whole models (a default cascade, a candidate folder) on half B
the same way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QM9 = ROOT.parent / "shared" / "data" / "hessians" / "qm9_b3lyp_hessians.npz"
SPLIT = ROOT / "checkpoints" / "nequip_qm9" / "split.json"
CKPT = "checkpoints/multi_fidelity/{}/best"
POOL = ["nequip_qm9", "nequip_mf", "blocks_qm9", "blocks_mf", "blocks_hinge_mf"] + [CKPT.format(n) for n in (
    "mf_blocks_hinge01", "mf_blocks_hinge01_l0", "mf_blocks_hinge01_l0_modes", "mf_blocks_hinge01_l0_modes002",
    "mf_blocks_hinge_modes", "mf_blocks_soft10", "mf_energy_hinge01", "mf_energy_lanczos1_large_x3",
    "mf_energy_lanczos1_soft10_fam", "mf_energy_lanczos1_soft10_l0", "mf_energy_lanczos1_soft10_x3", "mf_plain",
    "mf_plain_anneal", "mf_plain_r10")]


def short(name: str) -> str:
    """A member's name: a run's ".../NAME/best" is NAME, any other folder its own name, a shipped model its name."""
    return Path(name).parent.name if Path(name).name == "best" else Path(name).name


def member_hessians(name: str, structures, cache: Path) -> list[np.ndarray]:
    """Validation Hessians (eV/Å²) of one member, from ``cache`` (when made from the same weight files) or
    predicted and cached."""
    import hashlib

    from hessfit.model import WEIGHTS_DIR, load_model
    from hessfit.train._evaluate import network_predict_fn

    folder = ROOT / name if "/" in name else WEIGHTS_DIR / name
    stamp = hashlib.sha1(b"".join((folder / f).read_bytes() for f in ("model.json", "params.msgpack"))).hexdigest()
    path = cache / f"{short(name)}.npz"
    if path.exists():
        z = np.load(path)
        if "stamp" in z.files and str(z["stamp"]) == stamp:  # the same weight files: reuse
            return [z[f"h{i}"] for i in range(len(structures))]
    t0 = time.perf_counter()
    model = load_model(str(folder))
    hs = [np.asarray(h, np.float64) for h in network_predict_fn(model)(structures)]
    print(f"  {short(name)}: {len(hs)} molecules in {time.perf_counter() - t0:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, stamp=stamp, **{f"h{i}": h for i, h in enumerate(hs)})
    return hs


def validation_halves(seed: int):
    """(dataset, validation indices, structures, reference Hessians (eV/Å²), half A, half B): the QM9 validation
    split halved by a permutation of ``seed`` (positions into the validation list, sorted)."""
    from hessfit.structures import load_dataset

    ds = load_dataset(QM9)
    idx = [int(i) for i in json.loads(SPLIT.read_text())["val"]]
    structures = [ds.structure(i) for i in idx]
    refs = [np.asarray(ds.hessian(i), np.float64) for i in idx]
    perm = np.random.default_rng(seed).permutation(len(idx))
    return ds, idx, structures, refs, np.sort(perm[: len(idx) // 2]), np.sort(perm[len(idx) // 2:])


def metrics(predict_fn, ds, indices) -> dict:
    """`hessfit.train.evaluate` (no spectra) of ``predict_fn`` on dataset molecules ``indices``: Hessian MSE (eV/Å²)²
    and pooled R², sorted-frequency MAE (cm⁻¹; all, reference below 200 cm⁻¹), molecules with a mode below −50 and
    −20 cm⁻¹."""
    from hessfit.train import evaluate

    res = evaluate(predict_fn, ds, indices, spectra=False)
    s = res.summary
    return {"mse": s["hessian_rmse"] ** 2, "r2": s["hessian_r2"], "mae": s["frequency_mae_cm1"],
            "mae_low": s["frequency_mae_low_cm1"], "below_m50": s["molecules_with_mode_below_guard"],
            "below_m20": sum(m["min_frequency_pred_cm1"] < -20 for m in res.per_molecule)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", nargs="+", default=POOL)
    p.add_argument("--drop", nargs="*", default=[], help="members left out (short names), e.g. for the speed rule")
    p.add_argument("--min-weight", type=float, default=0.03)
    p.add_argument("--seed", type=int, default=0, help="seed of the permutation that halves the validation split")
    p.add_argument("--cache", type=Path, default=ROOT / "scratch" / "stacked_cache")
    p.add_argument("--compare", nargs="*", default=[], help="whole models evaluated on half B")
    p.add_argument("--out", type=Path, default=None, help="write weights and metrics (JSON)")
    args = p.parse_args()

    from hessfit.structures import HessfitWarning
    from hessfit.train._stacking import stack_weights

    import warnings

    warnings.simplefilter("ignore", HessfitWarning)
    ds, idx, structures, refs, half_a, half_b = validation_halves(args.seed)

    members = [m for m in args.members if short(m) not in args.drop]
    preds = {short(m): member_hessians(m, structures, args.cache) for m in members}
    weights = stack_weights(preds, refs, half_a, min_weight=args.min_weight)
    stacked = [sum(w * preds[n][i] for n, w in weights.items()) for i in range(len(idx))]

    judged = [idx[i] for i in half_b]

    def cached(hs):  # evaluate's predict_fn: the half-B Hessians, in the order of ``judged``
        return lambda _structures: [hs[i] for i in half_b]

    rows = {n: metrics(cached(preds[n]), ds, judged) for n in preds}
    rows["stacked"] = metrics(cached(stacked), ds, judged)
    for name in args.compare:
        from hessfit.model import load_model
        from hessfit.train import network_predict_fn

        rows[name] = metrics(network_predict_fn(load_model(name)), ds, judged)

    print(f"validation half A: {len(half_a)} molecules (fit), half B: {len(half_b)} (judged)\n")
    print("| member | weight | half B: Hessian MSE | R² | freq. MAE | < 200 cm⁻¹ | < −50 cm⁻¹ "
          "| < −20 cm⁻¹ |")
    print("|---|---|---|---|---|---|---|---|")
    for n, r in rows.items():
        w = f"{weights[n]:.3f}" if n in weights else ""
        print(f"| {n} | {w} | {r['mse']:.5f} | {r['r2']:.5f} | {r['mae']:.2f} | {r['mae_low']:.1f} | "
              f"{r['below_m50']} | {r['below_m20']} |")
    print("\nweights: " + " ".join(f"{n}*{w:.3f}" for n, w in weights.items()))
    if args.out:
        args.out.write_text(json.dumps({"weights": weights, "half_b": rows, "members": members}, indent=1))


if __name__ == "__main__":
    main()
