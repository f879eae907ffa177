"""Multi-fidelity members at each level of theory on the GFN2-xTB INS panel (issue 17, docs/large_molecule_training.md).

    OMP_NUM_THREADS=2 python benchmarks/level_heads_panel.py [MODEL ...]

A multi-fidelity model predicts at level 0 (B3LYP) only; here each model is also asked for its level-1 (GFN2-xTB)
Hessian, the level whose labels include flexible molecules of up to 60 atoms, by mapping every atom to its level-1
species (`species_index` + len(elements), patched for the duration; diagnostic only). Against the panel's own xTB
Hessians: if level 1 were sound there, the panel's imaginary modes would be a transfer problem between levels;
if it is not, the models cannot represent those soft modes even at the level they were trained on.
Columns as benchmarks/out_of_domain.py (`hessfit.train._evaluate.evaluate`).
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


def main(models: list[str]) -> None:
    from hessfit.model import load_model, predict_hessians
    from hessfit.structures import HessfitWarning
    from hessfit.train._evaluate import evaluate

    warnings.simplefilter("ignore", HessfitWarning)
    ds, idx = load_set("panel", None)
    structures = [ds.structure(i) for i in idx]
    print("| model | level | molecules | frequency MAE (cm⁻¹) | MAE, modes < 200 cm⁻¹ | molecules with a mode < −50 cm⁻¹ "
          "| most negative mode (cm⁻¹) | Hessian R² |\n|---|---|---|---|---|---|---|---|")
    for name in models:
        model = load_model(name)
        for level in (0, 1):
            with at_level(level):
                hs = predict_hessians(structures, model)
            s = evaluate(lambda ss, hs=hs: hs, ds, idx, source=name, spectra=False).summary
            print(f"| {name} | {level} | {s['n_molecules']} | {s['frequency_mae_cm1']:.1f} | "
                  f"{s['frequency_mae_low_cm1']:.1f} | {s['molecules_with_mode_below_guard']} | "
                  f"{s['min_frequency_cm1']:.0f} | {s['hessian_r2']:.4f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["blocks_mf", "nequip_mf"])
