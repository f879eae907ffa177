"""CLI commands `modes` and `spectrum`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hessfit.cli import app
from hessfit.cli._common import get_hessian, load_structure

_DEUT = typer.Option(None, "--deuterate", help="'all' or comma-separated 0-based H indices to replace by D")
_ISO = typer.Option(None, "--isotope", help="INDEX=MASS_AMU mass override (repeatable)")
_OPT = typer.Option(False, "--optimize", help="relax the geometry with the --source's forces first")


@app.command()
def modes(
    structure: Path = typer.Argument(..., help="molecule file (.xyz, .extxyz or any format ase reads)"),
    hessian: Optional[Path] = typer.Option(None, "--hessian", help="Hessian file (.npy/.txt/.fchk/.hess/.log)"),
    source: Optional[str] = typer.Option(None, "--source", help="Hessian source if no --hessian (nequip, xtb, mmff, dft)"),
    hessian_units: str = typer.Option("eV/A^2", "--hessian-units", help="units of .npy/.txt Hessians"),
    deuterate: Optional[str] = _DEUT,
    isotope: Optional[list[str]] = _ISO,
    optimize: bool = _OPT,
):
    """Print the normal modes: index, frequency in cm⁻¹ and meV."""
    import numpy as np

    from hessfit.modes import normal_modes

    s = load_structure(structure, deuterate=deuterate, isotopes=isotope)
    s, h, _ = get_hessian(s, hessian=hessian, source=source, hessian_units=hessian_units, optimize=optimize)
    m = normal_modes(s, h)
    f = np.asarray(m.frequencies_cm1)
    typer.echo(f"# {s.name} ({s.formula}), {m.n_modes} internal modes; negative = imaginary")
    typer.echo(f"{'mode':>5} {'cm-1':>10} {'meV':>9}")
    for k, (c, e) in enumerate(zip(f, np.asarray(m.frequencies_mev)), start=1):
        typer.echo(f"{k:5d} {c:10.2f} {e:9.3f}")


@app.command()
def spectrum(
    structure: Path = typer.Argument(..., help="molecule file"),
    hessian: Optional[Path] = typer.Option(None, "--hessian", help="Hessian file (.npy/.txt/.fchk/.hess/.log)"),
    source: Optional[str] = typer.Option(None, "--source", help="Hessian source if no --hessian"),
    hessian_units: str = typer.Option("eV/A^2", "--hessian-units"),
    instrument: str = typer.Option("tosca", "--instrument", help="tosca, tosca_back, vision, tfxa, ideal or a .toml"),
    temperature: float = typer.Option(10.0, "--temperature", help="K"),
    orders: int = typer.Option(2, "--orders", help="highest quantum order (1-10; ≥3 by auto-convolution)"),
    e_min: float = typer.Option(0.0, "--e-min", help="cm⁻¹"),
    e_max: float = typer.Option(4000.0, "--e-max", help="cm⁻¹"),
    bin_width: float = typer.Option(1.0, "--bin-width", help="cm⁻¹"),
    cross_section: str = typer.Option("incoherent", "--cross-section", help="incoherent, total or coherent"),
    wing: float = typer.Option(0.0, "--wing", help="phonon-wing A_ISO in Å² (0 = none; OCLIMAX default 0.035)"),
    units: str = typer.Option("cm-1", "--units", help="output energy units: cm-1 or meV"),
    output: Path = typer.Option(Path("spectrum.nc"), "-o", "--output", help=".nc, .csv, .dat or .txt"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="save a PNG/PDF plot"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace existing output files"),
    deuterate: Optional[str] = _DEUT,
    isotope: Optional[list[str]] = _ISO,
    optimize: bool = _OPT,
):
    """Simulate the INS spectrum of a molecule from its Hessian."""
    from hessfit.ins import InsConfig, plot_spectrum, save_spectrum, simulate
    from hessfit.structures._files import check_writable

    config = InsConfig(instrument=instrument, temperature_k=temperature, max_order=orders, e_min_cm1=e_min,
                       e_max_cm1=e_max, bin_width_cm1=bin_width, cross_section=cross_section, wing_a_iso=wing,
                       units=units)
    check_writable(output, overwrite)
    if plot is not None:
        check_writable(plot, overwrite)
    s = load_structure(structure, deuterate=deuterate, isotopes=isotope)
    s, h, _ = get_hessian(s, hessian=hessian, source=source, hessian_units=hessian_units, optimize=optimize)
    ds = simulate(s, h, config)
    save_spectrum(ds, output, overwrite=overwrite)
    typer.echo(f"wrote {output}")
    if plot is not None:
        import matplotlib.pyplot as plt

        ax = plot_spectrum(ds)
        ax.figure.savefig(plot, dpi=150)
        plt.close(ax.figure)
        typer.echo(f"wrote {plot}")
