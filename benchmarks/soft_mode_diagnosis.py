"""Where a network's imaginary modes come from (docs/soft_mode_training.md).

    python benchmarks/soft_mode_diagnosis.py --models blocks_qm9 nequip_qm9 ensemble_qm9 --max-molecules 150
    python benchmarks/soft_mode_diagnosis.py --data data/ood/panel_xtb.npz    # every molecule of another set

For each QM9 validation molecule (or each molecule of ``--data``) the predicted mass-weighted internal Hessian is
written in the reference's normal-mode basis, Λ + D. The lowest eigenvalue is recomputed with the full error D, with its diagonal only (each
mode's own curvature error) and with its off-diagonal part only (couplings between modes). A coupling c between
a soft mode and a stiff mode j lowers the soft mode by about c²/λ_j, whatever the sign of c, so couplings alone
can make soft modes imaginary. Prints, per model, the molecules with a mode below −50 cm⁻¹ in each case.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QM9 = Path(os.environ.get("HESSFIT_QM9", ROOT.parent / "shared" / "data" / "hessians" / "qm9_b3lyp_hessians.npz"))
SPLIT = ROOT / "checkpoints" / "nequip_qm9" / "split.json"


def lowest_modes(structure, h_ref, h_pred) -> tuple[float, float, float]:
    """Lowest frequency (cm⁻¹, negative = imaginary) with the full error, its diagonal, its couplings; and the mean
    frequency shift (cm⁻¹) that the diagonal errors alone give the three softest reference modes."""
    from hessfit.modes import internal_basis
    from hessfit.units import FREQ_FACTOR_EV_A2

    sq = np.repeat(np.sqrt(structure.masses), 3)
    basis = internal_basis(structure.positions, structure.masses)
    a = basis.T @ (h_ref / sq[:, None] / sq[None, :]) @ basis
    p = basis.T @ (h_pred / sq[:, None] / sq[None, :]) @ basis
    lam, u = np.linalg.eigh(a)
    d = u.T @ (p - a) @ u
    cases = (np.linalg.eigvalsh(np.diag(lam) + d)[0], np.min(lam + np.diag(d)),
             np.linalg.eigvalsh(np.diag(lam) + d - np.diag(np.diag(d)))[0])

    def freq(x):
        return FREQ_FACTOR_EV_A2 * np.sign(x) * np.sqrt(np.abs(x))

    bias = float(np.mean(freq(lam[:3] + np.diag(d)[:3]) - freq(lam[:3])))  # + : soft modes made stiffer
    return tuple(float(freq(x)) for x in cases) + (bias,)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["blocks_qm9", "nequip_qm9", "ensemble_qm9"])
    p.add_argument("--max-molecules", type=int, default=150)
    p.add_argument("--data", type=Path, default=None, help="a Hessian dataset (.npz) instead of the QM9 validation split")
    args = p.parse_args()

    from hessfit.model import Ensemble, load_model, predict_hessians
    from hessfit.structures import HessfitWarning, load_dataset

    warnings.simplefilter("ignore", HessfitWarning)
    models = {name: load_model(name) for name in args.models}
    known = set.intersection(*(set(int(z) for z in m.config.elements) for model in models.values()
                               for m in (model.members if isinstance(model, Ensemble) else (model,))))
    ds = load_dataset(args.data or QM9)
    idx = (list(range(len(ds))) if args.data else json.loads(SPLIT.read_text())["val"])[: args.max_molecules]
    idx = [i for i in idx if set(int(z) for z in ds.numbers(i)) <= known]  # molecules every network can take
    structures = [ds.structure(i) for i in idx]
    print(f"{args.data or 'QM9 validation split'}: molecules with a mode < −50 cm⁻¹\n"
          "| model | molecules | full error | diagonal error only | couplings only | mean diagonal error of the "
          "3 softest modes (cm⁻¹) |\n|---|---|---|---|---|---|")
    for name, model in models.items():
        preds = predict_hessians(structures, model)
        low = np.array([lowest_modes(s, ds.hessian(i).astype(float), h) for s, h, i in zip(structures, preds, idx)])
        counts = " | ".join(str(int(np.sum(low[:, k] < -50))) for k in range(3))
        print(f"| {name} | {len(idx)} | {counts} | {np.mean(low[:, 3]):+.0f} |", flush=True)


if __name__ == "__main__":
    main()
