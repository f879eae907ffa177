"""Warm time of one network Hessian: the default cascade `cascade_pooled` and its primary `ensemble_pooled`
against the previous default `cascade_mf`.

    python benchmarks/default_speed.py [--repeat 5] [--models cascade_mf ensemble_pooled cascade_pooled DIR ...]

Two molecules, on which both primaries have a mode below −50 cm⁻¹, so the cascades also predict their fallback:
the 50-atom all-anti n-alkane (C16H34, an idealised geometry, not a minimum; the speed target's size) and sucrose
at its GFN2-xTB minimum (45 atoms, from data/ood/panel_xtb.npz). Each model predicts once to compile (not timed), then
``--repeat`` times; the median wall time is reported (2 CPU threads here), with the ratio to the first model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from hessian_speed import alkane  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--models", nargs="+", default=["cascade_mf", "ensemble_pooled", "cascade_pooled"],
                   help="shipped names or model folders; ratios are to the first")
    args = p.parse_args()

    from hessfit.model import load_model, lowest_internal_frequency, predict_hessian
    from hessfit.structures import HessfitWarning, load_dataset

    warnings.simplefilter("ignore", HessfitWarning)
    panel = load_dataset(ROOT / "data" / "ood" / "panel_xtb.npz")
    sucrose = panel.structure([str(k) for k in panel.extra["key"]].index("sucrose"))
    molecules = {"n-hexadecane (50 atoms)": alkane(16), "sucrose, xTB minimum (45 atoms)": sucrose}
    models = {name: load_model(name) for name in args.models}
    print(f"| molecule | model | lowest mode (cm⁻¹) | median warm time (s) | ratio to {args.models[0]} |")
    print("|---|---|---|---|---|")
    for label, mol in molecules.items():
        base = None
        for name, model in models.items():
            h = predict_hessian(mol, model)  # compiles
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                predict_hessian(mol, model)
                times.append(time.perf_counter() - t0)
            t = statistics.median(times)
            base = base or t
            print(f"| {label} | {name} | {lowest_internal_frequency(mol, h):.0f} | {t:.2f} | {t / base:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
