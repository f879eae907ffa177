"""Where the energy member's negative curvature lies on failing INS-panel molecules (issue 17).

    OMP_NUM_THREADS=2 python benchmarks/ritz_block_panel.py MODEL

X = Rᵀ H_pred R is the model's Hessian whitened by the panel's GFN2-xTB reference (floor 100 cm⁻¹, as the training
hinge). Prints X's lowest eigenvalue μ_min, the lowest Ritz value of the training hinge's space for block k = 6, 12,
24, 48 (k lowest reference modes plus one block-Krylov step; NumPy), and the weight of X's lowest eigenvector on the
6 and 24 lowest reference modes (docs/curvature_hinge.md). A diagnosis on held-out molecules, not a training input.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from out_of_domain import load_set  # noqa: E402
from ritz_hinge_capture import ritz_values  # noqa: E402

MOLECULES = ("sucrose", "trehalose", "lidocaine", "L-leucine", "n-tetracosane")
BLOCKS = (6, 12, 24, 48)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="an energy model (name or folder)")
    args = p.parse_args()

    from hessfit.model import load_model, predict_hessians
    from hessfit.structures import HessfitWarning
    from hessfit.train._data import soft_mode_basis

    warnings.simplefilter("ignore", HessfitWarning)
    ds, _ = load_set("panel", None)
    keys = [str(k) for k in ds.extra["key"]]
    idx = [i for i, k in enumerate(keys) if any(n.lower() in k.lower() for n in MOLECULES)]
    structures = [ds.structure(i) for i in idx]
    hessians = predict_hessians(structures, load_model(args.model))
    print("| molecule | 3N−6 | μ_min | " + " | ".join(f"Ritz θ_min, k = {k}" for k in BLOCKS)
          + " | lowest eigenvector on the 6 / 24 lowest modes |")
    print("|---" * (4 + len(BLOCKS)) + "|")
    for i, s, h in zip(idx, structures, hessians):
        r, _, _ = soft_mode_basis(s, ds.hessian(i), 100.0)
        x = r.T @ h @ r
        x = 0.5 * (x + x.T)
        w, v = np.linalg.eigh(x)
        theta = [ritz_values(x, k).min() for k in BLOCKS]
        print(f"| {keys[i]} | {len(x)} | {w[0]:.2f} | " + " | ".join(f"{t:.2f}" for t in theta)
              + f" | {np.sum(v[:6, 0] ** 2):.2f} / {np.sum(v[:24, 0] ** 2):.2f} |", flush=True)


if __name__ == "__main__":
    main()
