"""The INS panel's results split into molecules with and without a chemical family in the family xTB data.

    python benchmarks/panel_family_split.py scratch/ood/RUN_panel [more folders...]

Reads the per-molecule tables that `benchmarks/out_of_domain.py --sets panel` writes (``FOLDER/panel/
per_molecule_*.csv``) and prints, per model and half, the molecules with a mode below −50 cm⁻¹ and the pooled
distance to xTB of modes below 200 cm⁻¹ (cm⁻¹, the same pooling as `hessfit evaluate`). The halves are
`PANEL_COVERED` of `scripts/build_family_set.py`, fixed before that data was built (docs/curvature_hinge.md).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from build_family_set import covered_panel_names  # noqa: E402

GUARD_CM1 = -50.0


def half_summary(rows: list[dict]) -> tuple[int, float, list[str]]:
    """(molecules with a mode below GUARD_CM1, pooled MAE of modes below 200 cm⁻¹, names of the failures)."""
    fails = [r["name"] for r in rows if float(r["min_frequency_pred_cm1"]) < GUARD_CM1]
    n_low = sum(int(r["n_low_modes"]) for r in rows)
    pooled = sum(float(r["frequency_mae_low_cm1"]) * int(r["n_low_modes"]) for r in rows if int(r["n_low_modes"]))
    return len(fails), pooled / n_low if n_low else float("nan"), fails


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", type=Path)
    args = p.parse_args(argv)
    covered = covered_panel_names()
    print("| model | with family: < −50 | < 200 cm⁻¹ | without: < −50 | < 200 cm⁻¹ | failures without a family |")
    print("|---|---|---|---|---|---|")
    for folder in args.folders:
        tables = sorted((folder / "panel").glob("per_molecule_*.csv"))
        if not tables:
            raise SystemExit(f"error: {folder}: no panel/per_molecule_*.csv (run benchmarks/out_of_domain.py)")
        for table in tables:
            rows = list(csv.DictReader(table.open()))
            names = {r["name"] for r in rows}
            if not covered <= names:
                raise SystemExit(f"error: {table}: panel molecules missing: {sorted(covered - names)}")
            with_f = half_summary([r for r in rows if r["name"] in covered])
            without = half_summary([r for r in rows if r["name"] not in covered])
            model = table.stem.removeprefix("per_molecule_")
            print(f"| {model} | {with_f[0]}/{len(covered)} | {with_f[1]:.1f} | {without[0]}/{len(rows) - len(covered)}"
                  f" | {without[1]:.1f} | {', '.join(without[2]) or '–'} |")


if __name__ == "__main__":
    sys.exit(main())
