"""Geometry optimisation with a source's forces, and the max-force check every Hessian command runs.

Hessians at non-stationary geometries give imaginary and wrong low modes. `optimize` relaxes a
structure with an ASE optimiser (BFGS by default) driven by ``source.energy_forces`` and reports
the final maximum atomic force; `check_max_force` warns (HessfitWarning) when a structure's
maximum force under the chosen backend exceeds a threshold, suggesting ``--optimize``.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from hessfit.errors import ConfigError
from hessfit.sources._base import HessianSource, get_source
from hessfit.structures import HessfitWarning, Structure

#: default convergence threshold of `optimize`: max atomic force in eV/Å (≈ 1.9e-4 Hartree/Bohr,
#: between Gaussian's default 4.5e-4 and "tight" 1.5e-5)
DEFAULT_FMAX_EV_A = 0.01
#: `check_max_force` warns above this max atomic force, eV/Å (≈ 1e-3 Hartree/Bohr)
MAX_FORCE_WARN_EV_A = 0.05

_OPTIMIZERS = ("BFGS", "LBFGS", "FIRE", "BFGSLineSearch")


@dataclasses.dataclass(frozen=True, eq=False)
class OptimizeResult:
    """Outcome of `optimize`.

    Attributes:
        structure: the optimised structure (positions in Å).
        energy_eV: final energy, eV.
        max_force_eV_A: final maximum atomic force |F_i|, eV/Å.
        n_steps: optimiser steps taken.
        converged: whether ``max_force_eV_A <= fmax_eV_A`` was reached within ``max_steps``.
        level_of_theory: the backend's method, e.g. "GFN2-xTB".
        optimizer: ASE optimiser name.
    """

    structure: Structure
    energy_eV: float
    max_force_eV_A: float
    n_steps: int
    converged: bool
    level_of_theory: str
    optimizer: str


def _as_source(method: str | HessianSource, options: dict) -> HessianSource:
    source = get_source(method, **options) if isinstance(method, str) else method
    if not source.has_forces:
        raise ConfigError(f"source {source.name!r} gives no forces; optimise with --method xtb, mmff or dft")
    return source


def max_force(structure: Structure, method: str | HessianSource = "xtb", **options) -> float:
    """Maximum atomic force |F_i| in eV/Å of ``structure`` under a backend."""
    _, forces = _as_source(method, options).energy_forces(structure)
    return float(np.max(np.linalg.norm(forces, axis=1)))


def check_max_force(structure: Structure, method: str | HessianSource = "xtb", *,
                    threshold_eV_A: float = MAX_FORCE_WARN_EV_A, **options) -> float:
    """Return the max force (eV/Å); warn (HessfitWarning) when it exceeds ``threshold_eV_A``."""
    source = _as_source(method, options)
    fmax = max_force(structure, source)
    if fmax > threshold_eV_A:
        warnings.warn(f"{structure.name}: maximum force {fmax:.3g} eV/Å ({source.level_of_theory}) is above "
                      f"{threshold_eV_A:g} eV/Å: not a stationary point, so low modes may be imaginary or wrong; "
                      "optimise first (--optimize, or hessfit optimize)", HessfitWarning, stacklevel=2)
    return fmax


def _ase_calculator(source: HessianSource, template: Structure):
    from ase.calculators.calculator import Calculator, all_changes

    with_stress = template.is_crystal and hasattr(source, "energy_forces_stress")

    class SourceCalculator(Calculator):
        implemented_properties = ["energy", "forces"] + (["stress"] if with_stress else [])

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            s = dataclasses.replace(template, positions=np.array(self.atoms.get_positions()),
                                    **({"cell": np.array(self.atoms.get_cell())} if template.is_crystal else {}))
            if with_stress:  # stress: ASE's Voigt order xx, yy, zz, yz, xz, xy, eV/Å³
                energy, forces, stress = source.energy_forces_stress(s)
                self.results = {"energy": float(energy), "forces": np.asarray(forces, float),
                                "stress": np.asarray(stress, float).flat[[0, 4, 8, 5, 2, 1]]}
                return
            energy, forces = source.energy_forces(s)
            self.results = {"energy": float(energy), "forces": np.asarray(forces, float)}

    return SourceCalculator()


def optimize(structure: Structure, method: str | HessianSource = "xtb", *, fmax_eV_A: float = DEFAULT_FMAX_EV_A,
             max_steps: int = 500, optimizer: str = "BFGS", cell: bool = False, checkpoint: str | Path | None = None,
             **options) -> OptimizeResult:
    """Relax ``structure`` with a backend's forces.

    Args:
        structure: starting geometry (Å).
        method: source name ("xtb", "mmff", "dft") or a HessianSource with forces.
        fmax_eV_A: stop when the max atomic force is at most this (eV/Å).
        max_steps: optimiser step limit; not converging is reported in the result, not raised.
        optimizer: ASE optimiser: BFGS, LBFGS, FIRE or BFGSLineSearch.
        cell: a crystal only: relax the cell too (ASE's FrechetCellFilter; the source must give a stress: xtb).
            Convergence then also needs every stress component × volume (eV) below ``fmax_eV_A``.
        checkpoint: a path stem making the run resumable (for slow sources such as DFT): the geometry after every
            step goes to CHECKPOINT.xyz and the optimiser's state to CHECKPOINT.<optimizer>.json; a rerun with the
            same stem continues from them as if never stopped (``max_steps`` counts this run's steps). Not with
            ``cell``.
        **options: options of the source when ``method`` is a name (e.g. ``basis="6-31G*"``).
    """
    import ase.io
    import ase.optimize

    if optimizer not in _OPTIMIZERS:
        raise ConfigError(f"unknown optimiser {optimizer!r}; use one of {', '.join(_OPTIMIZERS)}")
    if not fmax_eV_A > 0:
        raise ConfigError(f"fmax must be positive, got {fmax_eV_A} eV/Å")
    if checkpoint is not None and cell:
        raise ConfigError("a checkpoint cannot resume a cell relaxation; leave out cell or checkpoint")
    source = _as_source(method, options)
    if cell:
        from hessfit.structures import require_crystal

        require_crystal(structure, "--cell")
        if not hasattr(source, "energy_forces_stress"):
            raise ConfigError(f"source {source.name!r} gives no stress; relax the cell with --method xtb")
    restart = None
    if checkpoint is not None:
        xyz, restart = Path(f"{checkpoint}.xyz"), f"{checkpoint}.{optimizer.lower()}.json"  # a stem may hold dots
        xyz.parent.mkdir(parents=True, exist_ok=True)
        if xyz.exists():
            structure = dataclasses.replace(structure, positions=ase.io.read(xyz).get_positions())
    atoms = structure.to_ase()
    atoms.calc = _ase_calculator(source, structure)
    target = atoms
    if cell:
        from ase.filters import FrechetCellFilter

        target = FrechetCellFilter(atoms)
    opt = getattr(ase.optimize, optimizer)(target, logfile=None, restart=restart)
    if checkpoint is not None:
        opt.attach(lambda: ase.io.write(xyz, atoms, format="extxyz"), interval=1)
    opt.run(fmax=fmax_eV_A, steps=max_steps)
    forces = atoms.get_forces()
    fmax = float(np.max(np.linalg.norm(forces, axis=1)))
    converged = float(np.max(np.linalg.norm(target.get_forces(), axis=1))) <= fmax_eV_A
    final = dataclasses.replace(structure, positions=np.array(atoms.get_positions()),
                                **({"cell": np.array(atoms.get_cell())} if cell else {}))
    return OptimizeResult(structure=final, energy_eV=float(atoms.get_potential_energy()), max_force_eV_A=fmax,
                          n_steps=int(opt.nsteps), converged=converged,
                          level_of_theory=source.level_of_theory, optimizer=optimizer)
