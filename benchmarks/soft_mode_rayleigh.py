"""Where a network's imaginary modes point, on the INS panel's failing molecules (issue 17, docs/large_molecule_training.md).

    OMP_NUM_THREADS=2 python benchmarks/soft_mode_rayleigh.py

For each molecule: the reference (GFN2-xTB) lowest three internal modes; the predicted Hessian's lowest three; and
the Rayleigh quotient of each of the reference's three softest mass-weighted modes v under the predicted Hessian,
sign(vᵀH̃v)·√|vᵀH̃v| in cm⁻¹ (what the network says the curvature along the *true* soft mode is). Positive
quotients beside negative eigenvalues mean the negative curvature lies along other directions (couplings between
soft and stiffer modes), not along the true soft modes. Level 1 = the model's GFN2-xTB head (as
benchmarks/level_heads_panel.py; diagnostic only).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from level_heads_panel import at_level  # noqa: E402
from out_of_domain import load_set  # noqa: E402

FAILING = ["L-leucine", "glycine_dipeptide_model", "lidocaine", "sucrose", "trehalose", "9_10-diphenylanthracene",
           "n-tetracosane", "n-triacontane"]  # ensemble_mf's 8 panel molecules with a mode below -50 cm-1
CASES = [("ensemble_mf", 0), ("blocks_mf", 0), ("nequip_mf", 0), ("blocks_mf", 1), ("nequip_mf", 1)]


def signed_sqrt(x):
    return np.sign(x) * np.sqrt(np.abs(x))


def main() -> None:
    from hessfit.model import load_model, predict_hessians
    from hessfit.modes import normal_modes
    from hessfit.structures import HessfitWarning
    from hessfit.units import FREQ_FACTOR_EV_A2

    warnings.simplefilter("ignore", HessfitWarning)
    ds, _ = load_set("panel", None)
    keys = list(ds.extra["key"])
    idx = [keys.index(k) for k in FAILING]
    structures = [ds.structure(i) for i in idx]
    for name, level in CASES:
        with at_level(level):
            hs = predict_hessians(structures, load_model(name))
        print(f"\n{name}, level {level}\n| molecule | reference lowest | predicted lowest | "
              "Rayleigh quotients of the reference's lowest |\n|---|---|---|---|")
        for key, s, i, h in zip(FAILING, structures, idx, hs):
            ref, pred = normal_modes(s, ds.hessian(i)), normal_modes(s, h)
            f_ref = np.asarray(ref.frequencies_cm1)
            v = np.asarray(ref.vectors).reshape(len(f_ref), -1)
            w = 1 / np.sqrt(np.repeat(np.asarray(ref.masses), 3))
            curvature = np.einsum("ki,ij,kj->k", v[:3], w[:, None] * h * w[None, :], v[:3])  # eV/Å²/amu
            q = FREQ_FACTOR_EV_A2 * signed_sqrt(curvature)
            fmt = lambda a: ", ".join(f"{x:.0f}" for x in a)  # noqa: E731
            print(f"| {key} | {fmt(f_ref[:3])} | {fmt(np.asarray(pred.frequencies_cm1)[:3])} | {fmt(q)} |",
                  flush=True)


if __name__ == "__main__":
    main()
