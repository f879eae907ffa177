"""CLI command `refine`: fit force constants to a measured INS spectrum."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hessfit.cli import app
from hessfit.cli._common import IsotopeOpt, get_hessian, load_structure

_KNOWN_INSTRUMENTS = ("tosca", "vision", "tfxa")


def instrument_from_header(measured) -> str | None:
    """Guess the instrument from the spectrum file's comment lines (TOSCA, VISION, TFXA)."""
    header = " ".join(str(h) for h in measured.metadata.get("header", ())).lower()
    hits = [name for name in _KNOWN_INSTRUMENTS if name in header]
    return hits[0] if len(hits) == 1 else None


@app.command()
def refine(
    structure: Path = typer.Argument(..., help="molecule file (.xyz or any format ase reads)"),
    spectrum: Path = typer.Argument(..., help="measured spectrum (energy, intensity[, error])"),
    output: Path = typer.Option(None, "-o", "--output", help="output directory (default: refine_<molecule>)"),
    hessian: Optional[Path] = typer.Option(None, "--hessian", help="seed Hessian file (default: --source)"),
    source: Optional[str] = typer.Option(None, "--source", help="seed Hessian source: nequip (default), xtb, mmff, dft"),
    model: Optional[Path] = typer.Option(None, "--model", help="network weights for --source nequip (folder or shipped name)"),
    hessian_units: str = typer.Option("eV/A^2", "--hessian-units"),
    config: str = typer.Option("internal", "--config", "--recipe",
                               help="recipe name (global, classes, internal, free) or a TOML path"),
    instrument: Optional[str] = typer.Option(None, "--instrument", help="tosca, vision, tfxa, ideal or .toml "
                                             "(default: from the file header, else tosca)"),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="K"),
    orders: Optional[int] = typer.Option(None, "--orders", help="highest quantum order"),
    e_min: Optional[float] = typer.Option(None, "--e-min", help="fit window start, cm⁻¹"),
    e_max: Optional[float] = typer.Option(None, "--e-max", help="fit window end, cm⁻¹"),
    energy_units: str = typer.Option("cm-1", "--energy-units", help="energy unit of the spectrum file: cm-1 or meV"),
    bank: Optional[str] = typer.Option(None, "--bank", help="bank index or 'sum' for multi-bank files"),
    solver: Optional[str] = typer.Option(None, "--solver", help="lbfgsb or adam"),
    stages: Optional[int] = typer.Option(None, "--stages"),
    steps: Optional[int] = typer.Option(None, "--steps", help="solver steps per stage"),
    fit_wings: Optional[bool] = typer.Option(None, "--fit-wings/--no-fit-wings", help="fit phonon-wing strength"),
    fit_resolution: Optional[bool] = typer.Option(None, "--fit-resolution/--no-fit-resolution"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace outputs in an existing directory"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    deuterate: Optional[str] = typer.Option(None, "--deuterate", help="'all' or comma-separated H indices"),
    isotope: IsotopeOpt = None,
    optimize: bool = typer.Option(False, "--optimize", help="relax the geometry with the --source's forces first"),
):
    """Refine the Hessian against a measured INS spectrum; writes Hessian, tables, plots and a summary."""
    from hessfit.compare import read_spectrum
    from hessfit.refine import RefineConfig, refine as run_refine, write_refinement
    from hessfit.refine._report import check_outdir

    s = load_structure(structure, deuterate=deuterate, isotopes=isotope)
    outdir = check_outdir(output or Path(f"refine_{s.name}"), overwrite)
    bank_sel = int(bank) if bank is not None and bank.isdigit() else bank
    measured = read_spectrum(spectrum, energy_units=energy_units, bank=bank_sel)
    inst = instrument or instrument_from_header(measured) or "tosca"
    cfg = RefineConfig.load(config, instrument=inst, temperature_k=temperature, max_order=orders, e_min_cm1=e_min,
                            e_max_cm1=e_max, solver=solver, stages=stages, steps_per_stage=steps, fit_wings=fit_wings,
                            fit_resolution=fit_resolution)
    s, h0, seed_label = get_hessian(s, hessian=hessian, source=source, hessian_units=hessian_units, model=model,
                                    optimize=optimize)
    typer.echo(f"refining {s.name} ({s.formula}, {s.n_atoms} atoms) against {spectrum} on {inst}, "
               f"recipe '{cfg.parametrization}' ({cfg.solver}), seed Hessian from {seed_label}")
    result = run_refine(s, h0, measured, cfg, progress=not quiet)
    write_refinement(result, outdir, overwrite=True,
                     seed_format=hessian.suffix.lower() if hessian is not None else None)
    m = result.metrics
    typer.echo(f"Spearman {m['spearman_before']:.3f} -> {m['spearman_after']:.3f} (as measured), "
               f"{m['spearman_fit_before']:.3f} -> {m['spearman_fit_after']:.3f} (baseline-corrected fit); peak RMS "
               f"{m['peak_rms_cm1_before']:.1f} -> {m['peak_rms_cm1_after']:.1f} cm-1 "
               f"({m['n_matched_after']} of {m['n_measured_peaks']} peaks matched); {result.elapsed_s:.1f} s")
    from hessfit.refine._report import scale_factor_rows

    for row in scale_factor_rows(result):
        typer.echo(f"  {row['parameter']:<28s} {row['value']:.4f} ± {row['uncertainty_1sigma']:.4f}")
    typer.echo(f"wrote {outdir}/")
