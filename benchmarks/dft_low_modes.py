"""Low modes of the DFT out-of-domain set, molecule by molecule: the B3LYP reference against networks.

    python benchmarks/dft_low_modes.py [--models cascade_pairclass cascade_stacked] [--below 200]

For every molecule of data/ood/dft_b3lyp.npz whose elements the networks know, prints the frequency MAE of the
first model (sorted internal modes, cm⁻¹) and, for the modes whose reference frequency is below ``--below``
cm⁻¹, the reference and each model's frequencies at the same sorted positions (imaginary = negative). These are
the modes behind the set's "MAE below 200 cm⁻¹" (docs/out_of_domain.md, docs/model_card_pooled.md).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["cascade_pairclass", "cascade_stacked"])
    p.add_argument("--below", type=float, default=200.0, help="reference frequencies below this, cm^-1")
    p.add_argument("--data", type=Path, default=ROOT / "data" / "ood" / "dft_b3lyp.npz")
    args = p.parse_args()

    from hessfit.model import load_model
    from hessfit.structures import HessfitWarning, load_dataset
    from hessfit.train._evaluate import _frequencies, network_predict_fn

    warnings.simplefilter("ignore", HessfitWarning)  # out of domain by design
    ds = load_dataset(args.data)
    keys = [str(k) for k in ds.extra["key"]]
    structures = [ds.structure(i) for i in range(len(ds))]
    preds = {name: network_predict_fn(load_model(name))(structures) for name in args.models}
    print(f"| molecule | atoms | MAE {args.models[0]} | reference < {args.below:g} | "
          + " | ".join(args.models) + " |")
    print("|---|---|---|---|" + "---|" * len(args.models))
    for i, s in enumerate(structures):
        if any(preds[name][i] is None for name in args.models):
            continue
        ref = _frequencies(s, ds.hessian(i))
        got = {name: _frequencies(s, preds[name][i]) for name in args.models}
        low = ref < args.below
        mae = float(np.mean(np.abs(got[args.models[0]] - ref)))
        cells = [", ".join(f"{x:.0f}" for x in got[name][low]) or "—" for name in args.models]
        print(f"| {keys[i]} | {len(s.numbers)} | {mae:.1f} | {', '.join(f'{x:.0f}' for x in ref[low]) or '—'} | "
              + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
