"""Compare refinements from several seed Hessians (``hessfit refine --seeds a,b,c``): one table, one plot."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def seed_rows(results: dict) -> list[dict]:
    """One row per seed (name → RefineResult), ranked by held-out Spearman after refinement (best first).

    Columns: held-out, fitted-points and as-measured Spearman before/after, peak RMS (cm⁻¹), whether the seed's
    parameters were kept, parameters at a bound, and every scale factor (value and curvature 1σ).
    """
    from hessfit.refine._report import scale_factor_rows

    rows = []
    for name, r in results.items():
        m = r.metrics
        row = dict(seed=name, heldout_before=m["spearman_heldout_before"], heldout_after=m["spearman_heldout_after"],
                   fitted_before=m["spearman_fitted_before"], fitted_after=m["spearman_fitted_after"],
                   as_measured_before=m["spearman_before"], as_measured_after=m["spearman_after"],
                   uniform_before=m["spearman_uniform_before"], uniform_after=m["spearman_uniform_after"],
                   peak_rms_before_cm1=m["peak_rms_cm1_before"], peak_rms_after_cm1=m["peak_rms_cm1_after"],
                   kept_seed=r.kept_seed, at_bounds=";".join(f"{k}:{v}" for k, v in r.at_bounds.items()),
                   elapsed_s=r.elapsed_s)
        for sf in scale_factor_rows(r):
            row[sf["parameter"]] = sf["value"]
            row[sf["parameter"] + " 1sigma"] = sf["uncertainty_1sigma"]
        rows.append(row)
    key = lambda row: row["heldout_after"] if np.isfinite(row["heldout_after"]) else -np.inf  # noqa: E731
    rows.sort(key=key, reverse=True)
    for k, row in enumerate(rows, 1):
        row["rank"] = k
    return rows


def write_seed_table(rows: list[dict], path: Path) -> None:
    fields = ["rank"] + [k for k in dict.fromkeys(k for row in rows for k in row) if k != "rank"]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, restval="")
        w.writeheader()
        w.writerows(rows)


def plot_seeds(results: dict, rows: list[dict], path: Path) -> None:
    """Top: measured spectrum and each seed's refined model (offset). Bottom: held-out/fitted Spearman per seed."""
    import matplotlib.pyplot as plt

    order = [row["seed"] for row in rows]
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(11, 8), layout="constrained", height_ratios=[2, 1])
    top = 0.0
    for k, name in enumerate(order):
        r = results[name]
        off = 1.1 * k * float(np.max(r.measured))
        ax.plot(r.energy_cm1, r.measured + off, color="k", lw=0.8)
        ax.plot(r.energy_cm1, r.model_after + off, lw=0.9, color=f"C{k}",
                label=f"{name}: held-out {r.metrics['spearman_heldout_after']:.3f}"
                      + (" (seed kept)" if r.kept_seed else ""))
        top = off
    ax.set_xlabel("energy transfer (cm$^{-1}$)")
    ax.set_ylabel("intensity (arb., offset per seed)")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    ax.set_title(f"refined from each seed (best first, bottom); measured in black; top offset {top:.3g}", fontsize=9)
    xs = np.arange(len(order))
    for j, (col, lab) in enumerate((("heldout_before", "held-out before"), ("heldout_after", "held-out after"),
                                    ("fitted_before", "fitted before"), ("fitted_after", "fitted after"))):
        bx.bar(xs + (j - 1.5) * 0.2, [row[col] for row in rows], width=0.2, label=lab)
    bx.axhline(0, color="k", lw=0.5)
    bx.set_xticks(xs, order)
    bx.set_ylabel("Spearman")
    bx.legend(frameon=False, fontsize=8, ncols=4)
    fig.savefig(path, dpi=130)
    plt.close(fig)
