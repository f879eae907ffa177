"""Networks against the B3LYP/6-311++G(d,p) Hessians of the small N–N/N–O molecules at their GFN2-xTB minima.

    OMP_NUM_THREADS=2 python benchmarks/nitrogen_bond_labels.py [--models cascade_pairclass nequip_qm9 blocks_qm9]

Data: data/pretrain/nitrogen_bonds_b3lyp.npz (scripts/build_nitrogen_dft_set.py; docs/nitrogen_bonds.md). Per
molecule: the lowest internal mode (cm⁻¹) of the B3LYP reference and of each model at the same geometry, and each
model's frequency MAE against the reference (sorted internal modes). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "pretrain" / "nitrogen_bonds_b3lyp.npz"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--models", nargs="+", default=["cascade_pairclass", "nequip_qm9", "blocks_qm9"])
    args = p.parse_args()

    from hessfit.model import load_model, predict_hessian
    from hessfit.structures import HessfitWarning, load_dataset
    from hessfit.train._evaluate import _frequencies as freqs  # sorted internal modes, cm⁻¹

    warnings.simplefilter("ignore", HessfitWarning)  # small, new chemistry: the domain warning is expected
    ds = load_dataset(args.data)
    models = {m: load_model(m) for m in args.models}

    print("| molecule | atoms | max DFT force (eV/Å) | B3LYP lowest | "
          + " | ".join(f"{m}: lowest; MAE" for m in models) + " |")
    print("|---|---|---|---|" + "---|" * len(models))
    maes = {m: [] for m in models}
    for i in range(len(ds)):
        s = ds.structure(i)
        ref = freqs(s, ds.hessian(i))
        cells = []
        for m, model in models.items():
            f = freqs(s, predict_hessian(s, model))
            maes[m].append(float(np.mean(np.abs(f - ref))))
            cells.append(f"{f[0]:.0f}; {maes[m][-1]:.1f}")
        print(f"| {ds.extra['key'][i]} | {s.n_atoms} | {float(ds.extra['max_force_eV_A'][i]):.2f} | {ref[0]:.0f} | "
              + " | ".join(cells) + " |")
    print("| mean MAE | | | | " + " | ".join(f"{np.mean(v):.1f}" for v in maes.values()) + " |")


if __name__ == "__main__":
    main()
