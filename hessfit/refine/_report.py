"""Write a refinement's outputs: Hessian, force-constant tables, plots, history, recipe, summary, NetCDF."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import xarray as xr

from hessfit.errors import ConfigError
from hessfit.refine._refine import RefineResult
from hessfit.refine._tables import internal_rows, pair_blocks_dataset, pair_rows

OUTPUT_FILES = ("hessian_refined.npy", "summary.json", "spectra.nc", "force_constants.nc", "force_constants_pairs.csv",
                "force_constants_bonds.csv", "force_constants_angles.csv", "modes.csv", "scale_factors.csv",
                "loss_history.csv", "loss_history.png", "overlay.png", "assignment_before.csv",
                "assignment_after.csv", "recipe.toml")


def check_outdir(outdir: Path, overwrite: bool) -> Path:
    """Refuse to write into a directory that already holds refinement outputs unless ``overwrite``."""
    outdir = Path(outdir)
    clash = [f for f in OUTPUT_FILES if (outdir / f).exists()]
    if clash and not overwrite:
        raise ConfigError(f"{outdir}: already contains refinement outputs ({clash[0]}, ...); "
                          "pass --overwrite or choose another -o")
    outdir.mkdir(parents=True, exist_ok=True)
    return outdir


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        if not rows:
            fh.write("")
            return
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def heldout_peak_text(metrics: dict, which: str) -> str:
    """The held-out peaks' RMS frequency error (cm⁻¹) ``before`` / ``after`` refinement as text, with how many of
    them were matched; 'none matched' where the RMS is NaN (no held-out peak matched)."""
    n = metrics[f"n_heldout_matched_{which}"]
    return "none matched" if n == 0 else f"{metrics[f'peak_rms_heldout_cm1_{which}']:.1f} ({n} matched)"


def chosen_stage_text(metrics: dict) -> str:
    """Which refinement stage was kept, as text: its number and prior strength, or that the seed was kept."""
    if metrics["selected_stage"] < 0:
        return "seed kept (no stage raised the held-out score)"
    return f"stage {metrics['selected_stage']} chosen (prior strength {metrics['selected_prior_strength']:g})"


def scale_factor_rows(result: RefineResult) -> list[dict]:
    """One row per fitted parameter: value, curvature and bootstrap 1σ, prior width, bound flag."""
    names = result.parameter_names
    values = list(result.params) if result.parametrization.names else []
    if result.config.fit_resolution:
        values.append(result.resolution_scale)
    if result.config.fit_wings:
        values.append(result.wing_a_iso)
    sig, boot = result.uncertainties, result.bootstrap_sigma
    cfg = result.config
    rows = []
    for k, (n, v) in enumerate(zip(names, values)):
        width = (cfg.resolution_prior_width if n == "resolution scale" else np.nan if n.startswith("wing")
                 else cfg.prior_width(n))
        rows.append(dict(parameter=n, value=float(v), uncertainty_1sigma=float(sig[k]) if sig is not None else np.nan,
                         bootstrap_1sigma=float(boot[k]) if boot is not None else np.nan,
                         prior_width_log=float(width), at_bound=result.at_bounds.get(n, "")))
    return rows


def mode_characters(result: RefineResult, which: str = "after") -> list[str]:
    """Per mode: 'internal', or for a crystal 'translational'/'librational' when over half of the mode is rigid
    motion of whole molecules (`hessfit.modes.lattice_character`); a molecule's modes are all 'internal'."""
    freqs = result.frequencies_before if which == "before" else result.frequencies_after
    if not getattr(result.structure, "is_crystal", False):
        return ["internal"] * len(freqs)
    from hessfit.modes import lattice_character, normal_modes

    h = result.hessian_seed if which == "before" else result.hessian_refined
    return [str(c) for c in lattice_character(result.structure, normal_modes(result.structure, h))["label"]]


def mode_rows(result: RefineResult) -> list[dict]:
    peak_of = {int(m): (lab, float(e)) for m, lab, e in zip(result.match_after.mode_index, result.match_after.peak_labels,
                                                             result.match_after.peak_energy_cm1)}
    character = mode_characters(result)
    rows = []
    for k, (f0, f1) in enumerate(zip(result.frequencies_before, result.frequencies_after)):
        lab, e = peak_of.get(k, ("", np.nan))
        rows.append(dict(mode=k + 1, before_cm1=float(f0), after_cm1=float(f1), change_cm1=float(f1 - f0),
                         character=character[k], assigned_peak=lab, peak_cm1=e))
    return rows


def match_rows(result: RefineResult, which: str) -> list[dict]:
    """The assignment table: measured peak, its mode, the shift, and the mode's character (lattice modes of a
    crystal: 'translational' or 'librational')."""
    match = result.match_before if which == "before" else result.match_after
    freqs = result.frequencies_before if which == "before" else result.frequencies_after
    character = mode_characters(result, which) if match.mode_index.size else []
    return [dict(peak=lab, peak_cm1=float(e), mode=int(m) + 1, mode_cm1=float(freqs[m]),
                 shift_cm1=float(freqs[m] - e), shift_sigma=float((freqs[m] - e) / s), character=character[m])
            for lab, e, s, m in zip(match.peak_labels, match.peak_energy_cm1, match.peak_sigma_cm1, match.mode_index)]


def model_label(result: RefineResult) -> str:
    """What the fitted model curve is: the scaled simulation, plus the background when one is fitted."""
    return "scaled + background" if result.config.background_degree >= 0 else "scaled"


def spectra_dataset(result: RefineResult) -> xr.Dataset:
    dims = ("energy",)
    return xr.Dataset(
        {"measured": (dims, result.measured), "simulated_before": (dims, result.simulated_before),
         "simulated_after": (dims, result.simulated_after), "model_before": (dims, result.model_before,
                                                                              {"long_name": model_label(result)}),
         "model_after": (dims, result.model_after, {"long_name": model_label(result)}),
         "frequency_before": (("mode",), result.frequencies_before, {"units": "cm-1"}),
         "frequency_after": (("mode",), result.frequencies_after, {"units": "cm-1"}),
         **({"heldout": (dims, result.heldout.astype(np.int8), {"long_name": "1: held out for validation"})}
            if result.heldout is not None else {})},
        coords={"energy": ("energy", result.energy_cm1, {"units": "cm-1"}),
                "mode": np.arange(1, len(result.frequencies_before) + 1)},
        attrs={k: (float(v) if isinstance(v, (bool, int, float, np.floating)) else str(v))
               for k, v in {**result.metrics, "molecule": result.structure.name,
                            "parametrization": result.config.parametrization,
                            "instrument": result.config.instrument}.items()})


def plot_overlay(result: RefineResult, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(11, 7), sharex=True, layout="constrained")
    m = result.metrics
    held = result.heldout if result.heldout is not None else np.zeros(result.energy_cm1.size, bool)
    for ax, which, model, rho, match, freqs in (
            (axes[0], "before", result.model_before, m["spearman_fitted_before"], result.match_before,
             result.frequencies_before),
            (axes[1], "after", result.model_after, m["spearman_fitted_after"], result.match_after,
             result.frequencies_after)):
        _shade_heldout(ax, result.energy_cm1, held)
        ax.plot(result.energy_cm1, result.measured, color="k", lw=1.0, label="measured" + (" (baseline removed)" if result.config.subtract_baseline else ""))
        ax.plot(result.energy_cm1, model, color="tab:red" if which == "after" else "tab:blue", lw=1.0,
                label=f"calculated {which} ({model_label(result)})")
        top = float(np.max(result.measured))
        for lab, e, mode in zip(match.peak_labels, match.peak_energy_cm1, match.mode_index):
            ax.annotate(lab, (e, top * 1.02), fontsize=6, ha="center")
            ax.plot([e, freqs[mode]], [top * 0.98, top * 0.9], color="0.5", lw=0.5)
        note = ""
        if which == "after" and result.kept_seed:
            note = " — held-out score fell: seed kept"
        ax.set_title(f"{result.structure.name} {which}: Spearman fitted {rho:.3f}, held-out "
                     f"{m['spearman_heldout_' + which]:.3f} (shaded), as measured {m['spearman_' + which]:.3f}; "
                     f"peak RMS {m['peak_rms_cm1_' + which]:.1f} cm$^{{-1}}$ (held-out "
                     f"{heldout_peak_text(m, which)}){note}", fontsize=9)
        ax.set_ylabel("intensity (arb.)")
        ax.legend(frameon=False, fontsize=8, loc="upper right")
    axes[1].set_xlabel("energy transfer (cm$^{-1}$)")
    fig.savefig(path, dpi=140)
    plt.close(fig)


def _shade_heldout(ax, energy, held) -> None:
    """Grey bands over the runs of held-out points."""
    e = np.asarray(energy)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], held.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        lo = 0.5 * (e[a] + e[a - 1]) if a > 0 else e[a]
        hi = 0.5 * (e[b - 1] + e[b]) if b < e.size else e[b - 1]
        ax.axvspan(lo, hi, color="0.9", lw=0, zorder=0)


def plot_history(result: RefineResult, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    steps = [h["step"] for h in result.history]
    ax.plot(steps, [h["loss"] for h in result.history], label="loss")
    ax.set_xlabel("solver step")
    ax.set_ylabel("loss")
    ax2 = ax.twinx()
    ax2.plot(steps, [h["spearman"] for h in result.history], color="tab:green", label="Spearman fitted")
    ax2.plot(steps, [h.get("spearman_heldout", np.nan) for h in result.history], color="tab:purple",
             label="Spearman held-out")
    ax2.set_ylabel("Spearman (fitted green, held-out purple)")
    fig.savefig(path, dpi=140)
    plt.close(fig)


def nuisance_summary(result: RefineResult) -> dict:
    """Intensity scale (> 0) and Bernstein background coefficients (≥ 0) before/after, with the model's shape."""
    def split(c):
        return (None, []) if c is None else (float(c[0]), [float(v) for v in c[1:]])

    (s0, b0), (s1, b1) = split(result.nuisance_before), split(result.nuisance_after)
    return {"intensity_scale_before": s0, "intensity_scale_after": s1, "background_before": b0,
            "background_after": b1,
            "background_model": f"non-negative Bernstein polynomial of degree {result.config.background_degree} in "
                                "t = (E - E_min)/(E_max - E_min) over the window, coefficients >= 0 (background >= 0)"}


def _intramolecular_view(result: RefineResult):
    """(geometry, H before, H after) for the force-constant tables: a crystal's molecules made whole (bond lengths
    and angles across the cell boundary) and the intramolecular parts of its Hessians
    (`hessfit.structures.split_intermolecular`); a molecule as it is."""
    s = result.structure
    if not getattr(s, "is_crystal", False):
        return s, result.hessian_seed, result.hessian_refined
    from hessfit.structures import find_molecules, make_whole, split_intermolecular

    assignment = find_molecules(s)
    return (make_whole(s, assignment=assignment),
            split_intermolecular(s, result.hessian_seed, assignment=assignment)[0],
            split_intermolecular(s, result.hessian_refined, assignment=assignment)[0])


def write_refinement(result: RefineResult, outdir: str | Path, *, overwrite: bool = False,
                     seed_format: str | None = None) -> Path:
    """Write every output file of a refinement into ``outdir`` (see OUTPUT_FILES)."""
    from hessfit.structures import write_hessian

    out = check_outdir(Path(outdir), overwrite)
    s = result.structure
    np.save(out / "hessian_refined.npy", result.hessian_refined)
    if seed_format in (".fchk", ".hess"):
        write_hessian(out / f"hessian_refined{seed_format}", result.hessian_refined, structure=s, overwrite=True)
    geometry, h_before, h_after = _intramolecular_view(result)
    _write_csv(out / "force_constants_pairs.csv", pair_rows(geometry, h_before, h_after))
    bonds, angles = internal_rows(geometry, h_before, h_after)
    _write_csv(out / "force_constants_bonds.csv", bonds)
    _write_csv(out / "force_constants_angles.csv", angles)
    _write_csv(out / "modes.csv", mode_rows(result))
    _write_csv(out / "scale_factors.csv", scale_factor_rows(result))
    _write_csv(out / "loss_history.csv", result.history)
    _write_csv(out / "assignment_before.csv", match_rows(result, "before"))
    _write_csv(out / "assignment_after.csv", match_rows(result, "after"))
    pair_blocks_dataset(s, result.hessian_seed, result.hessian_refined).to_netcdf(out / "force_constants.nc",
                                                                                  engine="h5netcdf")
    spectra_dataset(result).to_netcdf(out / "spectra.nc", engine="h5netcdf")
    plot_overlay(result, out / "overlay.png")
    plot_history(result, out / "loss_history.png")
    recipe = "\n".join(f"{k} = {_toml_value(v)}" for k, v in result.config.to_dict().items())
    (out / "recipe.toml").write_text("# recipe used by hessfit refine\n[refine]\n" + recipe + "\n")
    summary = {"molecule": s.name, "formula": s.formula, "n_atoms": s.n_atoms, **result.metrics,
               "elapsed_s": result.elapsed_s, "resolution_scale": result.resolution_scale,
               "wing_a_iso_A2": result.wing_a_iso, "scale_factors": scale_factor_rows(result),
               "parameters_at_bounds": result.at_bounds,
               "nuisance": nuisance_summary(result),
               "loss_grid": "measured energies (the fitted points of the hold-out split)",
               "stages": result.stages, "recipe": result.config.to_dict(), "n_steps": len(result.history)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return out
