"""Ensembles of more than two members (docs/adaptive_weight.md, "More members").

    OMP_NUM_THREADS=1 python benchmarks/ensemble_members.py --sets qm9_val panel

Every network named in CANDIDATES predicts every molecule of a set once; each candidate is a fixed weighted mean
of them. Prints per set and candidate: frequency MAE, MAE below 200 cm⁻¹, molecules with a mode below −50 cm⁻¹,
the most negative mode and Hessian R² (`hessfit.train._evaluate.evaluate`).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from out_of_domain import load_set  # noqa: E402

CANDIDATES = {
    "ensemble_mf (default then)": {"nequip_mf": 0.4, "blocks_mf": 0.6},
    "C1": {"nequip_mf": 0.4, "blocks_mf": 0.3, "runs/mf_blocks_tiny/best": 0.3},
    "C2": {"nequip_mf": 0.4, "blocks_mf": 0.3, "blocks_qm9": 0.3},
    "C3": {"nequip_mf": 0.2, "nequip_qm9": 0.2, "blocks_mf": 0.3, "blocks_qm9": 0.3},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="+", default=["qm9_val", "panel"])
    p.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    args = p.parse_args()
    from hessfit.structures import HessfitWarning
    from hessfit.train._evaluate import candidate_predictions, evaluate

    warnings.simplefilter("ignore", HessfitWarning)
    members = sorted({m for c in args.candidates for m in CANDIDATES[c]})
    print("| set | candidate | molecules | frequency MAE | MAE < 200 cm⁻¹ | mode < −50 cm⁻¹ | lowest mode | Hessian R² |\n"
          "|---|---|---|---|---|---|---|---|")
    for set_name in args.sets:
        ds, idx = load_set(set_name, None)
        preds = candidate_predictions([ds.structure(i) for i in idx], members, [])
        for c in args.candidates:
            weights = CANDIDATES[c]
            hs = [None if any(preds[m][k] is None for m in weights) else sum(w * preds[m][k] for m, w in weights.items())
                  for k in range(len(idx))]
            s = evaluate(lambda ss, hs=hs: hs, ds, idx, source=c, spectra=False).summary
            print(f"| {set_name} | {c} | {s['n_molecules']} | {s['frequency_mae_cm1']:.2f} | "
                  f"{s['frequency_mae_low_cm1']:.1f} | {s['molecules_with_mode_below_guard']} | "
                  f"{s['min_frequency_cm1']:.0f} | {s['hessian_r2']:.5f} |", flush=True)


if __name__ == "__main__":
    main()
