"""CLI commands `modes` and `spectrum`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hessfit.cli import app
from hessfit.cli._common import (DEFAULT_INSTRUMENT, DEFAULT_TEMPERATURE_K, DeuterateOpt, HessianOpt, HessianUnitsOpt,
                                 InstrumentOpt, IsotopeOpt, ModelOpt, NormalizeHOpt, OptimizeOpt, SourceOpt,
                                 TemperatureOpt, resolve_molecule)


@app.command()
def modes(
    structure: Path = typer.Argument(..., help="molecule file (.xyz, .extxyz or any format ase reads)"),
    hessian: HessianOpt = None,
    source: SourceOpt = None,
    model: ModelOpt = None,
    hessian_units: HessianUnitsOpt = "eV/A^2",
    deuterate: DeuterateOpt = None,
    isotope: IsotopeOpt = None,
    optimize: OptimizeOpt = False,
    normalize_h: NormalizeHOpt = False,
    thermo: bool = typer.Option(False, "--thermo", help="also print the harmonic thermodynamics (ZPE, U, S, Cv, F) "
                                "at a few temperatures (and at --temperature)"),
    temperature: TemperatureOpt = None,
):
    """Print the normal modes: index, frequency in cm⁻¹ and meV (and with --thermo the vibrational thermodynamics)."""
    import numpy as np

    from hessfit.modes import normal_modes

    s, h, origin = resolve_molecule(structure, hessian=hessian, source=source, model=model,
                                    hessian_units=hessian_units, deuterate=deuterate, isotopes=isotope,
                                    optimize=optimize, normalize_h=normalize_h)
    m = normal_modes(s, h)
    f = np.asarray(m.frequencies_cm1)
    from hessfit.structures import describe_structure as describe

    typer.echo(f"# {describe(s)}" + ("; Γ modes, the 3 acoustic translations removed" if s.is_crystal else ""))
    typer.echo(f"# {s.name} ({s.formula}), {m.n_modes} internal modes; negative = imaginary; Hessian from {origin}")
    typer.echo(f"{'mode':>5} {'cm-1':>10} {'meV':>9}")
    for k, (c, e) in enumerate(zip(f, np.asarray(m.frequencies_mev)), start=1):
        typer.echo(f"{k:5d} {c:10.2f} {e:9.3f}")
    if thermo:
        from hessfit.modes import THERMO_TEMPERATURES_K, thermo_table

        temps = sorted(set(THERMO_TEMPERATURES_K) | ({temperature} if temperature is not None else set()))
        rows = thermo_table(f, temps)
        n_imag = int(np.sum(f < 0))
        typer.echo(f"# harmonic vibrational thermodynamics of {m.n_modes - n_imag} real modes"
                   + (f" ({n_imag} imaginary left out)" if n_imag else "")
                   + f"; ZPE {rows[0]['zpe_kj_mol']:.3f} kJ/mol; U, F relative to the potential minimum")
        typer.echo(f"{'T/K':>8} {'U/(kJ/mol)':>11} {'S/(J/mol/K)':>12} {'Cv/(J/mol/K)':>13} {'F/(kJ/mol)':>11}")
        for r in rows:
            typer.echo(f"{r['temperature_k']:8.2f} {r['u_kj_mol']:11.3f} {r['s_j_mol_k']:12.3f} "
                       f"{r['cv_j_mol_k']:13.3f} {r['f_kj_mol']:11.3f}")


@app.command()
def spectrum(
    structure: Path = typer.Argument(..., help="molecule file"),
    hessian: HessianOpt = None,
    source: SourceOpt = None,
    model: ModelOpt = None,
    hessian_units: HessianUnitsOpt = "eV/A^2",
    instrument: InstrumentOpt = None,
    temperature: TemperatureOpt = None,
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
    deuterate: DeuterateOpt = None,
    isotope: IsotopeOpt = None,
    optimize: OptimizeOpt = False,
    normalize_h: NormalizeHOpt = False,
):
    """Simulate the INS spectrum of a molecule from its Hessian."""
    from hessfit.ins import InsConfig, plot_spectrum, save_spectrum, simulate
    from hessfit.structures import check_writable

    instrument = instrument or DEFAULT_INSTRUMENT
    temperature = DEFAULT_TEMPERATURE_K if temperature is None else temperature
    config = InsConfig(instrument=instrument, temperature_k=temperature, max_order=orders, e_min_cm1=e_min,
                       e_max_cm1=e_max, bin_width_cm1=bin_width, cross_section=cross_section, wing_a_iso=wing,
                       units=units)
    check_writable(output, overwrite)
    if plot is not None:
        check_writable(plot, overwrite)
    s, h, _ = resolve_molecule(structure, hessian=hessian, source=source, model=model, hessian_units=hessian_units,
                               deuterate=deuterate, isotopes=isotope, optimize=optimize, normalize_h=normalize_h)
    from hessfit.structures import describe_structure as describe

    typer.echo(describe(s))
    ds = simulate(s, h, config)
    save_spectrum(ds, output, overwrite=overwrite)
    typer.echo(f"wrote {output}")
    if plot is not None:
        import matplotlib.pyplot as plt

        ax = plot_spectrum(ds)
        ax.figure.savefig(plot, dpi=150)
        plt.close(ax.figure)
        typer.echo(f"wrote {plot}")
