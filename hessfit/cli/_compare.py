"""CLI command `compare`: measured spectrum vs the spectrum simulated from a Hessian (thin layer over hessfit.compare)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hessfit.cli import app


def _hessian_for(structure, *, hessian: Optional[Path], source: Optional[str], hessian_units: str,
                 optimize: bool = False):
    """(structure, Hessian eV/Å², label) from --hessian or --source (default: the shipped network)."""
    from hessfit.cli._common import get_hessian

    return get_hessian(structure, hessian=hessian, source=source, hessian_units=hessian_units, optimize=optimize)


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
    hessian: Optional[Path] = typer.Option(None, "--hessian", help="Hessian file (.npy/.txt/.fchk/.hess/.log)"),
    source: Optional[str] = typer.Option(None, "--source", help="Hessian source instead of --hessian (xtb, mmff, ...)"),
    hessian_units: str = typer.Option("eV/A^2", "--hessian-units", help="units of .npy/.txt Hessians"),
    instrument: str = typer.Option("tosca", "--instrument", help="tosca, tosca_back, vision, tfxa, ideal or a .toml"),
    temperature: float = typer.Option(10.0, "--temperature", help="sample temperature, K"),
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
    optimize: bool = typer.Option(False, "--optimize", help="relax the geometry with the --source's forces first"),
):
    """Compare a measured INS spectrum with the one simulated from a Hessian; assign peaks to modes.

    Prints the scores and the assignment table; writes assignment.csv, spectra.nc, overlay.png, modes.molden,
    modes_animation.xyz, mode_<k>.png and scores.json into the output directory.
    """
    import math

    from hessfit.compare import CompareConfig, PeakSettings, assign_spectrum, read_spectrum, write_report
    from hessfit.compare._report import check_report_writable
    from hessfit.ins import InsConfig
    from hessfit.structures import read_structure

    ins = InsConfig(instrument=instrument, temperature_k=temperature, max_order=orders,
                    e_max_cm1=max(4000.0, float(math.ceil(e_max)) + 100.0))
    cmp_cfg = CompareConfig(window_cm1=(e_min, e_max), grid=grid, background=background,
                            background_degree=background_degree, normalize=normalize)
    peaks = PeakSettings(min_prominence=min_prominence, smooth_measured=smooth, max_cost=max_cost,
                         rank_weight=rank_weight, frequency_scale=frequency_scale)
    animate_modes = _mode_list(animate)
    check_report_writable(output, overwrite)
    spec = read_spectrum(measured, energy_units=energy_units, bank=bank, check_units=unit_check)
    s = read_structure(structure)
    s, h, origin = _hessian_for(s, hessian=hessian, source=source, hessian_units=hessian_units, optimize=optimize)
    result = assign_spectrum(s, h, spec, ins_config=ins, compare_config=cmp_cfg, peaks=peaks,
                             resolution_scale=resolution_scale)
    paths = write_report(result, output, overwrite=overwrite, animate_modes=animate_modes)

    sc = result.scores
    a = result.assignment
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
