"""CLI: ``hessfit optimize`` and ``hessfit dataset build|info`` (thin layer over hessfit.sources)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from hessfit.cli import app
from hessfit.errors import ConfigError

dataset_app = typer.Typer(no_args_is_help=True, help="Build and inspect Hessian datasets (compact .npz format).")
app.add_typer(dataset_app, name="dataset")

_METHOD_HELP = "backend with forces: xtb (GFN2-xTB), mmff (MMFF94) or dft (PySCF)"


def source_options(*, charge: Optional[int] = None, functional: Optional[str] = None,
                   basis: Optional[str] = None, electronic_supercell: Optional[str] = None) -> dict:
    """Source options given on the command line (unset ones dropped; get_source rejects ones a method lacks)."""
    reps = None
    if electronic_supercell is not None:
        try:
            reps = tuple(int(v) for v in electronic_supercell.lower().split("x"))
        except ValueError:
            reps = ()
        if len(reps) != 3:  # an explicit check: asserts vanish under python -O
            raise ConfigError(f"--electronic-supercell {electronic_supercell!r}: expected N1xN2xN3, e.g. 2x2x1")
    return {k: v for k, v in {"charge": charge, "functional": functional, "basis": basis,
                              "electronic_supercell": reps}.items() if v is not None}


@app.command("optimize")
def optimize_cmd(
    structure: Path = typer.Argument(..., help="input structure (.xyz or any format ase reads)"),
    output: Path = typer.Option(..., "-o", "--output", help="optimised structure (.xyz)"),
    method: str = typer.Option("xtb", "--method", "-m", help=_METHOD_HELP),
    fmax: float = typer.Option(0.01, "--fmax", help="convergence: maximum atomic force, eV/Å"),
    steps: int = typer.Option(500, "--steps", help="maximum optimiser steps"),
    optimizer: str = typer.Option("BFGS", "--optimizer", help="ASE optimiser: BFGS, LBFGS, FIRE, BFGSLineSearch"),
    charge: Optional[int] = typer.Option(None, "--charge", help="total charge (e)"),
    functional: Optional[str] = typer.Option(None, "--functional", help="dft only (default B3LYP)"),
    basis: Optional[str] = typer.Option(None, "--basis", help="dft only (default 6-31G*)"),
    cell: bool = typer.Option(False, "--cell", help="a crystal: relax the cell too (xtb: its stress)"),
    electronic_supercell: Optional[str] = typer.Option(None, "--electronic-supercell",
                                                       help="xtb, a crystal: evaluate in this N1xN2xN3 supercell "
                                                       "(k-point sampling of a small cell), e.g. 2x2x1"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output file"),
):
    """Optimise a geometry with a backend's forces and report the final maximum force."""
    from hessfit.errors import ConvergenceError
    from hessfit.sources import optimize
    from hessfit.structures import read_structure, write_xyz

    s = read_structure(structure)
    res = optimize(s, method, fmax_eV_A=fmax, max_steps=steps, optimizer=optimizer, cell=cell,
                   **source_options(charge=charge, functional=functional, basis=basis,
                                    electronic_supercell=electronic_supercell))
    write_xyz(output, res.structure, comments=[f"{s.name} optimised {res.level_of_theory} E={res.energy_eV:.8f} eV "
                                              f"max_force={res.max_force_eV_A:.3g} eV/A"], overwrite=overwrite)
    if not res.converged:
        raise ConvergenceError(f"{structure}: not converged in {res.n_steps} steps (max force "
                               f"{res.max_force_eV_A:.3g} eV/Å > {fmax:g}); last geometry written to {output}; "
                               "rerun from it or raise --steps")
    typer.echo(f"{s.name}: optimised with {res.level_of_theory} ({res.optimizer}) in {res.n_steps} steps; "
               f"final max force {res.max_force_eV_A:.3g} eV/Å (≤ {fmax:g}); energy {res.energy_eV:.6f} eV; "
               f"wrote {output}")
    if cell:
        volume = lambda c: abs(float(np.linalg.det(c)))  # noqa: E731
        typer.echo(f"cell relaxed: volume {volume(s.cell):.2f} -> {volume(res.structure.cell):.2f} Å³")


@dataset_app.command("build")
def dataset_build_cmd(
    input: Path = typer.Argument(..., help="SMILES file ('SMILES name' per line, name optional), directory of .xyz, "
                                 "or dataset .npz"),
    output: Path = typer.Option(..., "-o", "--output", help="dataset .npz to create or extend (resumable)"),
    method: str = typer.Option("xtb", "--method", "-m", help=_METHOD_HELP),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="address of an existing Dask scheduler "
                                            "(e.g. tcp://host:8786); default: a local cluster"),
    workers: int = typer.Option(2, "--workers", help="local cluster worker processes (0 = serial, no Dask)"),
    fmax: float = typer.Option(0.01, "--fmax", help="optimisation convergence, max force in eV/Å"),
    steps: int = typer.Option(500, "--steps", help="maximum optimiser steps per molecule"),
    no_optimize: bool = typer.Option(False, "--no-optimize", help="use the input geometries as they are"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="recompute molecules in the failure log"),
    merge_every: int = typer.Option(50, "--merge-every", help="merge finished molecules into OUT this often"),
    charge: Optional[int] = typer.Option(None, "--charge", help="total charge (e) of every molecule"),
    functional: Optional[str] = typer.Option(None, "--functional", help="dft only (default B3LYP)"),
    basis: Optional[str] = typer.Option(None, "--basis", help="dft only (default 6-31G*)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
):
    """Compute Hessians (SMILES → ETKDG+MMFF 3D → optimise → Hessian) and append them to OUT."""
    from hessfit.dataset import build_dataset

    r = build_dataset(input, output, method=method, options=source_options(charge=charge, functional=functional,
                                                                           basis=basis),
                      scheduler=scheduler, n_workers=workers, optimize=not no_optimize, fmax_eV_A=fmax,
                      max_steps=steps, merge_every=merge_every, retry_failed=retry_failed, progress=progress)
    typer.echo(f"{r.out}: {r.n_done} added, {r.n_failed} failed, {r.n_skipped} skipped (done or failed before) "
               f"of {r.n_input}; {r.n_total} molecules in the dataset; {r.wall_time_s:.1f} s")
    if r.n_failed:
        typer.echo(f"failures and their reasons: {r.failures_path}")
    if r.n_lost:
        typer.echo(f"{r.n_lost} molecules were lost with their workers or the scheduler; rerun to compute them")
    if r.n_above_max_force:
        import warnings

        from hessfit.sources import MAX_FORCE_WARN_EV_A
        from hessfit.structures import HessfitWarning

        warnings.warn(f"{r.n_above_max_force} molecules were added at geometries with a maximum force above "
                      f"{MAX_FORCE_WARN_EV_A:g} eV/Å (see max_force_eV_A); drop --no-optimize to optimise them",
                      HessfitWarning, stacklevel=1)


@dataset_app.command("info")
def dataset_info_cmd(
    path: Path = typer.Argument(..., help="dataset .npz"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
):
    """Print counts, molecule-size range, elements and level of theory of a dataset."""
    from hessfit.dataset import dataset_summary

    s = dataset_summary(path)
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    elements = ", ".join(f"{el} {n}" for el, n in s["elements"].items())
    levels = ", ".join(f"{lv} ({n})" for lv, n in s["levels_of_theory"].items())
    lines = [f"{s['path']}: {s['n_molecules']} molecules, {s['n_atoms_total']} atoms, {s['file_bytes']:,} bytes",
             f"  atoms per molecule: {s['atoms_min']}–{s['atoms_max']} (median {s['atoms_median']:g})",
             f"  elements (atoms): {elements}",
             f"  level of theory: {levels}",
             f"  arrays: {', '.join(s['arrays'])}"]
    if s["n_failures"] or s["n_pending_parts"]:
        lines.append(f"  build log: {s['n_failures']} failures recorded, {s['n_pending_parts']} finished molecules "
                     "not yet merged (rerun build to merge)")
    typer.echo("\n".join(lines))
