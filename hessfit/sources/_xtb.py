"""GFN-xTB through tblite (optional extra ``xtb``).

tblite's Python API gives energies and analytic gradients but no Hessian, so the Hessian is
built by central finite differences of the analytic gradients (`finite_difference_hessian`,
step 0.005 Å, 6N gradients), in parallel threads, symmetrised. tblite works in Bohr and
Hartree; conversion happens here. Each thread keeps its own calculator and reuses the previous
wavefunction as the SCF guess. Set ``OMP_NUM_THREADS`` (or ``OMP_WAIT_POLICY=PASSIVE``) when the
machine is shared: OpenMP spinning made tblite 7–10× slower next to another busy process.

Crystals (``structure.is_crystal``) are computed with periodic boundary conditions: tblite gets the
cell and evaluates the Hamiltonian at the Γ point of that cell, so the Hessian is the Γ-point force-
constant matrix of the cell (for a supercell: all its commensurate q-points). Γ-only sampling of a
small cell is a k-point approximation that can fail badly: for the 20-atom n-hexane cell (4.1 Å) the
energy per cell differs from a 2×2×2 supercell by 0.016 Eh at the X-ray geometry, and a relaxation in
the bare cell distorts the molecule (C–C 1.43 Å; forces of 3 eV/Å when re-evaluated in a supercell).
``electronic_supercell=(n1, n2, n3)`` evaluates every energy and gradient in that supercell (the atoms of
all images displaced together) and folds the gradient back onto the cell: the electronic structure then
samples the n1×n2×n3 k-mesh while the Hessian stays the Γ-point Hessian of the cell (docs/crystal.md).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import numpy as np

from hessfit.errors import ConfigError, ConvergenceError
from hessfit.sources._base import HessianResult, HessianSource, register_source, require
from hessfit.sources._fd import DEFAULT_STEP_ANGSTROM, finite_difference_hessian
from hessfit.structures import Structure
from hessfit.units import BOHR_A, HARTREE_EV

_METHODS = {"gfn2-xtb": "GFN2-xTB", "gfn2": "GFN2-xTB", "gfn1-xtb": "GFN1-xTB", "gfn1": "GFN1-xTB",
            "ipea1-xtb": "IPEA1-xTB", "ipea1": "IPEA1-xTB"}


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


#: periodic cells narrower than this (Å, perpendicular width) get a warning at Γ-only sampling
MIN_GAMMA_WIDTH_A = 8.0


def _warn_small_cell(structure: Structure) -> None:
    """Warn when Γ-only periodic xTB runs in a cell narrower than MIN_GAMMA_WIDTH_A along a periodic direction."""
    import warnings

    from hessfit.structures import HessfitWarning

    cell = np.asarray(structure.cell, float)
    volume = abs(np.linalg.det(cell))
    widths = np.array([volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)])
    narrow = [k for k in range(3) if structure.pbc[k] and widths[k] < MIN_GAMMA_WIDTH_A]
    if narrow:
        reps = tuple(int(np.ceil(MIN_GAMMA_WIDTH_A / widths[k])) if k in narrow else 1 for k in range(3))
        warnings.warn(f"{structure.name}: periodic xTB at the Γ point of a cell only "
                      f"{', '.join(f'{widths[k]:.1f} Å' for k in narrow)} wide is unreliable (n-hexane's 4 Å cell "
                      f"distorts the molecule); use electronic_supercell={reps}", HessfitWarning, stacklevel=3)


@register_source("xtb")
@dataclasses.dataclass(frozen=True)
class XtbSource(HessianSource):
    """GFN2-xTB (default), GFN1-xTB or IPEA1-xTB via tblite.

    Attributes:
        method: "GFN2-xTB", "GFN1-xTB" or "IPEA1-xTB" (case-insensitive).
        charge: total charge (e).
        uhf: number of unpaired electrons.
        accuracy: tblite accuracy (smaller = tighter SCF/integral thresholds; tblite's default is 1.0).
        step_angstrom: finite-difference step in Å.
        n_workers: threads evaluating displacements concurrently (default: CPU count, at most 4).
        electronic_supercell: crystals only: evaluate in this n1×n2×n3 supercell and fold the gradient
            back (k-point sampling for small cells); (1, 1, 1) = the cell itself.
    """

    method: str = "GFN2-xTB"
    charge: int = 0
    uhf: int = 0
    accuracy: float = 0.01
    step_angstrom: float = DEFAULT_STEP_ANGSTROM
    n_workers: int = dataclasses.field(default_factory=_default_workers)
    electronic_supercell: tuple[int, int, int] = (1, 1, 1)

    has_forces = True

    def __post_init__(self):
        key = self.method.strip().lower()
        if key not in _METHODS:
            raise ConfigError(f"unknown xTB method {self.method!r}; use GFN2-xTB, GFN1-xTB or IPEA1-xTB")
        object.__setattr__(self, "method", _METHODS[key])
        reps = tuple(int(r) for r in self.electronic_supercell)
        if len(reps) != 3 or min(reps) < 1:
            raise ConfigError(f"electronic_supercell must be three integers ≥ 1, got {self.electronic_supercell}")
        object.__setattr__(self, "electronic_supercell", reps)
        require("tblite.interface", extra="xtb", what="the xtb source (GFN-xTB)")

    @property
    def level_of_theory(self) -> str:
        return self.method

    def _make_gradient_fn(self, structure: Structure):
        """positions (N, 3) Å → (energy eV, gradient (N, 3) eV/Å); thread-safe (one calculator per thread)."""
        if structure.is_crystal and self.electronic_supercell != (1, 1, 1):
            return self._folded_gradient_fn(structure)
        if structure.is_crystal:
            _warn_small_cell(structure)
        return self._cell_gradient_fn(structure)

    def _folded_gradient_fn(self, structure: Structure):
        """Energy per cell and gradient of the cell, evaluated in ``electronic_supercell`` (images move together)."""
        from hessfit.structures import supercell

        big = supercell(structure, self.electronic_supercell)
        n_img = big.n_atoms // structure.n_atoms
        shifts = (big.positions - np.tile(structure.positions, (n_img, 1))).reshape(n_img, structure.n_atoms, 3)
        inner = self._cell_gradient_fn(big)

        def fn(positions):
            energy, grad = inner((shifts + np.asarray(positions, float)[None]).reshape(-1, 3))
            return energy / n_img, grad.reshape(n_img, structure.n_atoms, 3).mean(0)  # d(E/n_img)/dx_i

        return fn

    def _cell_gradient_fn(self, structure: Structure):
        from tblite.interface import Calculator

        local = threading.local()

        def fn(positions):
            pos_bohr = np.asarray(positions, float) / BOHR_A
            try:
                if not hasattr(local, "calc"):
                    periodic = {}
                    if structure.is_crystal:  # periodic boundary conditions (tblite: Γ-point lattice sums)
                        periodic = dict(lattice=np.asarray(structure.cell, float) / BOHR_A,
                                        periodic=np.asarray(structure.pbc, bool))
                    local.calc = Calculator(self.method, structure.numbers, pos_bohr,
                                            charge=float(self.charge), uhf=int(self.uhf), **periodic)
                    local.calc.set("verbosity", 0)
                    local.calc.set("accuracy", float(self.accuracy))
                    local.res = local.calc.singlepoint()
                else:
                    local.calc.update(positions=pos_bohr)
                    local.res = local.calc.singlepoint(local.res)
            except (RuntimeError, ValueError) as exc:
                raise ConvergenceError(f"{structure.name}: tblite {self.method} failed "
                                       f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                                       "check the geometry, charge and uhf") from None
            energy = float(local.res.get("energy")) * HARTREE_EV
            grad = np.asarray(local.res.get("gradient"), float).reshape(-1, 3) * (HARTREE_EV / BOHR_A)
            return energy, grad

        return fn

    def energy_forces_stress(self, structure: Structure) -> tuple[float, np.ndarray, np.ndarray]:
        """A crystal's energy per cell (eV), forces (N, 3) eV/Å and stress (3, 3) eV/Å³ = (1/V) ∂E/∂ε (tblite's
        virial; ASE's sign convention, positive = the cell wants to shrink), evaluated in ``electronic_supercell``
        (the stress of a supercell equals the cell's)."""
        from tblite.interface import Calculator

        from hessfit.structures import require_crystal, supercell

        require_crystal(structure, "a stress calculation")
        work = supercell(structure, self.electronic_supercell) if self.electronic_supercell != (1, 1, 1) else structure
        if work is structure:
            _warn_small_cell(structure)
        n_img = work.n_atoms // structure.n_atoms
        try:
            calc = Calculator(self.method, work.numbers, np.asarray(work.positions, float) / BOHR_A,
                              charge=float(self.charge) * n_img, uhf=int(self.uhf) * n_img,
                              lattice=np.asarray(work.cell, float) / BOHR_A, periodic=np.asarray(work.pbc, bool))
            calc.set("verbosity", 0)
            calc.set("accuracy", float(self.accuracy))
            res = calc.singlepoint()
        except (RuntimeError, ValueError) as exc:
            raise ConvergenceError(f"{structure.name}: tblite {self.method} failed "
                                   f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        energy = float(res.get("energy")) * HARTREE_EV / n_img
        grad = np.asarray(res.get("gradient"), float).reshape(n_img, structure.n_atoms, 3).mean(0)
        stress = np.asarray(res.get("virial"), float).reshape(3, 3) * HARTREE_EV / abs(np.linalg.det(work.cell))
        return energy, -grad * (HARTREE_EV / BOHR_A), stress

    def energy_forces(self, structure: Structure) -> tuple[float, np.ndarray]:
        energy, grad = self._make_gradient_fn(structure)(structure.positions)
        return energy, -grad

    def hessian(self, structure: Structure) -> HessianResult:
        fn = self._make_gradient_fn(structure)
        t0 = time.perf_counter()
        h = finite_difference_hessian(lambda x: fn(x)[1], structure.positions, step_angstrom=self.step_angstrom,
                                      n_workers=self.n_workers)
        return self._result(h, structure, method="finite differences of analytic gradients",
                            step_angstrom=self.step_angstrom, n_gradients=6 * structure.n_atoms,
                            backend="tblite", charge=self.charge, uhf=self.uhf,
                            wall_time_s=time.perf_counter() - t0)
