"""Choosing an ensemble's weight: H = (1 − w) H_A + w H_B evaluated on validation molecules for a grid of w.

Each member predicts the validation Hessians once; every weight is then evaluated on them
(`hessfit.train.evaluate`: pooled R², MAE, frequency MAE, imaginary modes, INS Spearman). The release script
``scripts/build_ensemble.py`` writes the chosen ensemble.
"""

from __future__ import annotations

from typing import Sequence


SCAN_KEYS = ("hessian_r2", "hessian_mae", "frequency_mae_cm1", "frequency_mae_low_cm1", "molecules_with_imaginary_modes",
             "molecules_with_mode_below_guard", "spearman_order1_median", "spearman_order1_2_median",
             "spearman_order1_2_fraction_above_0.6")


def weight_scan(dataset, indices: Sequence[int], member_a, member_b, grid: Sequence[float], *,
                spectra: bool = True, progress: bool = False) -> list[dict]:
    """Validation summary (`hessfit.train.evaluate`) of (1 − w)·H_A + w·H_B for every w in ``grid``; each member
    predicts once."""
    from hessfit.model import predict_hessians
    from hessfit.train._evaluate import evaluate

    structures = [dataset.structure(int(i)) for i in indices]
    ha = predict_hessians(structures, member_a, progress=progress)
    hb = predict_hessians(structures, member_b, progress=progress)
    rows = []
    for w in grid:
        res = evaluate(lambda _s, w=w: [(1.0 - w) * a + w * b for a, b in zip(ha, hb)], dataset, indices,
                       source=f"w={w:g}", spectra=spectra)
        rows.append({"weight_b": float(w), "n_molecules": int(res.summary["n_molecules"]),
                     **{k: res.summary[k] for k in SCAN_KEYS if k in res.summary}})
    return rows


def choose_weight(rows: Sequence[dict], criterion: str, tie_break: str | None = None, *,
                  max_below_guard_fraction: float | None = None) -> float:
    """The weight with the best ``criterion`` (lowest, or highest for R², Spearman and fractions); among weights
    equally good by it, the best by ``tie_break``.

    ``max_below_guard_fraction``: consider only weights whose fraction of molecules with a mode below the guard
    (−50 cm⁻¹) is at most this; when none qualifies, the weights with the fewest such molecules.
    """
    def score(row, key):
        return -row[key] if key.startswith(("hessian_r2", "spearman")) else row[key]

    if max_below_guard_fraction is not None:
        counts = [r["molecules_with_mode_below_guard"] for r in rows]
        allowed = [r for r in rows if r["molecules_with_mode_below_guard"] <= max_below_guard_fraction * r["n_molecules"]]
        rows = allowed or [r for r, c in zip(rows, counts) if c == min(counts)]
    best = min(rows, key=lambda r: (score(r, criterion), score(r, tie_break) if tie_break else 0.0))
    return best["weight_b"]


def format_scan(rows: Sequence[dict]) -> str:
    keys = [k for k in SCAN_KEYS if k in rows[0]]
    short = {"hessian_r2": "R²", "hessian_mae": "MAE eV/Å²", "frequency_mae_cm1": "freq MAE cm⁻¹",
             "molecules_with_imaginary_modes": "imaginary", "spearman_order1_median": "Sp o1",
             "spearman_order1_2_median": "Sp o1-2", "spearman_order1_2_fraction_above_0.6": "o1-2 > 0.6",
             "frequency_mae_low_cm1": "freq MAE < 200 cm⁻¹", "molecules_with_mode_below_guard": "mode < −50 cm⁻¹"}
    lines = ["| w (member B) | " + " | ".join(short[k] for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for r in rows:
        lines.append(f"| {r['weight_b']:.2f} | " + " | ".join(
            f"{r[k]:.5f}" if k == "hessian_r2" else f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k])
            for k in keys) + " |")
    return "\n".join(lines)
