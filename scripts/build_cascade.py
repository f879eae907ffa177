"""Release tool: write a cascade folder (`hessfit.model.Cascade`): a primary network, and a fallback where the
primary's Hessian has a mode below the guard's threshold.

    python scripts/build_cascade.py --primary ensemble_mf --fallback ensemble_hinge_mf --blend-steps 10 \\
        --dest hessfit/model/weights/cascade_mf
    python scripts/build_cascade.py --dest hessfit/model/weights/cascade_mf --metrics evaluation/metrics.json

Primary and fallback are shipped model names or folders relative to ``--dest``. ``model.json`` metadata holds a
description, the bundled-molecule metrics (checked by the test suite) and, with ``--metrics``, the test-split
summary of ``hessfit evaluate --model DEST``. The choice of primary, fallback and steps is documented in
docs/curvature_hinge.md and the model card (docs/model_card_cascade.md), not made here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ship_model, build_ensemble: beside this script

from build_ensemble import add_test_metrics  # noqa: E402
from ship_model import bundled_molecule_metrics  # noqa: E402


def main(argv=None) -> None:
    from hessfit.model import load_model, save_cascade

    ap = argparse.ArgumentParser(description="write a cascade folder: a primary network and a guard fallback")
    ap.add_argument("--primary", help="the network used wherever its Hessian passes the guard")
    ap.add_argument("--fallback", help="the network blended in where the primary has a mode below the threshold")
    ap.add_argument("--threshold", type=float, default=-50.0, help="cm^-1 (the guard's, default -50)")
    ap.add_argument("--blend-steps", type=int, default=10, help="0: the fallback whole; k: the least blend in steps "
                    "of 1/k that passes (default 10)")
    ap.add_argument("--metrics", default=None, help="only store this metrics.json of `hessfit evaluate --model "
                    "DEST` (test split) in the existing cascade DEST")
    ap.add_argument("--card", default="docs/model_card_cascade.md", help="the model card named in the description")
    ap.add_argument("--dest", required=True, help="cascade folder to write")
    args = ap.parse_args(argv)
    if args.metrics:
        add_test_metrics(args.dest, args.metrics)
        return
    if not (args.primary and args.fallback):
        ap.error("a cascade needs --primary and --fallback (or --metrics for an existing one)")
    meta = {"description": f"{args.primary}, and where its Hessian has an internal mode below {args.threshold:g} "
                           f"cm-1 the least blend with {args.fallback} (steps of 1/{args.blend_steps}) that lifts "
                           f"it above; see {args.card}"}
    dest = save_cascade(args.dest, args.primary, args.fallback, args.threshold, meta, args.blend_steps)
    meta["bundled_molecule_metrics"] = bundled_molecule_metrics(load_model(dest))
    print(save_cascade(args.dest, args.primary, args.fallback, args.threshold, meta, args.blend_steps))


if __name__ == "__main__":
    main()
