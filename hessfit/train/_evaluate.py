"""Evaluation of predicted Hessians against reference Hessians.

Metrics (per molecule, and pooled over a set): Hessian-element MAE / RMSE (eV/Å²) and R² (pooled over every
element of every molecule), frequency MAE (cm⁻¹, sorted internal-mode frequencies after mass weighting and
projection of rigid-body motion), and Spearman rank correlations between INS spectra simulated from the
predicted and the reference Hessian: TOSCA, 10 K, 1 cm⁻¹ bins, compared over 20–3500 cm⁻¹, order 1 and
orders 1–2 (``hessfit.ins.simulate``).

Low-mode soundness (the out-of-domain sets of docs/out_of_domain.md): per molecule the lowest predicted and
reference internal frequency (cm⁻¹, imaginary negative), the number of modes below ``GUARD_CM1`` (−50 cm⁻¹;
a sound model has none at a minimum of a nearby surface) and the frequency MAE over modes whose reference
frequency is below 200 cm⁻¹ (sorted frequencies paired by rank). ``evaluate_datasets`` runs a set of
Hessian sources on several datasets, e.g. the QM9 test split beside ``data/ood/*.npz``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

SPEARMAN_WINDOW_CM1 = (20.0, 3500.0)
#: modes below this frequency (cm⁻¹) count as unsound: the network guard's threshold (−50 cm⁻¹)
from hessfit.sources import GUARD_IMAGINARY_CM1 as GUARD_CM1  # noqa: E402
#: "low modes": reference frequency below this, cm⁻¹
LOW_MODE_CM1 = 200.0


def _frequencies(structure, hessian) -> np.ndarray:
    from hessfit.modes import normal_modes

    return np.sort(np.asarray(normal_modes(structure, hessian).frequencies_cm1, float))


@functools.lru_cache(maxsize=2)
def _spectra_fn():
    """Jitted (hessian, masses, cross sections, basis) -> (2, n_bins) order-1 and order-2 TOSCA spectra.

    Compiled once per atom count (unlike ``hessfit.ins.simulate``, which compiles per structure)."""
    import jax

    from hessfit.ins import InsConfig, make_modes_spectrum_fn
    from hessfit.modes import modes_from_hessian

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
    out["n_below_guard_pred"] = int(np.sum(fp < GUARD_CM1))
    out["n_below_guard_ref"] = int(np.sum(fr < GUARD_CM1))
    out["min_frequency_pred_cm1"] = float(fp[0]) if fp.size else float("nan")
    out["min_frequency_ref_cm1"] = float(fr[0]) if fr.size else float("nan")
    low = fr < LOW_MODE_CM1
    out["n_low_modes"] = int(np.sum(low))
    out["frequency_mae_low_cm1"] = float(np.mean(np.abs(fp[low] - fr[low]))) if low.any() else float("nan")
    if spectra:
        (p1, p12), (r1, r12) = _spectra(structure, [p, r])
        out["spearman_order1"] = float(spearmanr(p1, r1).statistic)
        out["spearman_order1_2"] = float(spearmanr(p12, r12).statistic)
    return out


def network_predict_fn(model, *, max_atoms_per_batch: int = 400) -> Callable:
    """``predict_fn`` for `evaluate` from a network (`Model`, `Ensemble` or `Cascade`): Hessians in eV/Å², None for
    molecules with elements the network does not know (they are skipped and counted, not an error)."""
    from hessfit.model import known_elements, predict_hessians

    known = known_elements(getattr(model, "primary", model))  # a cascade treats what its primary knows

    def predict(structures):
        ok = [i for i, s in enumerate(structures) if set(int(z) for z in s.numbers) <= known]
        hs = predict_hessians([structures[i] for i in ok], model, max_atoms_per_batch=max_atoms_per_batch) if ok else []
        out = [None] * len(structures)
        for i, h in zip(ok, hs):
            out[i] = h
        return out

    return predict


def weighted_mean(columns: Sequence[Sequence], weights: Sequence[float]) -> list:
    """Σ_k w_k·columns[k][i] per molecule i (None where any column has None)."""
    return [None if any(h is None for h in hs) else sum(w * h for w, h in zip(weights, hs)) for hs in zip(*columns)]


def blend_hessians(a: Sequence, b: Sequence, w: float) -> list:
    """(1 − w)·a + w·b per molecule (None where either is None)."""
    return weighted_mean([a, b], [1 - w, w])


def weighted_sum(spec: str, get: Callable) -> list:
    """Σ_k w_k·H_k per molecule for ``spec`` 'A*wa+B*wb+...' (two or more terms; weights finite, ≥ 0, summing to 1,
    so the sum is a convex combination: symmetry, sum rule and equivariance kept; model names cannot contain '*',
    '+' or '@'); ``get(name)`` gives a model's Hessians (None where a molecule is missing, which makes it missing
    from the sum)."""
    from hessfit.errors import ConfigError
    from hessfit.model import check_convex_weights

    try:
        terms = [(name.strip(), float(w)) for name, w in (t.rsplit("*", 1) for t in spec.split("+"))]
    except ValueError:
        terms = []
    if len(terms) < 2 or not all(name for name, _ in terms):
        raise ConfigError(f"weighted sum {spec!r}: expected MODEL*WEIGHT+MODEL*WEIGHT+... (two or more terms)")
    try:
        check_convex_weights([w for _, w in terms])
    except ValueError as exc:
        raise ConfigError(f"weighted sum {spec!r}: {exc}") from None
    return weighted_mean([get(name) for name, _ in terms], [w for _, w in terms])


def candidate_predictions(structures: Sequence, models: Sequence[str], blends: Sequence[str],
                          known: dict | None = None, cascades: Sequence[str] = ()) -> dict:
    """{name: [Hessian or None per structure]} of the networks ``models`` (shipped names or model folders), of
    the ``blends`` 'A+B@W' = (1 − W)·A + W·B or 'A*wa+B*wb+...' (`weighted_sum`), and of the ``cascades`` 'P>F'
    or 'P>F~k' (P and F: a name or a blend; per molecule F, or with ~k the least blend of P and F in steps of 1/k,
    where P has a mode below the guard's threshold, `hessfit.model.choose_sounder`); predictions already in
    ``known`` are reused, each network runs once."""
    from hessfit.errors import ConfigError
    from hessfit.model import choose_sounder, load_model

    preds = dict(known or {})

    def get(name):
        if name not in preds:
            if "@" in name and "+" in name:  # a blend
                pair, w = name.rsplit("@", 1)
                a, b = pair.split("+")
                preds[name] = blend_hessians(get(a), get(b), float(w))
                return preds[name]
            if "*" in name:  # a weighted sum 'A*wa+B*wb+...'
                preds[name] = weighted_sum(name, get)
                return preds[name]
            t0 = time.perf_counter()
            preds[name] = network_predict_fn(load_model(name))(structures)
            print(f"  {name}: {len(structures)} molecules predicted in {time.perf_counter() - t0:.0f} s", flush=True)
        return preds[name]

    out = {name: get(name) for name in list(models) + list(blends)}
    index = {id(s): i for i, s in enumerate(structures)}
    for spec in cascades:
        bad_steps = "~" in spec and not spec.rpartition("~")[2].isdigit()
        if spec.count(">") != 1 or not all(spec.split(">")) or bad_steps:
            raise ConfigError(f"cascade {spec!r}: expected PRIMARY>FALLBACK or PRIMARY>FALLBACK~STEPS")
        primary, fallback = spec.split(">")
        fallback, _, steps = fallback.partition("~")
        hs, weights = choose_sounder(structures, get(primary), lambda ss: [get(fallback)[index[id(s)]] for s in ss],
                                     GUARD_CM1, int(steps or 0))
        used = [w for w in weights if w > 0]
        print(f"  {spec}: fallback in {len(used)} of {len(structures)} molecules"
              + (f" (weights {', '.join(f'{w:g}' for w in used)})" if used else ""), flush=True)
        out[spec] = hs
    return out


def source_predict_fn(name: str, **options) -> Callable:
    """``predict_fn`` for `evaluate` from a registered Hessian source (xtb, mmff, ...) at the dataset's geometries;
    a molecule the source cannot treat (HessfitError, e.g. no MMFF parameters) gives None (skipped, counted)."""
    from hessfit.errors import HessfitError
    from hessfit.sources import get_source

    src = get_source(name, **options)

    def predict(structures):
        out = []
        for s in structures:
            try:
                out.append(src.hessian(s).hessian)
            except HessfitError:
                out.append(None)
        return out

    return predict


#: the out-of-domain sets of docs/out_of_domain.md, in a checkout's data/ood/ (held out of training)
OOD_SET_NAMES = ("dft_b3lyp.npz", "panel_xtb.npz")  # panel2_xtb.npz confirms choices: --ood-data only


def ood_dataset_paths(paths: Sequence[str | Path] | None = None, default_sets: bool = False) -> list[Path]:
    """Dataset files to evaluate beside the main set: ``paths``, plus with ``default_sets`` the built ones of
    ``OOD_SET_NAMES`` in ``data/ood/`` (of the working directory, else of the checkout holding hessfit).

    Raises:
        ConfigError: a given path does not exist, or ``default_sets`` finds none.
    """
    from hessfit.errors import ConfigError

    out = []
    for p in paths or []:
        p = Path(p)
        if not p.is_file():
            raise ConfigError(f"{p}: out-of-domain dataset not found")
        out.append(p)
    if default_sets:
        import hessfit

        dirs = [Path.cwd() / "data" / "ood", Path(hessfit.__file__).resolve().parents[1] / "data" / "ood"]
        found = next(([d / n for n in OOD_SET_NAMES if (d / n).is_file()] for d in dirs
                      if any((d / n).is_file() for n in OOD_SET_NAMES)), [])
        if not found:
            raise ConfigError(f"--ood: no out-of-domain set ({', '.join(OOD_SET_NAMES)}) in {dirs[0]} or {dirs[1]}; "
                              "build them with scripts/build_ood_sets.py or pass --ood-data FILE")
        out += [p for p in found if p not in out]
    return out


def summary_line(result: "EvalResult", what: str) -> str:
    """One line of the pooled metrics of ``result`` (frequencies cm⁻¹, Hessian MAE eV/Å²)."""
    s = result.summary
    nan = float("nan")
    line = (f"{result.source:>13}: {s['n_molecules']} molecules ({what})"
            + (f", {s['skipped_molecules']} skipped" if s.get("skipped_molecules") else "")
            + f"; Hessian R² {s.get('hessian_r2', nan):.5f}, MAE {s.get('hessian_mae', nan):.4f} eV/Å², "
            f"frequency MAE {s.get('frequency_mae_cm1', nan):.1f} cm⁻¹")
    if "molecules_with_mode_below_guard" in s:
        low = s["frequency_mae_low_cm1"]
        line += (f" (< {s['low_mode_cm1']:.0f} cm⁻¹: {'no such modes' if np.isnan(low) else f'{low:.1f}'}), "
                 f"{s['molecules_with_mode_below_guard']} with a mode < {s['guard_cm1']:.0f} cm⁻¹ "
                 f"(lowest {s['min_frequency_cm1']:.0f})")
    if "spearman_order1_median" in s:
        line += (f", Spearman(order 1) median {s['spearman_order1_median']:.3f}, > 0.6: "
                 f"{100 * s['spearman_order1_fraction_above_0.6']:.1f} %")
    return line


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
    if all("n_below_guard_pred" in x for x in m):
        n_low = sum(x["n_low_modes"] for x in m)
        out.update({
            "molecules_with_mode_below_guard": int(sum(x["n_below_guard_pred"] > 0 for x in m)),
            "reference_molecules_with_mode_below_guard": int(sum(x["n_below_guard_ref"] > 0 for x in m)),
            "min_frequency_cm1": float(min(x["min_frequency_pred_cm1"] for x in m)),
            "frequency_mae_low_cm1": float(np.nansum([x["frequency_mae_low_cm1"] * x["n_low_modes"] for x in m])
                                           / n_low) if n_low else float("nan"),
            "guard_cm1": GUARD_CM1, "low_mode_cm1": LOW_MODE_CM1,
        })
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
    keys = getattr(dataset, "extra", {}).get("key")
    structures = [dataset.structure(i) for i in idx]
    if keys is not None:  # warnings and per-molecule rows name the molecule, not its index
        structures = [dataclasses.replace(s, name=str(keys[i])) for s, i in zip(structures, idx)]
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
        safe = re.sub(r"[^\w.=@+-]", "_", r.source)  # a model folder's path as a file name
        (out_dir / f"per_molecule_{safe}.csv").write_text("\n".join(lines) + "\n")
    plot_evaluation(results, out_dir)
    return out_dir / "metrics.json"
