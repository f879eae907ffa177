"""End-to-end fine-tuning on bundled data: n-hexane measured on TFXA (data/hexane/).

1. Read the spectra set fitting_configs/finetune/example.toml (one entry: hexane_rdkit_mmff.xyz + hexane_tfxa.dat).
2. Fine-tune the shipped model (last interaction layer + readout, parameter-L2 pull toward the pretrained weights)
   into runs/finetune_hexane/ (a model folder: model.json + params.msgpack, plus checkpoint and history).
3. Load the fine-tuned model like any other (`load_model` / `--model runs/finetune_hexane`) and compare the
   Spearman correlation of the simulated spectrum before and after with `hessfit compare`'s metric.

Run from the repository root:  .venv/bin/python examples/finetune_hexane.py [--steps 20]
Equivalent CLI:  hessfit finetune --spectra fitting_configs/finetune/example.toml --out runs/finetune_hexane
Note: fine-tuning on one spectrum fits that molecule; it is a demonstration of the workflow, not a better model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hessfit.compare import read_spectrum, spearman
from hessfit.finetune import finetune_from_toml
from hessfit.ins import InsConfig, simulate
from hessfit.model import load_model, predict_hessian
from hessfit.structures import read_structure

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "runs" / "finetune_hexane"))
    args = ap.parse_args()
    result = finetune_from_toml(ROOT / "fitting_configs" / "finetune" / "example.toml", args.out,
                                overrides={"steps": args.steps}, resume=True)
    print(f"fine-tuned model written to {result.out_dir} ({result.seconds_per_step:.1f} s/step)")

    s = read_structure(ROOT / "data" / "hexane" / "hexane_rdkit_mmff.xyz")
    measured = read_spectrum(ROOT / "data" / "hexane" / "hexane_tfxa.dat")
    ins = InsConfig(instrument="tfxa", temperature_k=20.0, max_order=2, e_max_cm1=2000.0, bin_width_cm1=2.0)
    keep = (measured.energy_cm1 >= 50) & (measured.energy_cm1 <= 1800)
    for label, model in (("shipped nequip_qm9", load_model("nequip_qm9")), ("fine-tuned", load_model(args.out))):
        ds = simulate(s, predict_hessian(s, model), ins)
        sim = np.interp(measured.energy_cm1[keep], ds["energy"].values, ds["total"].values)
        print(f"{label:>10}: Spearman(simulated, measured, 50-1800 cm-1) = "
              f"{spearman(sim, measured.intensity[keep]):.3f}")


if __name__ == "__main__":
    main()
