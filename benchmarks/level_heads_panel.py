"""Multi-fidelity members at each level of theory on the GFN2-xTB INS panel (issue 17, docs/large_molecule_training.md).

    OMP_NUM_THREADS=2 python benchmarks/level_heads_panel.py [MODEL ...]
    python benchmarks/level_heads_panel.py MODEL --data data/pretrain/families_xtb_minima.npz \
        --split checkpoints/multi_fidelity/mf_blocks_hinge01_fam/split.json

A multi-fidelity model predicts at level 0 (B3LYP) only; here each model is also asked for its level-1 (GFN2-xTB)
Hessian, the level whose labels include flexible molecules of up to 60 atoms, by mapping every atom to its level-1
species (`species_index` + len(elements), patched for the duration; diagnostic only). Against the panel's own xTB
Hessians: if level 1 were sound there, the panel's imaginary modes would be a transfer problem between levels;
if it is not, the models cannot represent those soft modes even at the level they were trained on.
Columns as benchmarks/out_of_domain.py (`hessfit.train._evaluate.evaluate`).

``--data``: any Hessian dataset instead of the panel (e.g. the xTB training minima of a level, to see whether the
level-0 head is sound where the level-1 head was trained). ``--split``: a run's split.json whose extra level lists
that file; the rows are then repeated for the molecules of the file in that run's training split.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from out_of_domain import load_set  # noqa: E402


@contextlib.contextmanager
def at_level(level: int):
    """Within the block, `hessfit.model.predict_hessians` predicts at level of theory ``level`` (0: the default)."""
    import hessfit.model._predict as predict

    level0 = predict.species_index
    predict.species_index = lambda z, el, name="molecule": level0(z, el, name=name) + level * len(el)
    try:
        yield
    finally:
        predict.species_index = level0


def trained_indices(split_json: Path, data: Path, n_molecules: int) -> list[int]:
    """Indices into ``data`` (``n_molecules`` long) of its molecules in the training split of the run's extra level
    that lists it."""
    import json

    from hessfit.structures import load_dataset

    for extra in json.loads(split_json.read_text()).get("extra", []):
        files = [extra["dataset"]] if isinstance(extra["dataset"], str) else extra["dataset"]
        names = [Path(f).name for f in files]
        if data.name in names:
            offset = sum(len(load_dataset(Path(f))) for f in files[: names.index(data.name)])
            return [i - offset for i in extra["train"] if offset <= i < offset + n_molecules]
    raise SystemExit(f"error: {split_json}: no extra level lists {data.name}")


def main(argv=None) -> None:
    import argparse

    from hessfit.model import load_model, predict_hessians
    from hessfit.structures import HessfitWarning, load_dataset
    from hessfit.train._evaluate import evaluate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", default=["blocks_mf", "nequip_mf"])
    p.add_argument("--data", type=Path, help="Hessian dataset (.npz) instead of the INS panel")
    p.add_argument("--split", type=Path, help="a run's split.json: also report that run's training molecules")
    args = p.parse_args(argv)
    if args.split and not args.data:
        p.error("--split needs --data (the panel is in no run's training split)")
    warnings.simplefilter("ignore", HessfitWarning)
    if args.data:
        ds = load_dataset(args.data)
        idx = list(range(len(ds)))
    else:
        ds, idx = load_set("panel", None)
    subsets = {"all": idx}
    if args.split:
        subsets["run's training split"] = trained_indices(args.split, args.data, len(ds))
    structures = [ds.structure(i) for i in idx]
    print("| model | level | molecules | frequency MAE (cm⁻¹) | MAE, modes < 200 cm⁻¹ | molecules with a mode < −50 cm⁻¹ "
          "| most negative mode (cm⁻¹) | Hessian R² |\n|---|---|---|---|---|---|---|---|")
    for name in args.models:
        model = load_model(name)
        for level in (0, 1):
            with at_level(level):
                hs = dict(zip(idx, predict_hessians(structures, model)))
            for label, sub in subsets.items():
                s = evaluate(lambda ss, sub=sub: [hs[i] for i in sub], ds, sub, source=name, spectra=False).summary
                print(f"| {name} | {level}{'' if label == 'all' else f' ({label})'} | {s['n_molecules']} | "
                      f"{s['frequency_mae_cm1']:.1f} | {s['frequency_mae_low_cm1']:.1f} | "
                      f"{s['molecules_with_mode_below_guard']} | {s['min_frequency_cm1']:.0f} | "
                      f"{s['hessian_r2']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
