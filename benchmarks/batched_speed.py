"""Batched prediction: wall time of `predict_hessians` for many QM9 molecules (23–29 atoms), per model.

    python benchmarks/batched_speed.py [--n 1000] [--models cascade_mf cascade_pooled]

The issue's target: 1,000 25-atom molecules in minutes on the 2-core CPU. Molecules are the first ``--n`` of the
shared QM9 B3LYP set (structures only; no reference is used). Each model first predicts 8 molecules (compiles,
not timed), then all ``--n`` once; prints wall time, molecules per second, and minutes per 1,000 molecules.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QM9 = Path(os.environ.get("HESSFIT_QM9", ROOT.parent / "shared" / "data" / "hessians" / "qm9_b3lyp_hessians.npz"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--models", nargs="+", default=["cascade_mf", "cascade_pooled"])
    args = p.parse_args()

    from hessfit.model import load_model, predict_hessians
    from hessfit.structures import HessfitWarning, load_dataset

    warnings.simplefilter("ignore", HessfitWarning)
    ds = load_dataset(QM9)
    structures = [ds.structure(i) for i in range(min(args.n, len(ds)))]
    print("| model | molecules | wall (s) | molecules/s | min per 1,000 |\n|---|---|---|---|---|")
    for name in args.models:
        model = load_model(name)
        predict_hessians(structures[:8], model)  # compile
        t0 = time.perf_counter()
        predict_hessians(structures, model, progress=True)
        t = time.perf_counter() - t0
        print(f"| {name} | {len(structures)} | {t:.0f} | {len(structures) / t:.2f} | "
              f"{1000 * t / len(structures) / 60:.1f} |", flush=True)


if __name__ == "__main__":
    main()
