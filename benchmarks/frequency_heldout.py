"""Networks against harmonic frequencies of held-out small molecules (frequency datasets, no Hessians).

    OMP_NUM_THREADS=1 python benchmarks/frequency_heldout.py --models ensemble_mf ensemble_qm9 \\
        --blend nequip_mf+runs/x/best@0.6

For each frequency dataset (``--data``; default data/pretrain/qm9_tiny_freqs.npz and qm9_small_freqs_4000.npz) the
molecules of the validation and test parts of the trainer's seeded split (`hessfit.train.split_indices`,
`TrainConfig`'s default seed 0 and fractions 0.9 / 0.05 / 0.05: the molecules a run with that frequency dataset did not train on) are
predicted by every model; per model: frequency MAE between sorted internal-mode frequencies (cm⁻¹) over all modes
and over the modes whose reference is below 200 cm⁻¹, the number of molecules with a mode below −50 cm⁻¹ and the
most negative mode. ``--exclude FILE.smi`` drops the held-out molecules whose InChIKey is that of a molecule in the
file (e.g. one trained on through another dataset; needs RDKit). A blend 'A+B@W' is (1 − W)·A + W·B of two models' Hessians. Prints a markdown table and writes
it with per-molecule rows (JSON) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = [ROOT / "data/pretrain/qm9_tiny_freqs.npz", ROOT / "data/pretrain/qm9_small_freqs_4000.npz"]


def heldout_indices(n: int) -> list[int]:
    from hessfit.train import TrainConfig, split_indices

    split = split_indices(n, seed=TrainConfig().seed, fractions=TrainConfig().split_fractions)
    return sorted(int(i) for i in np.concatenate([split["val"], split["test"]]))


def inchikeys(smiles) -> list[str]:
    """InChIKeys of SMILES strings ('' where RDKit cannot parse one)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mols = [Chem.MolFromSmiles(str(s)) for s in smiles]
    return [Chem.MolToInchiKey(m) if m is not None else "" for m in mols]


def summary(ds, idx, hessians, structures) -> dict:
    from hessfit.train._evaluate import GUARD_CM1, LOW_MODE_CM1, _frequencies

    err, low, rows = [], [], []
    for i, s, h in zip(idx, structures, hessians):
        ref = ds.frequencies(i)  # ascending
        f = _frequencies(s, h)
        d = np.abs(f - ref)
        err.append(d.mean())
        low += list(d[ref < LOW_MODE_CM1])
        rows.append({"index": i, "n_atoms": s.n_atoms, "mae_cm1": float(d.mean()), "lowest_cm1": float(f[0])})
    lowest = np.array([r["lowest_cm1"] for r in rows])
    return {"n_molecules": len(rows), "frequency_mae_cm1": float(np.mean(err)),
            "frequency_mae_low_cm1": float(np.mean(low)) if low else float("nan"), "n_low_modes": len(low),
            "molecules_with_mode_below_guard": int(np.sum(lowest < GUARD_CM1)),
            "min_frequency_cm1": float(lowest.min()), "per_molecule": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", type=Path, default=DEFAULT_DATA)
    p.add_argument("--models", nargs="*", default=["ensemble_mf"])
    p.add_argument("--blend", nargs="*", default=[], metavar="A+B@W")
    p.add_argument("--out", type=Path, default=ROOT / "scratch" / "freq_heldout")
    p.add_argument("--exclude", nargs="*", type=Path, default=[], metavar="FILE.smi",
                   help="drop held-out molecules whose InChIKey is in these SMILES files")
    args = p.parse_args()

    import warnings

    from hessfit.dataset import read_build_input
    from hessfit.structures import HessfitWarning, load_frequency_dataset
    from hessfit.train._evaluate import candidate_predictions

    warnings.simplefilter("ignore", HessfitWarning)  # domain warnings: small molecules are what is measured
    rows, results = [], {}
    for path in args.data:
        ds = load_frequency_dataset(path)
        idx = heldout_indices(len(ds))
        if args.exclude:
            drop = set(inchikeys(item["smiles"] for f in args.exclude for item in read_build_input(f))) - {""}
            keys = inchikeys(ds.extra["smiles"][i] for i in idx)
            print(f"{path.name}: {sum(k in drop for k in keys)} held-out molecules dropped (--exclude)", flush=True)
            idx = [i for i, k in zip(idx, keys) if k not in drop]
        structures = [ds.structure(i) for i in idx]
        print(f"{path.name}: {len(idx)} held-out molecules", flush=True)
        results[path.name] = {}
        for name, hs in candidate_predictions(structures, args.models, args.blend).items():
            s = summary(ds, idx, hs, structures)
            results[path.name][name] = s
            rows.append(f"| {path.name} | {name} | {s['n_molecules']} | {s['frequency_mae_cm1']:.1f} | "
                        f"{s['frequency_mae_low_cm1']:.1f} ({s['n_low_modes']}) | "
                        f"{s['molecules_with_mode_below_guard']} | {s['min_frequency_cm1']:.0f} |")
            print(rows[-1], flush=True)
    text = ("| frequency set (held-out part) | model | molecules | frequency MAE (cm⁻¹) | MAE, modes < 200 cm⁻¹ "
            "(modes) | molecules with a mode < −50 cm⁻¹ | most negative mode (cm⁻¹) |\n|---|---|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text)
    (args.out / "metrics.json").write_text(json.dumps(results, indent=2))
    print(text)


if __name__ == "__main__":
    main()
