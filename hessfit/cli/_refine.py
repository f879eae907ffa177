"""CLI command `refine`: fit force constants to a measured INS spectrum."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hessfit.cli import app
from hessfit.errors import ConfigError
from hessfit.cli._common import (DEFAULT_INSTRUMENT, DeuterateOpt, HessianOpt, HessianUnitsOpt, InstrumentOpt,
                                 IsotopeOpt, ModelOpt, NormalizeHOpt, OptimizeOpt, SourceOpt,
                                 TemperatureOpt, check_normalize_h, get_hessian,
                                 instrument_from_header, load_structure, resolve_molecule)


@app.command()
def refine(
    structure: Path = typer.Argument(..., help="molecule file (.xyz or any format ase reads)"),
    spectrum: Path = typer.Argument(..., help="measured spectrum (energy, intensity[, error])"),
    output: Path = typer.Option(None, "-o", "--output", help="output directory (default: refine_<molecule>)"),
    hessian: HessianOpt = None,
    source: SourceOpt = None,
    model: ModelOpt = None,
    hessian_units: HessianUnitsOpt = "eV/A^2",
    config: str = typer.Option("internal", "--config", "--recipe",
                               help="recipe name (global, classes, internal, free) or a TOML path"),
    instrument: InstrumentOpt = None,
    temperature: TemperatureOpt = None,
    orders: Optional[int] = typer.Option(None, "--orders", help="highest quantum order"),
    e_min: Optional[float] = typer.Option(None, "--e-min", help="fit window start, cm⁻¹"),
    e_max: Optional[float] = typer.Option(None, "--e-max", help="fit window end, cm⁻¹"),
    energy_units: str = typer.Option("cm-1", "--energy-units", help="energy unit of the spectrum file: cm-1 or meV"),
    bank: Optional[str] = typer.Option(None, "--bank", help="bank index or 'sum' for multi-bank files"),
    solver: Optional[str] = typer.Option(None, "--solver", help="lbfgsb or adam"),
    stages: Optional[int] = typer.Option(None, "--stages"),
    steps: Optional[int] = typer.Option(None, "--steps", help="solver steps per stage"),
    fit_wings: Optional[bool] = typer.Option(None, "--fit-wings/--no-fit-wings", help="fit phonon-wing strength"),
    external_modes: Optional[bool] = typer.Option(None, "--external-modes/--no-external-modes",
                                                  help="a molecule measured as a solid: add a lattice-mode band "
                                                  "(centre and width fitted to the spectrum) for wings and "
                                                  "multi-phonon background"),
    fit_resolution: Optional[bool] = typer.Option(None, "--fit-resolution/--no-fit-resolution",
                                                  help="fit the resolution width within ±10 % (off: the instrument's)"),
    holdout: Optional[str] = typer.Option(None, "--holdout", help="validation split: blocks (default), "
                                          "blocks:K[:OFFSET], range:LO-HI (cm⁻¹) or none"),
    accept_worse: bool = typer.Option(False, "--accept-worse",
                                      help="return the fit even when its held-out Spearman is below the seed's"),
    bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="bootstrap refits for uncertainties (0: none)"),
    background_degree: Optional[int] = typer.Option(None, "--background-degree",
                                                    help="degree of the non-negative Bernstein background (-1: none; "
                                                    "default none with the baseline subtracted, else 0)"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="comma-separated sources (e.g. nequip,xtb,mmff): refine "
                                        "from each, rank by held-out Spearman, write a comparison table and plot"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace outputs in an existing directory"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    deuterate: DeuterateOpt = None,
    isotope: IsotopeOpt = None,
    optimize: OptimizeOpt = False,
    normalize_h: NormalizeHOpt = False,
):
    """Refine the Hessian against a measured INS spectrum; writes Hessian, tables, plots and a summary."""
    from hessfit.compare import read_spectrum
    from hessfit.refine import RefineConfig, refine as run_refine, write_refinement
    from hessfit.refine import check_outdir
    from hessfit.structures import describe_structure

    s = load_structure(structure, deuterate=deuterate, isotopes=isotope)
    check_normalize_h(structure, normalize_h)
    outdir = check_outdir(output or Path(f"refine_{s.name}"), overwrite)
    bank_sel = int(bank) if bank is not None and bank.isdigit() else bank
    measured = read_spectrum(spectrum, energy_units=energy_units, bank=bank_sel)
    inst = instrument or instrument_from_header(measured) or DEFAULT_INSTRUMENT
    cfg = RefineConfig.load(config, instrument=inst, temperature_k=temperature, max_order=orders, e_min_cm1=e_min,
                            e_max_cm1=e_max, solver=solver, stages=stages, steps_per_stage=steps, fit_wings=fit_wings,
                            fit_resolution=fit_resolution, external_modes=external_modes, holdout=holdout,
                            accept_worse=accept_worse or None,
                            bootstrap=bootstrap, background_degree=background_degree)
    if seeds is not None:
        if hessian is not None or source is not None:
            raise ConfigError("--seeds replaces --hessian/--source; give one of them")
        names = [n.strip() for n in seeds.split(",") if n.strip()]
        if not names:
            raise ConfigError(f"--seeds {seeds!r}: no source names; e.g. --seeds nequip,xtb,mmff")
        _compare_seeds(s, measured, cfg, names, outdir, spectrum=spectrum, model=model, optimize=optimize,
                       normalize_h=normalize_h, quiet=quiet, overwrite=overwrite)
        return
    # a phonopy file brings its own force constants (the seed), as in modes/spectrum/compare
    s, h0, seed_label = resolve_molecule(structure, hessian=hessian, source=source, hessian_units=hessian_units,
                                         model=model, deuterate=deuterate, isotopes=isotope, optimize=optimize,
                                         normalize_h=normalize_h)
    typer.echo(describe_structure(s))
    typer.echo(f"refining {s.name} ({s.formula}, {s.n_atoms} atoms) against {spectrum} on {inst}, "
               f"recipe '{cfg.parametrization}' ({cfg.solver}), seed Hessian from {seed_label}")
    result = run_refine(s, h0, measured, cfg, progress=not quiet)
    write_refinement(result, outdir, overwrite=True,
                     seed_format=hessian.suffix.lower() if hessian is not None else None)
    _echo_result(result)
    typer.echo(f"wrote {outdir}/")


def _echo_result(result) -> None:
    """The refinement's scores and parameters on stdout (the verdict line first when the seed was kept)."""
    from hessfit.refine import chosen_stage_text, heldout_peak_text, scale_factor_rows

    m = result.metrics
    if m["heldout_worse"]:
        if result.kept_seed:
            typer.echo(f"held-out Spearman fell ({m['spearman_heldout_before']:.3f} -> best fit "
                       f"{max(c['heldout'] for c in result.stages[1:]):.3f}): kept the seed's parameters; "
                       "--accept-worse returns the fit")
        else:
            typer.echo(f"warning: held-out Spearman fell ({m['spearman_heldout_before']:.3f} -> "
                       f"{m['spearman_heldout_after']:.3f}); returned the fit because of --accept-worse")
    typer.echo(f"Spearman {m['spearman_before']:.3f} -> {m['spearman_after']:.3f} (as measured), fitted points "
               f"{m['spearman_fitted_before']:.3f} -> {m['spearman_fitted_after']:.3f}, held-out "
               f"{m['spearman_heldout_before']:.3f} -> {m['spearman_heldout_after']:.3f} ({m['holdout']}, "
               f"{m['n_heldout_points']} of {m['n_points']} points); uniform 1 cm-1 grid "
               f"{m['spearman_uniform_before']:.3f} -> {m['spearman_uniform_after']:.3f} (as measured)")
    typer.echo(f"peak RMS {m['peak_rms_cm1_before']:.1f} -> {m['peak_rms_cm1_after']:.1f} cm-1 "
               f"({m['n_matched_after']} of {m['n_measured_peaks']} peaks matched; held-out peaks "
               f"{heldout_peak_text(m, 'before')} -> {heldout_peak_text(m, 'after')}); intensity scale "
               f"{m['intensity_scale_after']:.3g}; {chosen_stage_text(m)}; {result.elapsed_s:.1f} s")
    if "external_centre_cm1" in m:
        typer.echo(f"external-mode band (lattice modes of the solid, held): centre {m['external_centre_cm1']:.0f} "
                   f"cm-1, width {m['external_width_cm1']:.0f} cm-1")
    if "prior_variants" in m:
        typer.echo("prior variants by held-out Spearman: " + ", ".join(
            f"{' '.join(f'{k}={v}' for k, v in c['variant'].items()) or 'recipe prior'} {c['spearman_heldout_after']:.3f}"
            for c in m["prior_variants"]) + " (the best is returned)")
    for row in scale_factor_rows(result):
        boot = f" (bootstrap ± {row['bootstrap_1sigma']:.4f})" if row["bootstrap_1sigma"] == row["bootstrap_1sigma"] else ""
        flag = f"  AT {row['at_bound'].upper()} BOUND" if row["at_bound"] else ""
        typer.echo(f"  {row['parameter']:<28s} {row['value']:.4f} ± {row['uncertainty_1sigma']:.4f}{boot}{flag}")


def _compare_seeds(structure, measured, cfg, names, outdir: Path, *, spectrum, model, optimize, normalize_h, quiet,
                   overwrite) -> None:
    """Refine from every seed source in ``names``; rank by held-out Spearman; write seeds.csv and seeds.png."""
    from tqdm.auto import tqdm

    from hessfit.refine import refine as run_refine, write_refinement
    from hessfit.refine import check_outdir
    from hessfit.refine import plot_seeds, seed_rows, write_seed_table

    if (outdir / "seeds.csv").exists() and not overwrite:
        raise ConfigError(f"{outdir}: already contains seeds.csv; pass --overwrite or choose another -o")
    for name in names:
        check_outdir(outdir / f"seed_{name}", overwrite)

    results = {}
    for name in tqdm(names, desc="seeds", disable=quiet, leave=False):
        s, h0, label = get_hessian(structure, hessian=None, source=name, hessian_units="eV/A^2",
                                   model=model if name == "nequip" else None, optimize=optimize,
                                   normalize_h=normalize_h)
        typer.echo(f"seed {name}: {label}; refining {s.name} against {spectrum}, recipe '{cfg.parametrization}'")
        result = run_refine(s, h0, measured, cfg, progress=not quiet)
        write_refinement(result, outdir / f"seed_{name}", overwrite=True)
        _echo_result(result)
        results[name] = result
    rows = seed_rows(results)
    write_seed_table(rows, outdir / "seeds.csv")
    plot_seeds(results, rows, outdir / "seeds.png")
    typer.echo(f"{'rank':<5}{'seed':<10}{'held-out before':>16}{'after':>8}{'fitted before':>15}{'after':>8}"
               f"{'as measured':>13}{'after':>8}")
    for row in rows:
        typer.echo(f"{row['rank']:<5}{row['seed']:<10}{row['heldout_before']:16.3f}{row['heldout_after']:8.3f}"
                   f"{row['fitted_before']:15.3f}{row['fitted_after']:8.3f}{row['as_measured_before']:13.3f}"
                   f"{row['as_measured_after']:8.3f}")
    typer.echo(f"wrote {outdir}/seeds.csv, {outdir}/seeds.png and seed_<name>/ folders")
