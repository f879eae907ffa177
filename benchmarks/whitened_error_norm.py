"""Spectral size of a network's whitened Hessian error (default `ensemble_mf`, the default network when this was
measured), QM9 validation against the INS panel (issue 17).

    OMP_NUM_THREADS=2 python benchmarks/whitened_error_norm.py [--qm9 150]

E = T (H_pred − H_ref) T with T the soft-mode loss's whitening matrix (`hessfit.train._data.whitening_matrix`,
floor 100 cm⁻¹). The soft-mode loss trains the mean of E's squared elements; whether H_pred has negative curvature
depends on E's lowest eigenvalue (H_pred is positive definite where ‖E‖₂ < 1, floor aside). Prints per set the
median RMS element, ‖E‖₂ (median, 90th percentile), ‖E‖₂ / (3N · RMS element) (1 = all the error in one
direction), and E's lowest eigenvalue for molecules with and without a mode below −50 cm⁻¹
(docs/large_molecule_training.md).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from out_of_domain import load_set  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qm9", type=int, default=150, help="QM9 validation molecules (the first of the split)")
    p.add_argument("--model", default="ensemble_mf")
    args = p.parse_args()

    from hessfit.model import load_model, predict_hessians
    from hessfit.modes import normal_modes
    from hessfit.structures import HessfitWarning
    from hessfit.train._data import whitening_matrix

    warnings.simplefilter("ignore", HessfitWarning)
    model = load_model(args.model)
    print("| set | molecules | atoms (median) | RMS element of E | ‖E‖₂ median / p90 | ‖E‖₂ / (3N·RMS) | "
          "lowest eigenvalue of E: molecules with a mode < −50 cm⁻¹ / others |\n|---|---|---|---|---|---|---|")
    for name, n in [("qm9_val", args.qm9), ("panel", None)]:
        ds, idx = load_set(name, n)
        structures = [ds.structure(i) for i in idx]
        rows = []
        for s, i, h in zip(structures, idx, predict_hessians(structures, model)):
            t = whitening_matrix(s, ds.hessian(i), 100.0)
            e = t @ (h - ds.hessian(i)) @ t
            ev = np.linalg.eigvalsh((e + e.T) / 2)
            rms = np.sqrt(np.mean(e ** 2))
            rows.append((s.numbers.size, rms, np.abs(ev).max(), np.abs(ev).max() / (e.shape[0] * rms), ev.min(),
                         np.asarray(normal_modes(s, h).frequencies_cm1).min()))
        r = np.array(rows)
        bad = r[:, 5] < -50
        print(f"| {name} | {len(r)} | {np.median(r[:, 0]):.0f} | {np.median(r[:, 1]):.4f} | "
              f"{np.median(r[:, 2]):.2f} / {np.percentile(r[:, 2], 90):.2f} | {np.median(r[:, 3]):.2f} | "
              f"{np.median(r[bad, 4]) if bad.any() else float('nan'):.2f} ({bad.sum()}) / "
              f"{np.median(r[~bad, 4]):.2f} ({(~bad).sum()}) |", flush=True)


if __name__ == "__main__":
    main()
