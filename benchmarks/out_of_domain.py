"""The shipped networks out of domain (issue 17, docs/out_of_domain.md): the table and the guard's calibration.

    OMP_NUM_THREADS=1 python benchmarks/out_of_domain.py                    # QM9 val/test + data/ood/*.npz
    python benchmarks/out_of_domain.py --sets qm9_test panel --baselines mmff

For each set, every member of the default ensemble (``--default``; the shipped default's primary
``ensemble_pairclass``: ``nequip_qm9``, ``blocks_qm9``) predicts every molecule once;
the ensemble Hessian is their weighted mean, per atom-pair class for ``ensemble_pairclass`` (``--also-weights``,
for a two-member ``--default`` such as ``ensemble_mf``, adds other blends of the same predictions). Per model: frequency MAE against the reference (all modes and
modes below 200 cm⁻¹), molecules with a mode below −50 cm⁻¹, the most negative mode, pooled Hessian R²
(`hessfit.train._evaluate`). Physics baselines (``--baselines xtb mmff``) are evaluated at the reference
geometries, except against references of their own level (xtb on the xTB panel).

Guard: per molecule, the ensemble's modes below −50 cm⁻¹ and the members' disagreement (RMS difference of
sorted frequencies, `hessfit.sources.network_guard`). The limit (`hessfit.sources.disagreement_limit`: the ensemble's
calibrated ``guard_disagreement_cm1``, else ``GUARD_DISAGREEMENT_CM1``) is the 99th percentile of the
disagreement on the QM9 *validation* split (in domain, not the test split and not the OOD sets); the table
reports how often the guard fails on the QM9 test split (false alarms) and on the OOD sets, and each model's mean
error over the molecules the guard passes and over those it fails (does switching to xTB help where it acts?).

Sets: ``qm9_val`` and ``qm9_test`` (split of checkpoints/nequip_qm9/split.json of the shared QM9 B3LYP data),
``dft`` = data/ood/dft_b3lyp.npz, ``panel`` = data/ood/panel_xtb.npz, ``panel2`` … ``panel5`` =
data/ood/panel{2,3,4,5}_xtb.npz (the later panels, for confirmation only; not in the default ``--sets``).
Writes ``--out`` (default scratch/ood/eval): metrics.json and a markdown table, printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QM9 = Path(os.environ.get("HESSFIT_QM9", ROOT.parent / "shared" / "data" / "hessians" / "qm9_b3lyp_hessians.npz"))
SPLIT = ROOT / "checkpoints" / "nequip_qm9" / "split.json"
OOD = {"dft": ROOT / "data" / "ood" / "dft_b3lyp.npz", "panel": ROOT / "data" / "ood" / "panel_xtb.npz",
       **{f"panel{k}": ROOT / "data" / "ood" / f"panel{k}_xtb.npz" for k in (2, 3, 4, 5)}}


def load_set(name: str, max_molecules: int | None):
    from hessfit.structures import load_dataset

    if name.startswith("qm9_"):
        ds = load_dataset(QM9)
        idx = json.loads(SPLIT.read_text())[name[4:]]
    else:
        ds = load_dataset(OOD[name])
        idx = list(range(len(ds)))
    return ds, [int(i) for i in idx[:max_molecules]]


def member_predictions(structures, ensemble):
    """{member name: [Hessian or None per molecule]} and the ensemble's Hessians (`Ensemble.combine`; None where any
    member gave none)."""
    from hessfit.train._evaluate import network_predict_fn

    preds = {}
    for k, (ref, m) in enumerate(zip(ensemble.references, ensemble.members)):
        name = ref if ref not in preds else f"{ref} (member {k + 1})"  # a repeated member keeps its own weight
        t0 = time.perf_counter()
        preds[name] = network_predict_fn(m)(structures)
        print(f"  {name}: {sum(p is not None for p in preds[name])} molecules predicted in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    columns = zip(*preds.values())  # Ensemble.combine: the weighted mean, or per atom-pair class
    return preds, [None if any(h is None for h in hs) else ensemble.combine(s, hs)
                   for s, hs in zip(structures, columns)]


def guard_stats(ds, idx, preds, ens, limit: float) -> dict:
    """The guard on the default ensemble's Hessians ``ens`` and its members' ``preds``; ``limit``: its member-
    disagreement limit, cm⁻¹ (`hessfit.sources.disagreement_limit`)."""
    import numpy as np

    from hessfit.sources import network_guard

    spread, below, fail, rows = [], [], [], []
    keys = ds.extra.get("key")
    for k, i in enumerate(idx):
        if ens[k] is None:
            continue
        s = ds.structure(i)
        rep = network_guard(s, ens[k], [p[k] for p in preds.values()], max_disagreement_cm1=limit)
        spread.append(rep.disagreement_cm1)
        below.append(bool(rep.modes_below))
        fail.append(not rep.passed)
        rows.append({"name": str(keys[i]) if keys is not None else s.name, "n_atoms": s.n_atoms,
                     "lowest_cm1": round(rep.lowest_cm1, 1), "n_below": len(rep.modes_below),
                     "disagreement_cm1": rep.disagreement_cm1, "passed": rep.passed})
    spread = np.asarray(spread)
    if not spread.size:
        return {"n_molecules": 0}
    return {"n_molecules": int(spread.size), "per_molecule": rows, "disagreement_cm1_median": float(np.median(spread)),
            "disagreement_cm1_p95": float(np.percentile(spread, 95)),
            "disagreement_cm1_p99": float(np.percentile(spread, 99)), "disagreement_cm1_max": float(spread.max()),
            "fraction_mode_below_guard": float(np.mean(below)),
            "fraction_disagreement_above_limit": float(np.mean(spread > limit)),
            "fraction_guard_fails": float(np.mean(fail)), "limit_cm1": limit}


def errors_by_guard(guard: dict, evals, returned: str) -> list[dict]:
    """Per model: mean frequency MAE (all modes, and modes below 200 cm⁻¹) over the molecules where the guard of
    the Hessian the command line returns passes and where it fails, to ask whether `--source auto`'s switch to xTB
    helps where it acts. That guard fails on the default's member disagreement above its limit or on a mode of the
    ``returned`` model (the shipped cascade: its modes, not its primary's) below −50 cm⁻¹ (`network_guard`'s
    two tests, on the unrounded disagreement of ``guard_stats``)."""
    import numpy as np

    from hessfit.sources import GUARD_IMAGINARY_CM1

    lowest = {str(m["name"]): m["min_frequency_pred_cm1"] for r in evals if r.source == returned
              for m in r.per_molecule}
    passed = {row["name"]: row["disagreement_cm1"] <= guard["limit_cm1"] and lowest[row["name"]] >= GUARD_IMAGINARY_CM1
              for row in guard.get("per_molecule", []) if row["name"] in lowest}
    out = []
    for r in evals:
        row = {"model": r.source}
        for label, want in (("passed", True), ("failed", False)):
            ms = [m for m in r.per_molecule if passed.get(str(m.get("name"))) is want]
            row[f"n_{label}"] = len(ms)
            for key in ("frequency_mae_cm1", "frequency_mae_low_cm1"):
                vals = [m[key] for m in ms if np.isfinite(m.get(key, np.nan))]
                row[f"{key}_{label}"] = float(np.mean(vals)) if vals else float("nan")
        out.append(row)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="+", default=["qm9_val", "qm9_test", "dft", "panel"])
    p.add_argument("--baselines", nargs="*", default=["xtb", "mmff"])
    p.add_argument("--max-molecules", type=int, default=None)
    p.add_argument("--also-weights", type=float, nargs="*", default=[],
                   help="also evaluate (1 - w) A + w B for the default's members A, B and these w, from the same "
                        "member predictions")
    p.add_argument("--models", nargs="*", default=[],
                   help="also evaluate these models (shipped names or model folders, e.g. a fine-tuned run's best/)")
    p.add_argument("--blend", nargs="*", default=[], metavar="A+B@W",
                   help="also evaluate (1 - W) A + W B for models A, B from --models or the members, e.g. "
                        "nequip_qm9+runs/x/best@0.6, or a weighted sum of several, A*0.2+B*0.3+C*0.5")
    p.add_argument("--cascade", nargs="*", default=[], metavar="P>F",
                   help="guard cascades: F (a model or blend) where P has a mode below -50 cm^-1 and F's lowest is "
                        "higher; P>F~k: the least blend of P and F in steps of 1/k that passes")
    p.add_argument("--no-default", action="store_true",
                   help="skip the default ensemble and its members (candidates only)")
    p.add_argument("--default", default=None, help="the ensemble evaluated with its members (default: the shipped "
                   "default's primary, ensemble_pairclass; ensemble_stacked, ensemble_pooled, ensemble_mf and ensemble_qm9 are earlier ones)")
    p.add_argument("--out", type=Path, default=ROOT / "scratch" / "ood" / "eval")
    args = p.parse_args()

    import warnings

    from hessfit.model import load_model
    from hessfit.sources import disagreement_limit
    from hessfit.structures import HessfitWarning
    from hessfit.train._evaluate import (blend_hessians, candidate_predictions, evaluate, source_predict_fn,
                                         write_evaluation)

    warnings.simplefilter("ignore", HessfitWarning)  # domain warnings: this benchmark measures exactly that
    from hessfit.model import ENSEMBLE_WEIGHTS

    default_name = args.default or ENSEMBLE_WEIGHTS.name
    ensemble = load_model(default_name)
    if not hasattr(ensemble, "members"):
        p.error(f"--default {default_name}: an ensemble is needed (its members are evaluated too); "
                "give other models with --models, cascades with --cascade")
    if args.also_weights and len(ensemble.members) != 2:
        p.error(f"--also-weights blends two members; --default {default_name} has {len(ensemble.members)} "
                "(give --default ensemble_mf, or weighted sums with --blend)")
    results, rows = {}, []
    for set_name in args.sets:
        if not set_name.startswith("qm9_") and not OOD[set_name].exists():
            print(f"{set_name}: {OOD[set_name]} not built yet, skipped")
            continue
        ds, idx = load_set(set_name, args.max_molecules)
        print(f"{set_name}: {len(idx)} molecules", flush=True)
        structures = [ds.structure(i) for i in idx]
        preds, ens = ({}, None) if args.no_default else member_predictions(structures, ensemble)
        guard = {} if args.no_default else guard_stats(ds, idx, preds, ens, disagreement_limit(ensemble))
        results[set_name] = {"guard": guard, "models": {}}
        levels = {str(v) for v in ds.extra.get("level_of_theory", [])} or {"B3LYP/6-311++G(d,p)"}
        candidates = [] if args.no_default else [(default_name, ens)] + list(preds.items())
        for w in [] if args.no_default else args.also_weights:  # other blends of the same two members
            candidates.append((f"blend w={w:g}", blend_hessians(*preds.values(), w)))
        extra = candidate_predictions(structures, args.models, args.blend, preds, args.cascade)
        candidates += list(extra.items())
        evals = []
        for name, hs in candidates:
            r = evaluate(lambda ss, hs=hs: hs, ds, idx, source=name, spectra=False)
            results[set_name]["models"][name] = r.summary
            evals.append(r)
        for b in [] if set_name == "qm9_val" else args.baselines:
            if b == "xtb" and levels == {"GFN2-xTB"}:
                continue
            t0 = time.perf_counter()
            r = evaluate(source_predict_fn(b), ds, idx, source=b, spectra=False)
            r.summary["wall_time_s"] = time.perf_counter() - t0
            results[set_name]["models"][b] = r.summary
            evals.append(r)
        write_evaluation(evals, args.out / set_name)  # per-molecule CSVs and parity plots
        if guard.get("per_molecule"):
            returned = args.models[0] if args.models else default_name
            results[set_name]["errors_by_guard"] = by_guard = errors_by_guard(guard, evals, returned)
            print(f"  mean frequency MAE (below 200 cm⁻¹) where the guard of {returned} passes | fails:")
            for b in by_guard:
                print(f"    {b['model']}: {b['frequency_mae_cm1_passed']:.1f} ({b['frequency_mae_low_cm1_passed']:.1f}), "
                      f"{b['n_passed']} molecules | {b['frequency_mae_cm1_failed']:.1f} "
                      f"({b['frequency_mae_low_cm1_failed']:.1f}), {b['n_failed']}", flush=True)
        for name, s in results[set_name]["models"].items():
            rows.append(f"| {set_name} | {name} | {s['n_molecules']} (+{s['skipped_molecules']} skipped) | "
                        f"{s.get('frequency_mae_cm1', float('nan')):.1f} | {s.get('frequency_mae_low_cm1', float('nan')):.1f} | "
                        f"{s.get('molecules_with_mode_below_guard', 0)} | {s.get('min_frequency_cm1', float('nan')):.0f} | "
                        f"{s.get('hessian_r2', float('nan')):.4f} |")
        print("\n".join(rows[-len(results[set_name]["models"]):]), flush=True)
        print(f"  guard: { {k: v for k, v in results[set_name]['guard'].items() if k != 'per_molecule'} }", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(results, indent=2))
    head = ("| set | model | molecules | frequency MAE (cm⁻¹) | MAE, modes < 200 cm⁻¹ | molecules with a mode < −50 cm⁻¹ "
            "| most negative mode (cm⁻¹) | Hessian R² |\n|---|---|---|---|---|---|---|---|")
    guard = ["| set | molecules | member disagreement median / p95 / p99 / max (cm⁻¹) | mode < −50 | disagreement > limit "
             "| guard fails |", "|---|---|---|---|---|---|"]
    for set_name, r in results.items():
        g = r["guard"]
        if g.get("n_molecules"):
            guard.append(f"| {set_name} | {g['n_molecules']} | {g['disagreement_cm1_median']:.0f} / "
                         f"{g['disagreement_cm1_p95']:.0f} / {g['disagreement_cm1_p99']:.0f} / "
                         f"{g['disagreement_cm1_max']:.0f} | {100 * g['fraction_mode_below_guard']:.0f} % | "
                         f"{100 * g['fraction_disagreement_above_limit']:.0f} % | {100 * g['fraction_guard_fails']:.0f} % |")
    text = head + "\n" + "\n".join(rows) + "\n\n" + "\n".join(guard) + "\n"
    (args.out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
