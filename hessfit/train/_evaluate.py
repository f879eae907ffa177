"""Evaluation of predicted Hessians against reference Hessians.

Metrics (per molecule, and pooled over a set): Hessian-element MAE / RMSE (eV/Å²) and R² (pooled over every
element of every molecule), frequency MAE (cm⁻¹, sorted internal-mode frequencies after mass weighting and
projection of rigid-body motion), and Spearman rank correlations between INS spectra simulated from the
predicted and the reference Hessian: TOSCA, 10 K, 1 cm⁻¹ bins, compared over 20–3500 cm⁻¹, order 1 and
orders 1–2 (``hessfit.ins.simulate``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

SPEARMAN_WINDOW_CM1 = (20.0, 3500.0)


def _frequencies(structure, hessian) -> np.ndarray:
    from hessfit.modes import normal_modes

    return np.sort(np.asarray(normal_modes(structure, hessian).frequencies_cm1, float))


@functools.lru_cache(maxsize=2)
def _spectra_fn():
    """Jitted (hessian, masses, cross sections, basis) -> (2, n_bins) order-1 and order-2 TOSCA spectra.

    Compiled once per atom count (unlike ``hessfit.ins.simulate``, which compiles per structure)."""
    import jax

    from hessfit.ins import InsConfig, make_modes_spectrum_fn
    from hessfit.modes._solve import modes_from_hessian

    cfg = InsConfig(instrument="tosca", temperature_k=10.0, max_order=2, e_max_cm1=3600.0)
    core = make_modes_spectrum_fn(cfg)

    @jax.jit
    def fn(hessian, masses, sigma_xs, basis):
        return core(modes_from_hessian(hessian, masses, basis), sigma_xs, 1.0, None)

    energies = cfg.e_min_cm1 + (np.arange(cfg.n_bins) + 0.5) * cfg.bin_width_cm1
    keep = (energies >= SPEARMAN_WINDOW_CM1[0]) & (energies <= SPEARMAN_WINDOW_CM1[1])
    return fn, keep


def _spectra(structure, hessians) -> list[tuple[np.ndarray, np.ndarray]]:
    """(order 1, orders 1–2) spectra over the Spearman window for each Hessian of ``structure``."""
    import jax.numpy as jnp

    from hessfit.modes import internal_basis
    from hessfit.structures import cross_sections

    fn, keep = _spectra_fn()
    masses = jnp.asarray(structure.masses, float)
    xs = jnp.asarray(cross_sections(structure.numbers, structure.masses, "incoherent"), float)
    basis = jnp.asarray(internal_basis(structure.positions, structure.masses))
    out = []
    for h in hessians:
        sp = np.asarray(fn(jnp.asarray(h, float), masses, xs, basis))
        out.append((sp[0][keep], (sp[0] + sp[1])[keep]))
    return out


def hessian_metrics(structure, predicted: np.ndarray, reference: np.ndarray, *, spectra: bool = False) -> dict:
    """Metrics of one molecule (see module docstring). Hessians (3N, 3N) in eV/Å²."""
    from scipy.stats import spearmanr

    p = np.asarray(predicted, float)
    r = np.asarray(reference, float)
    d = p - r
    out = {
        "hessian_mae": float(np.mean(np.abs(d))),
        "hessian_rmse": float(np.sqrt(np.mean(d**2))),
        "hessian_r2": float(1.0 - np.sum(d**2) / np.sum((r - r.mean()) ** 2)),
        "sse": float(np.sum(d**2)),
        "n_elements": int(d.size),
    }
    fp, fr = _frequencies(structure, p), _frequencies(structure, r)
    out["frequency_mae_cm1"] = float(np.mean(np.abs(fp - fr)))
    out["n_modes"] = int(fp.size)
    out["n_imaginary_pred"] = int(np.sum(fp < 0))
    if spectra:
        (p1, p12), (r1, r12) = _spectra(structure, [p, r])
        out["spearman_order1"] = float(spearmanr(p1, r1).statistic)
        out["spearman_order1_2"] = float(spearmanr(p12, r12).statistic)
    return out


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Per-molecule metrics (list of dicts) and pooled summary of one Hessian source on one molecule set."""

    source: str
    per_molecule: list
    summary: dict
    parity: tuple  # (reference elements, predicted elements) subsample for the parity plot


def summarise(per_molecule: Sequence[dict]) -> dict:
    m = list(per_molecule)
    if not m:
        return {"n_molecules": 0}
    sse = sum(x["sse"] for x in m)
    n_el = sum(x["n_elements"] for x in m)
    out = {
        "n_molecules": len(m),
        "hessian_mae": float(np.sum([x["hessian_mae"] * x["n_elements"] for x in m]) / n_el),
        "hessian_rmse": float(np.sqrt(sse / n_el)),
        "hessian_r2_median_per_molecule": float(np.median([x["hessian_r2"] for x in m])),
        "frequency_mae_cm1": float(np.sum([x["frequency_mae_cm1"] * x["n_modes"] for x in m])
                                   / sum(x["n_modes"] for x in m)),
        "molecules_with_imaginary_modes": int(sum(x["n_imaginary_pred"] > 0 for x in m)),
    }
    for key in ("spearman_order1", "spearman_order1_2"):
        vals = np.array([x[key] for x in m if key in x and np.isfinite(x[key])])
        if vals.size:
            out[f"{key}_median"] = float(np.median(vals))
            out[f"{key}_mean"] = float(np.mean(vals))
            out[f"{key}_fraction_above_0.6"] = float(np.mean(vals > 0.6))
    return out


def evaluate(predict_fn: Callable, dataset, indices: Sequence[int], *, source: str = "nequip",
             spectra: bool = True, progress: bool = False) -> EvalResult:
    """Evaluate Hessians from ``predict_fn(structures) -> list of (3N, 3N)`` on molecules ``indices`` of dataset.

    The pooled R² is computed over all elements: 1 − Σ(pred − ref)² / Σ(ref − mean(ref))².
    Molecules for which ``predict_fn`` returns None (e.g. no MMFF parameters) are skipped and counted.
    """
    idx = [int(i) for i in indices]
    structures = [dataset.structure(i) for i in idx]
    t0 = time.perf_counter()
    preds = predict_fn(structures)
    t_pred = time.perf_counter() - t0
    it = zip(idx, structures, preds)
    if progress:
        from tqdm import tqdm

        it = tqdm(list(it), desc=f"evaluate {source}", unit="mol")
    per, ref_all, pred_all, skipped = [], [], [], 0
    for i, s, p in it:
        if p is None:
            skipped += 1
            continue
        r = dataset.hessian(i)
        m = hessian_metrics(s, p, r, spectra=spectra)
        m["index"] = i
        m["name"] = s.name
        per.append(m)
        ref_all.append(r.reshape(-1))
        pred_all.append(np.asarray(p).reshape(-1))
    summary = summarise(per)
    if ref_all:
        ra, pa = np.concatenate(ref_all), np.concatenate(pred_all)
        summary["hessian_r2"] = float(1.0 - np.sum((pa - ra) ** 2) / np.sum((ra - ra.mean()) ** 2))
        sub = np.random.default_rng(0).choice(ra.size, min(ra.size, 200_000), replace=False)
        parity = (ra[sub], pa[sub])
    else:
        parity = (np.zeros(0), np.zeros(0))
    summary["skipped_molecules"] = skipped
    summary["prediction_time_s"] = t_pred
    summary["spearman_definition"] = ("TOSCA, 10 K, 1 cm-1 bins, 20-3500 cm-1, predicted vs reference Hessian "
                                      "at the reference geometry") if spectra else "not computed"
    return EvalResult(source, per, summary, parity)


def plot_evaluation(results: Sequence[EvalResult], out_dir: str | Path) -> list[Path]:
    """Parity hexbin per source and Spearman histograms; returns the written PNG paths."""
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    paths = []
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4), squeeze=False)
    for ax, res in zip(axes[0], results):
        ref, pred = res.parity
        if ref.size:
            ax.hexbin(ref, pred, gridsize=80, bins="log", mincnt=1, cmap="viridis")
            lim = [min(ref.min(), pred.min()), max(ref.max(), pred.max())]
            ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xlabel("reference H (eV/Å²)")
        ax.set_ylabel(f"{res.source} H (eV/Å²)")
        ax.set_title(f"{res.source}: R² = {res.summary.get('hessian_r2', float('nan')):.5f}")
    fig.tight_layout()
    paths.append(out_dir / "parity.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, title in zip(axes, ("spearman_order1", "spearman_order1_2"), ("order 1", "orders 1–2")):
        for res in results:
            vals = [m[key] for m in res.per_molecule if key in m]
            if vals:
                ax.hist(vals, bins=np.linspace(-0.2, 1.0, 49), alpha=0.6, label=res.source)
        ax.axvline(0.6, color="k", ls="--", lw=0.8)
        ax.set_xlabel(f"Spearman ρ (TOSCA, {title})")
        ax.set_ylabel("molecules")
        ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "spearman_hist.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def write_evaluation(results: Sequence[EvalResult], out_dir: str | Path) -> Path:
    """metrics.json (summaries per source) and per_molecule_<source>.csv, plus the plots."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps({r.source: r.summary for r in results}, indent=2))
    for r in results:
        if not r.per_molecule:
            continue
        keys = [k for k in r.per_molecule[0] if k not in ("sse",)]
        lines = [",".join(keys)] + [",".join(str(m.get(k, "")) for k in keys) for m in r.per_molecule]
        (out_dir / f"per_molecule_{r.source}.csv").write_text("\n".join(lines) + "\n")
    plot_evaluation(results, out_dir)
    return out_dir / "metrics.json"
