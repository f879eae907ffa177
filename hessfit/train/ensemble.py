"""Build an ensemble of two networks, H = (1 − w) H_A + w H_B, with the weight w chosen on validation molecules.

    python -m hessfit.train.ensemble --data shared/data/hessians/qm9_b3lyp_hessians.npz \\
        --split checkpoints/nequip_qm9/split.json --members nequip_qm9 blocks_qm9 --max-molecules 200

Each member predicts the validation Hessians once; every weight of ``--grid`` is then evaluated on them
(`hessfit.train.evaluate`: pooled R², MAE, frequency MAE, imaginary modes, INS Spearman) and the weight with the
lowest validation value of ``--criterion`` (default: frequency MAE in cm⁻¹, the quantity peak positions depend on)
is kept. Writes the ensemble folder (default: the package's shipped ``ensemble_qm9``), whose ``model.json``
metadata holds the scan table and the bundled-molecule metrics (checked by the test suite). Afterwards
``--metrics M`` stores the test-split summary ``M`` of ``hessfit evaluate --model <ensemble>`` in it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

import numpy as np

SCAN_KEYS = ("hessian_r2", "hessian_mae", "frequency_mae_cm1", "molecules_with_imaginary_modes",
             "spearman_order1_median", "spearman_order1_2_median", "spearman_order1_2_fraction_above_0.6")


def weight_scan(dataset, indices: Sequence[int], member_a, member_b, grid: Sequence[float], *,
                spectra: bool = True, progress: bool = False) -> list[dict]:
    """Validation summary (`hessfit.train.evaluate`) of (1 − w)·H_A + w·H_B for every w in ``grid``; each member
    predicts once."""
    from hessfit.model import predict_hessians
    from hessfit.train._evaluate import evaluate

    structures = [dataset.structure(int(i)) for i in indices]
    ha = predict_hessians(structures, member_a, progress=progress)
    hb = predict_hessians(structures, member_b, progress=progress)
    rows = []
    for w in grid:
        res = evaluate(lambda _s, w=w: [(1.0 - w) * a + w * b for a, b in zip(ha, hb)], dataset, indices,
                       source=f"w={w:g}", spectra=spectra)
        rows.append({"weight_b": float(w), **{k: res.summary[k] for k in SCAN_KEYS if k in res.summary}})
    return rows


def choose_weight(rows: Sequence[dict], criterion: str, tie_break: str | None = None) -> float:
    """The weight with the best ``criterion`` (lowest, or highest for R², Spearman and fractions); among weights
    equally good by it, the best by ``tie_break``."""
    def score(row, key):
        return -row[key] if key.startswith(("hessian_r2", "spearman")) else row[key]

    best = min(rows, key=lambda r: (score(r, criterion), score(r, tie_break) if tie_break else 0.0))
    return best["weight_b"]


def format_scan(rows: Sequence[dict]) -> str:
    keys = [k for k in SCAN_KEYS if k in rows[0]]
    short = {"hessian_r2": "R²", "hessian_mae": "MAE eV/Å²", "frequency_mae_cm1": "freq MAE cm⁻¹",
             "molecules_with_imaginary_modes": "imaginary", "spearman_order1_median": "Sp o1",
             "spearman_order1_2_median": "Sp o1-2", "spearman_order1_2_fraction_above_0.6": "o1-2 > 0.6"}
    lines = ["| w (member B) | " + " | ".join(short[k] for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for r in rows:
        lines.append(f"| {r['weight_b']:.2f} | " + " | ".join(
            f"{r[k]:.5f}" if k == "hessian_r2" else f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k])
            for k in keys) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    from hessfit.model import ENSEMBLE_WEIGHTS, Ensemble, load_model, save_ensemble
    from hessfit.structures import load_dataset
    from hessfit.train.ship import bundled_molecule_metrics

    ap = argparse.ArgumentParser(description="build a two-member ensemble, weight chosen on validation molecules")
    ap.add_argument("--data", help="Hessian dataset .npz")
    ap.add_argument("--split", help="split.json of the members' training runs")
    ap.add_argument("--members", nargs=2, default=["nequip_qm9", "blocks_qm9"], help="member A and member B")
    ap.add_argument("--max-molecules", type=int, default=None, help="validation molecules used (default: all)")
    ap.add_argument("--grid", default="0,0.3,0.4,0.45,0.5,0.55,0.6,0.7,1", help="weights of member B")
    ap.add_argument("--criterion", default="frequency_mae_cm1", choices=SCAN_KEYS)
    ap.add_argument("--tie-break", default=None, choices=SCAN_KEYS,
                    help="second criterion among weights equal by the first")
    ap.add_argument("--weight", type=float, default=None, help="skip the scan and use this weight of member B")
    ap.add_argument("--metrics", default=None, help="only store this metrics.json of `hessfit evaluate --model "
                    "DEST` (test split) in the existing ensemble DEST")
    ap.add_argument("--dest", default=str(ENSEMBLE_WEIGHTS), help="ensemble folder to write")
    args = ap.parse_args(argv)
    if args.metrics:  # the ensemble exists already and was evaluated: only record its test metrics
        add_test_metrics(args.dest, args.metrics)
        return
    a, b = (load_model(m) for m in args.members)
    meta = {"description": f"(1 - w) * {args.members[0]} + w * {args.members[1]}, w chosen on validation "
                           f"molecules by {args.criterion}"
                           + (f", ties by {args.tie_break}" if args.tie_break else "")}
    w = args.weight
    if w is None:
        if not (args.data and args.split):
            ap.error("the weight scan needs --data and --split (or give --weight)")
        ds = load_dataset(args.data)
        val = json.loads(Path(args.split).read_text())["val"][:args.max_molecules]
        rows = weight_scan(ds, val, a, b, [float(x) for x in args.grid.split(",")], progress=True)
        print(format_scan(rows))
        w = choose_weight(rows, args.criterion, args.tie_break)
        meta["weight_selection"] = {"split": str(args.split), "subset": "val", "n_molecules": len(val),
                                    "criterion": args.criterion, "tie_break": args.tie_break, "scan": rows}
    print(f"weight of {args.members[1]}: {w:g}")
    meta["bundled_molecule_metrics"] = bundled_molecule_metrics(Ensemble((a, b), (round(1.0 - w, 12), w)))
    print(save_ensemble(args.dest, args.members, [round(1.0 - w, 12), w], meta))  # 0.45, not 0.44999999999999996


def add_test_metrics(dest: str | Path, metrics: str | Path) -> None:
    """Store the test-split summary (``metrics.json`` of ``hessfit evaluate --model dest``) in dest's model.json."""
    path = Path(dest) / "model.json"
    doc = json.loads(path.read_text())
    doc.setdefault("metadata", {})["test_metrics"] = json.loads(Path(metrics).read_text())
    path.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
