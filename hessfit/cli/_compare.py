"""CLI command `compare`: measured spectrum vs the spectrum simulated from a Hessian (thin layer over hessfit.compare)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hessfit.cli import app
from hessfit.cli._common import (DEFAULT_INSTRUMENT, DEFAULT_TEMPERATURE_K, DeuterateOpt, HessianOpt, HessianUnitsOpt,
                                 InstrumentOpt, IsotopeOpt, ModelOpt, NormalizeHOpt, OptimizeOpt, SourceOpt,
                                 TemperatureOpt, resolve_molecule)


def _mode_list(text: Optional[str]):
    from hessfit.errors import ConfigError

    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"--animate {text!r}: expected comma-separated 1-based mode numbers, e.g. 7,12") from None


@app.command()
def compare(
    structure: Path = typer.Argument(..., help="molecule file (.xyz or any format ase reads)"),
    measured: Path = typer.Argument(..., help="measured spectrum: energy, intensity[, error] text or Mantid ASCII"),
    hessian: HessianOpt = None,
    source: SourceOpt = None,
    model: ModelOpt = None,
    hessian_units: HessianUnitsOpt = "eV/A^2",
    instrument: InstrumentOpt = None,
    temperature: TemperatureOpt = None,
    orders: int = typer.Option(2, "--orders", help="highest quantum order simulated (1-10)"),
    resolution_scale: float = typer.Option(1.0, "--resolution-scale", help="multiply the instrument σ(E) by this"),
    energy_units: str = typer.Option("cm-1", "--energy-units", help="energy unit of the measured file: cm-1 or meV"),
    bank: Optional[str] = typer.Option(None, "--bank", help="multi-bank files: 0-based bank index or 'sum'"),
    unit_check: bool = typer.Option(True, "--unit-check/--no-unit-check",
                                    help="refuse energy ranges that look like the other unit"),
    e_min: float = typer.Option(50.0, "--e-min", help="comparison window start, cm⁻¹"),
    e_max: float = typer.Option(3500.0, "--e-max", help="comparison window end, cm⁻¹"),
    grid: str = typer.Option("measured", "--grid", help="common grid: measured, simulated or a step in cm⁻¹"),
    background: str = typer.Option("none", "--background", help="measured background: none, polynomial, baseline"),
    background_degree: int = typer.Option(3, "--background-degree", help="degree of the polynomial background"),
    normalize: str = typer.Option("area", "--normalize", help="area, max or none"),
    max_cost: float = typer.Option(4.0, "--max-cost", help="assignment threshold (σ units + rank term)"),
    rank_weight: float = typer.Option(1.0, "--rank-weight", help="weight of the intensity-rank term"),
    frequency_scale: float = typer.Option(1.0, "--frequency-scale", help="scale calculated peaks before matching"),
    min_prominence: float = typer.Option(0.02, "--min-prominence", help="measured peaks: fraction of the range"),
    smooth: float = typer.Option(0.0, "--smooth", help="smooth the measured spectrum by this many σ(E) before "
                                 "peak finding (0.5-1 for noisy data)"),
    animate: Optional[str] = typer.Option(None, "--animate", help="modes for the xyz animation, e.g. 7,12 "
                                          "(default: the main mode of each assigned peak)"),
    output: Path = typer.Option(Path("compare_out"), "-o", "--output", help="output directory"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace existing files in the output directory"),
    optimize: OptimizeOpt = False,
    normalize_h: NormalizeHOpt = False,
    deuterate: DeuterateOpt = None,
    isotope: IsotopeOpt = None,
):
    """Compare a measured INS spectrum with the one simulated from a Hessian; assign peaks to modes.

    Prints the scores and the assignment table; writes assignment.csv, spectra.nc, overlay.png, modes.molden,
    modes_animation.xyz, mode_<k>.png and scores.json into the output directory.
    """
    import math

    from hessfit.compare import CompareConfig, PeakSettings, assign_spectrum, read_spectrum, write_report
    from hessfit.compare import check_report_writable
    from hessfit.ins import InsConfig
    from hessfit.cli._common import instrument_from_header

    temperature = DEFAULT_TEMPERATURE_K if temperature is None else temperature
    check_report_writable(output, overwrite)
    spec = read_spectrum(measured, energy_units=energy_units, bank=bank, check_units=unit_check)
    instrument = instrument or instrument_from_header(spec) or DEFAULT_INSTRUMENT
    ins = InsConfig(instrument=instrument, temperature_k=temperature, max_order=orders,
                    e_max_cm1=max(4000.0, float(math.ceil(e_max)) + 100.0))
    cmp_cfg = CompareConfig(window_cm1=(e_min, e_max), grid=grid, background=background,
                            background_degree=background_degree, normalize=normalize)
    peaks = PeakSettings(min_prominence=min_prominence, smooth_measured=smooth, max_cost=max_cost,
                         rank_weight=rank_weight, frequency_scale=frequency_scale)
    animate_modes = _mode_list(animate)
    s, h, origin = resolve_molecule(structure, hessian=hessian, source=source, model=model,
                                    hessian_units=hessian_units, deuterate=deuterate, isotopes=isotope,
                                    optimize=optimize, normalize_h=normalize_h)
    result = assign_spectrum(s, h, spec, ins_config=ins, compare_config=cmp_cfg, peaks=peaks,
                             resolution_scale=resolution_scale)
    paths = write_report(result, output, overwrite=overwrite, animate_modes=animate_modes)

    sc = result.scores
    a = result.assignment
    from hessfit.structures import describe_structure as describe

    typer.echo(describe(s))
    typer.echo(f"{s.name} ({s.formula}), Hessian from {origin}; measured {spec.source} ({spec.n_points} points)")
    typer.echo(f"window {sc['window_cm1'][0]:.0f}-{sc['window_cm1'][1]:.0f} cm-1, {sc['n_points']} points "
               f"({cmp_cfg.grid} grid), background {background}, normalise {normalize}, {instrument} orders 1-{orders}")
    typer.echo(f"Spearman {sc['spearman']:.3f}  Pearson {sc['pearson']:.3f}  cosine {sc['cosine']:.3f}  "
               f"Wasserstein {sc['wasserstein_cm1']:.1f} cm-1")
    typer.echo(f"peaks: {len(a.measured)} measured, {len(a.calculated)} calculated, {a.n_assigned} assigned")
    typer.echo(f"{'meas':>5} {'cm-1':>7} {'calc':>5} {'cm-1':>7} {'shift':>7} {'σ':>6}  main mode / description")
    for r in result.table():
        if not r["measured"]:
            continue
        if r["calculated"]:
            typer.echo(f"{r['measured']:>5} {r['measured_cm1']:7.1f} {r['calculated']:>5} {r['calculated_cm1']:7.1f} "
                       f"{r['shift_cm1']:7.1f} {r['shift_sigma']:6.2f}  {r['main_mode']} "
                       f"{r['main_mode_cm1']:.0f}: {r['main_mode_description']}")
        else:
            typer.echo(f"{r['measured']:>5} {r['measured_cm1']:7.1f} {'-':>5} {'':>7} {'':>7} {'':>6}  unassigned")
    typer.echo(f"wrote {len(paths)} files to {output}/ (assignment.csv, spectra.nc, overlay.png, modes.molden, ...)")
