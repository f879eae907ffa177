"""Stacking per atom-pair class on the QM9 validation split (docs/class_stacking.md).

    OMP_NUM_THREADS=2 python benchmarks/class_stacking.py [--members K2|K19|NET ...]

Uses the member Hessians cached by `benchmarks/stacked_members.py` (``--cache``), fits per-class convex weights on
validation half A (`hessfit.train.class_stack_weights`), and prints on half B, for the class-stacked primary and
for the plain stacked primary, each alone and as the primary of the default's cascade (fallback 0.3 · `nequip_mf` +
0.7 · `blocks_hinge_mf`, threshold −20 cm⁻¹, 10 blend steps; `hessfit.model._cascade.choose_sounder` on the cached
Hessians): Hessian MSE and R², frequency MAE (all, below 200 cm⁻¹), molecules below −50 and −20 cm⁻¹.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from stacked_members import POOL, member_hessians, metrics, short, validation_halves  # noqa: E402

SETS = {"K2": ["nequip_qm9", "blocks_qm9"], "K19": POOL}
PLAIN = {"nequip_qm9": 0.098, "blocks_qm9": 0.902}  # ensemble_stacked
FALLBACK = {"nequip_mf": 0.3, "blocks_hinge_mf": 0.7}  # ensemble_hinge_mf


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", nargs="+", default=["K2"],
                   help="K2 or K19 (docs/class_stacking.md), or networks: shipped names or checkpoint folders "
                        "(e.g. independent members trained on the pool's split, docs/stacked_members.md)")
    p.add_argument("--min-weight", type=float, default=0.03)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=ROOT / "scratch" / "stacked_cache")
    p.add_argument("--out", type=Path, default=None, help="write the class weights (JSON)")
    args = p.parse_args()

    import warnings

    from hessfit.model import PAIR_CLASSES, choose_sounder, combine_by_class, pair_class_index
    from hessfit.structures import HessfitWarning
    from hessfit.train._stacking import class_stack_weights

    warnings.simplefilter("ignore", HessfitWarning)
    ds, idx, structures, refs, half_a, half_b = validation_halves(args.seed)

    members = SETS[args.members[0]] if len(args.members) == 1 and args.members[0] in SETS else args.members
    names = [short(m) for m in members]
    needed = dict.fromkeys(list(members) + list(PLAIN) + list(FALLBACK))
    preds = {short(m): member_hessians(m, structures, args.cache) for m in needed}
    classes = [pair_class_index(s) for s in structures]
    t0 = time.perf_counter()
    weights = class_stack_weights({n: preds[n] for n in names}, refs, classes, half_a, min_weight=args.min_weight)
    print(f"fit on half A ({len(half_a)} molecules) in {time.perf_counter() - t0:.0f} s\n")
    labels = list(weights[next(iter(weights))])
    print("| member | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for n, w in weights.items():
        print(f"| {n} | " + " | ".join(f"{w[c]:.3f}" for c in labels) + " |")

    def mean(ws, i):
        return sum(w * preds[n][i] for n, w in ws.items())

    w_rows = [[w[c] for c in PAIR_CLASSES] for w in weights.values()]
    class_h = [combine_by_class([preds[n][i] for n in weights], classes[i], w_rows)
               for i in range(len(idx))]
    plain_h = [mean(PLAIN, i) for i in range(len(idx))]
    fallback_h = [mean(FALLBACK, i) for i in range(len(idx))]

    def cascade(primary):
        sb = [structures[i] for i in half_b]
        lookup = {id(s): i for s, i in zip(sb, half_b)}
        out, _ = choose_sounder(sb, [primary[i] for i in half_b],
                                lambda ss: [fallback_h[lookup[id(s)]] for s in ss], -20.0, 10)
        return out

    judged = [idx[i] for i in half_b]
    rows = {
        "plain stacked (primary)": metrics(lambda _s: [plain_h[i] for i in half_b], ds, judged),
        "class stacked (primary)": metrics(lambda _s: [class_h[i] for i in half_b], ds, judged),
        "plain stacked cascade (cascade_stacked)": metrics(lambda _s: cascade(plain_h), ds, judged),
        "class stacked cascade (cascade_pairclass for K2)": metrics(lambda _s: cascade(class_h), ds, judged),
    }
    print(f"\nhalf B: {len(half_b)} molecules\n")
    print("| model | Hessian MSE | R² | freq. MAE | < 200 cm⁻¹ | < −50 cm⁻¹ | < −20 cm⁻¹ |")
    print("|---|---|---|---|---|---|---|")
    for n, r in rows.items():
        print(f"| {n} | {r['mse']:.5f} | {r['r2']:.5f} | {r['mae']:.2f} | {r['mae_low']:.1f} | "
              f"{r['below_m50']} | {r['below_m20']} |")
    if args.out:
        args.out.write_text(json.dumps({"members": args.members, "weights": weights, "half_b": rows}, indent=1))


if __name__ == "__main__":
    main()
