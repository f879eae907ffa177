"""Release tool: build a two-member ensemble, H = (1 − w) H_A + w H_B, with w chosen on validation molecules, or
an ensemble of any members with weights given.

    python scripts/build_ensemble.py --data ../shared/data/hessians/qm9_b3lyp_hessians.npz \\
        --split checkpoints/nequip_qm9/split.json --members nequip_qm9 blocks_qm9 --dest DIR
    python scripts/build_ensemble.py --members nequip_qm9 nequip_mf blocks_qm9 blocks_mf \\
        --weights 0.2 0.2 0.3 0.3 --guard-disagreement 48 --dest DIR

The weight with the lowest validation value of ``--criterion`` (default: frequency MAE in cm⁻¹) is kept
(`hessfit.train.weight_scan`, `choose_weight`). Writes the ensemble folder ``--dest`` (required; the shipped one is
``hessfit/model/weights/ensemble_qm9`` in this checkout), whose ``model.json`` metadata holds the scan table and
the bundled-molecule metrics (checked by the test suite). Afterwards ``--metrics M --dest DIR`` stores the
test-split summary ``M`` of ``hessfit evaluate --model DIR`` in it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ship_model, beside this script

from ship_model import bundled_molecule_metrics  # noqa: E402

from hessfit.train import SCAN_KEYS, choose_weight, format_scan, weight_scan  # noqa: E402


def main(argv=None) -> None:
    from hessfit.model import Ensemble, load_model, save_ensemble
    from hessfit.structures import load_dataset

    ap = argparse.ArgumentParser(description="build a two-member ensemble, weight chosen on validation molecules")
    ap.add_argument("--data", help="Hessian dataset .npz")
    ap.add_argument("--split", help="split.json of the members' training runs")
    ap.add_argument("--members", nargs="+", default=["nequip_qm9", "blocks_qm9"],
                    help="member A and member B (or more, with --weights)")
    ap.add_argument("--weights", type=float, nargs="+", default=None,
                    help="one weight per member, summing to 1 (no scan)")
    ap.add_argument("--guard-disagreement", type=float, default=None,
                    help="the guard's member-disagreement limit for this ensemble, cm^-1 (stored as "
                         "guard_disagreement_cm1; calibrate it as the 99th percentile on validation molecules)")
    ap.add_argument("--class-weights", default=None,
                    help="JSON of benchmarks/class_stacking.py --out: weights per atom-pair class "
                         "(docs/class_stacking.md); --weights are then each member's mean over the classes")
    ap.add_argument("--max-molecules", type=int, default=None, help="validation molecules used (default: all)")
    ap.add_argument("--grid", default="0,0.3,0.4,0.45,0.5,0.55,0.6,0.7,1", help="weights of member B")
    ap.add_argument("--criterion", default="frequency_mae_cm1", choices=SCAN_KEYS)
    ap.add_argument("--tie-break", default=None, choices=SCAN_KEYS,
                    help="second criterion among weights equal by the first")
    ap.add_argument("--max-below-guard", type=float, default=None,
                    help="only weights with at most this fraction of validation molecules with a mode below -50 cm-1")
    ap.add_argument("--no-spectra", action="store_true", help="skip the INS Spearman columns (faster scan)")
    ap.add_argument("--weight", type=float, default=None, help="skip the scan and use this weight of member B")
    ap.add_argument("--metrics", default=None, help="only store this metrics.json of `hessfit evaluate --model "
                    "DEST` (test split) in the existing ensemble DEST")
    ap.add_argument("--dest", required=True, help="ensemble folder to write (the shipped one: "
                    "hessfit/model/weights/ensemble_qm9 in the checkout)")
    args = ap.parse_args(argv)
    if args.metrics:  # the ensemble exists already and was evaluated: only record its test metrics
        add_test_metrics(args.dest, args.metrics)
        return
    if args.weights is not None or args.class_weights:
        write_weighted(args)
        return
    if len(args.members) != 2:
        ap.error("--members: two for the weight scan (more need --weights)")
    a, b = (load_model(m) for m in args.members)
    meta = {"description": f"(1 - w) * {args.members[0]} + w * {args.members[1]}, w chosen on validation "
                           f"molecules by {args.criterion}"
                           + (f", ties by {args.tie_break}" if args.tie_break else "")
                           + (f", among weights with at most {args.max_below_guard:.0%} of molecules with a mode "
                              "below -50 cm-1 (when none has, those with the fewest)" if args.max_below_guard is not None else "")}
    w = args.weight
    if w is not None:
        meta["description"] = (f"(1 - w) * {args.members[0]} + w * {args.members[1]}, w = {w:g} chosen outside this "
                               "script (see the model card)")
    else:
        if not (args.data and args.split):
            ap.error("the weight scan needs --data and --split (or give --weight)")
        ds = load_dataset(args.data)
        val = json.loads(Path(args.split).read_text())["val"][:args.max_molecules]
        rows = weight_scan(ds, val, a, b, [float(x) for x in args.grid.split(",")], spectra=not args.no_spectra,
                           progress=True)
        print(format_scan(rows))
        w = choose_weight(rows, args.criterion, args.tie_break, max_below_guard_fraction=args.max_below_guard)
        meta["weight_selection"] = {"split": str(args.split), "subset": "val", "n_molecules": len(val),
                                    "criterion": args.criterion, "tie_break": args.tie_break,
                                    "max_below_guard_fraction": args.max_below_guard, "scan": rows}
    print(f"weight of {args.members[1]}: {w:g}")
    if args.guard_disagreement is not None:
        meta["guard_disagreement_cm1"] = args.guard_disagreement
    meta["bundled_molecule_metrics"] = bundled_molecule_metrics(Ensemble((a, b), (round(1.0 - w, 12), w)))
    print(save_ensemble(args.dest, args.members, [round(1.0 - w, 12), w], meta))  # 0.45, not 0.44999999999999996


def write_weighted(args) -> None:
    """An ensemble of ``args.members`` with ``args.weights`` chosen outside this script (see the model card)."""
    from hessfit.model import PAIR_CLASSES, Ensemble, check_convex_weights, load_model, save_ensemble

    class_rows = None
    if args.class_weights:
        if args.weights is not None:
            raise SystemExit("--class-weights and --weights: give one of them (with classes, each member's weight "
                             "is its mean over the classes)")
        fitted = json.loads(Path(args.class_weights).read_text())["weights"]
        # as benchmarks/class_stacking.py names them (stacked_members.short): a run's ".../NAME/best" is NAME
        short = [Path(m).parent.name if Path(m).name == "best" else Path(m).name for m in args.members]
        if sorted(fitted) != sorted(short):
            raise SystemExit(f"{args.class_weights}: members {sorted(fitted)} are not --members {sorted(short)}")
        missing = {k: [c for c in PAIR_CLASSES if c not in fitted[k]] for k in short}
        if any(missing.values()):
            raise SystemExit(f"{args.class_weights}: classes missing: {missing}")
        class_rows = [[fitted[k][c] for c in PAIR_CLASSES] for k in short]
        args.weights = [sum(row) / len(row) for row in class_rows]
    try:
        if len(args.weights) != len(args.members):
            raise ValueError(f"{len(args.weights)} weights for {len(args.members)} members")
        check_convex_weights(args.weights)
    except ValueError as exc:
        raise SystemExit(f"--weights: one weight per member, finite, >= 0 and summing to 1 ({exc})") from None
    terms = " + ".join(f"{w:.3g} * {m}" for m, w in zip(args.members, args.weights))
    per_class = ", per atom-pair class (these are the class means)" if class_rows else ""
    meta = {"description": f"{terms}{per_class}, weights chosen outside this script (see the model card)"}
    if args.guard_disagreement is not None:
        meta["guard_disagreement_cm1"] = args.guard_disagreement
    meta["bundled_molecule_metrics"] = bundled_molecule_metrics(
        Ensemble(tuple(load_model(m) for m in args.members), tuple(args.weights), class_weights=class_rows))
    print(save_ensemble(args.dest, args.members, args.weights, meta, class_weights=class_rows))


def add_test_metrics(dest: str | Path, metrics: str | Path) -> None:
    """Store the test-split summary (``metrics.json`` of ``hessfit evaluate --model dest``) in dest's model.json."""
    path = Path(dest) / "model.json"
    doc = json.loads(path.read_text())
    doc.setdefault("metadata", {})["test_metrics"] = json.loads(Path(metrics).read_text())
    path.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
