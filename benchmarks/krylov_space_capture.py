"""Which Krylov space of the energy hinge finds a model's negative curvature, at what HVP count (issue 17).

    OMP_NUM_THREADS=2 python benchmarks/krylov_space_capture.py MODEL [MODEL ...] [--set xtb641|panel]

X = Rᵀ H_pred R is the model's Hessian whitened by the set's reference (floor 100 cm⁻¹, as the training hinge). For
each space (k lowest reference modes, s Krylov steps; k(s + 1) HVPs; NumPy `ritz_values`) and the molecules with
μ_min < −0.01: how many the lowest Ritz value finds (θ_min < −0.01), how many of those with μ_min < −0.3 it finds at
half depth or more (θ_min < μ_min / 2), and its share of the dense hinge Σ relu(−μ)². ``xtb641``: every 4th of the
641 GFN2-xTB training minima (`data/pretrain/nci_flexible_xtb_minima_641.npz`), the set the training hinge's space
was chosen on; ``panel``: the INS panel (held out), also printed per molecule. docs/curvature_hinge.md.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from out_of_domain import load_set  # noqa: E402
from ritz_hinge_capture import ROOT, ritz_values  # noqa: E402

SPACES = ((6, 1), (6, 2), (4, 2), (3, 3), (2, 5), (1, 11), (6, 3), (4, 5), (12, 1), (24, 0), (24, 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="energy models (names or folders)")
    p.add_argument("--set", default="xtb641", choices=("xtb641", "panel"))
    args = p.parse_args()

    from hessfit.model import load_model, predict_hessians
    from hessfit.structures import HessfitWarning, load_dataset
    from hessfit.train._data import soft_mode_basis

    warnings.simplefilter("ignore", HessfitWarning)
    if args.set == "panel":
        ds, idx = load_set("panel", None)
    else:
        ds = load_dataset(ROOT / "data/pretrain/nci_flexible_xtb_minima_641.npz")
        idx = list(range(0, len(ds), 4))
    names = [str(k) for k in ds.extra["key"]] if "key" in ds.extra else [str(i) for i in range(len(ds))]
    structures = [ds.structure(i) for i in idx]
    header = " | ".join(f"({k}, {s}), {k * (s + 1)}" for k, s in SPACES)
    for model in args.models:
        hessians = predict_hessians(structures, load_model(model))
        rows, dense = [], 0.0
        for i, s, h in zip(idx, structures, hessians):
            r, _, _ = soft_mode_basis(s, ds.hessian(i), 100.0)
            x = r.T @ h @ r
            x = 0.5 * (x + x.T)
            mu = np.linalg.eigvalsh(x)
            dense += np.sum(np.maximum(-mu, 0.0) ** 2)
            if mu[0] < -0.01:
                rows.append((names[i], mu[0], [ritz_values(x, k, st) for k, st in SPACES]))
        deep = [row for row in rows if row[1] < -0.3]
        print(f"## {model}: {len(idx)} molecules of {args.set}, {len(rows)} with μ_min < −0.01, {len(deep)} below −0.3")
        if args.set == "panel":
            print(f"| molecule | μ_min | {header} |\n|---" + "|---" * (len(SPACES) + 1) + "|")
            for name, mu0, thetas in rows:
                print(f"| {name} | {mu0:.2f} | " + " | ".join(f"{t[0]:.2f}" for t in thetas) + " |")
        print(f"| space (k, s), HVPs | {header} |\n|---" + "|---" * len(SPACES) + "|")
        print(f"| found of {len(rows)} | " + " | ".join(
            str(sum(row[2][j][0] < -0.01 for row in rows)) for j in range(len(SPACES))) + " |")
        print(f"| of the {len(deep)} below −0.3, found at half depth | " + " | ".join(
            str(sum(row[2][j][0] < 0.5 * row[1] for row in deep)) for j in range(len(SPACES))) + " |")
        print("| share of the dense hinge | " + " | ".join(
            f"{sum(np.sum(np.maximum(-row[2][j], 0.0) ** 2) for row in rows) / max(dense, 1e-30):.2f}"
            for j in range(len(SPACES))) + " |", flush=True)


if __name__ == "__main__":
    main()
