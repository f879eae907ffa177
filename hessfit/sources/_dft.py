"""DFT (or Hartree–Fock) through PySCF (optional extra ``dft``), with analytic Hessians.

Defaults: B3LYP/6-31G*; the bundled training data use B3LYP/6-311++G(d,p) (pass
``basis="6-311++G(d,p)"``, about 3× slower for ethanol). Closed shells use restricted Kohn–Sham,
``spin > 0`` unrestricted. When gpu4pyscf is installed and CuPy sees a GPU, the mean-field object
is moved to the GPU (``mf.to_gpu()``) unless ``gpu=False``. PySCF returns the Hessian as
(N, N, 3, 3) in Hartree/Bohr²; it is reordered to (3N, 3N) and converted to eV/Å² here.
Cost on 2 CPU cores: ethanol B3LYP/6-31G* about 30 s, benzene about 200 s (docs/sources.md).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time

import numpy as np

from hessfit.errors import ConfigError, ConvergenceError
from hessfit.sources._base import HessianResult, HessianSource, refuse_crystal, register_source, require
from hessfit.structures import Structure
from hessfit.units import BOHR_A, HARTREE_EV

#: default functional and basis (level of theory "B3LYP/6-31G*")
DEFAULT_FUNCTIONAL = "B3LYP"
DEFAULT_BASIS = "6-31G*"
#: level of theory of the bundled QM9 training Hessians
TRAINING_DATA_BASIS = "6-311++G(d,p)"


def gpu_available() -> bool:
    """True when gpu4pyscf is installed and CuPy sees at least one GPU."""
    if importlib.util.find_spec("gpu4pyscf") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver / no device: CuPy raises its own runtime errors
        return False


def _to_numpy(a) -> np.ndarray:
    return np.asarray(a.get() if type(a).__module__.startswith("cupy") else a, float)


@register_source("dft")
@dataclasses.dataclass(frozen=True)
class DftSource(HessianSource):
    """Kohn–Sham DFT (or ``functional="HF"``) with PySCF; analytic Hessian.

    Attributes:
        functional: PySCF xc name (``B3LYP``, ``PBE0``, ``wB97X-D``...) or ``HF``.
        basis: basis-set name understood by PySCF (``6-31G*``, ``6-311++G(d,p)``, ``def2-SVP``...).
        charge: total charge (e).
        spin: 2S, number of unpaired electrons (0 = closed shell, restricted).
        grid_level: PySCF DFT integration grid level (0–9; PySCF's default is 3).
        conv_tol: SCF energy convergence threshold in Hartree.
        max_memory_mb: PySCF memory limit in MB.
        cartesian: Cartesian (6D/10F) instead of spherical d/f functions; Gaussian uses Cartesian d
            for Pople bases such as 6-31G*, so ``cartesian=True`` reproduces its numbers.
        gpu: use gpu4pyscf: ``None`` = automatically when available, ``True`` = require it, ``False`` = never.
    """

    functional: str = DEFAULT_FUNCTIONAL
    basis: str = DEFAULT_BASIS
    charge: int = 0
    spin: int = 0
    grid_level: int = 3
    conv_tol: float = 1e-10
    max_memory_mb: int = 4000
    cartesian: bool = False
    gpu: bool | None = None

    has_forces = True

    def __post_init__(self):
        require("pyscf", extra="dft", what="the dft source (PySCF)")
        if self.gpu and not gpu_available():
            raise ConfigError("gpu=True but gpu4pyscf is not installed or no GPU is visible; "
                              "install gpu4pyscf (pip install gpu4pyscf-cuda12x) or drop the option")

    @property
    def level_of_theory(self) -> str:
        return f"{self.functional}/{self.basis}"

    @property
    def uses_gpu(self) -> bool:
        return bool(self.gpu) if self.gpu is not None else gpu_available()

    def _mean_field(self, structure: Structure):
        from pyscf import dft, gto, scf

        refuse_crystal(structure, "the molecular DFT source (PySCF)")

        try:
            mol = gto.M(atom=[(int(z), tuple(p)) for z, p in zip(structure.numbers, structure.positions)],
                        basis=self.basis, charge=int(self.charge), spin=int(self.spin), unit="Angstrom",
                        verbose=0, max_memory=int(self.max_memory_mb), cart=bool(self.cartesian))
        except (RuntimeError, KeyError, ValueError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"{structure.name}: PySCF cannot build the molecule with basis {self.basis!r}, "
                              f"charge {self.charge}, spin {self.spin} ({msg})") from None
        if self.functional.strip().upper() == "HF":
            mf = scf.RHF(mol) if self.spin == 0 else scf.UHF(mol)
        else:
            mf = dft.RKS(mol) if self.spin == 0 else dft.UKS(mol)
            mf.xc = self.functional
            mf.grids.level = int(self.grid_level)
        mf.conv_tol = float(self.conv_tol)
        if self.uses_gpu:
            mf = mf.to_gpu()
        mf.kernel()
        if not mf.converged:
            raise ConvergenceError(f"{structure.name}: {self.level_of_theory} SCF did not converge; "
                                   "check the geometry, charge and spin")
        return mf

    def energy_forces(self, structure: Structure) -> tuple[float, np.ndarray]:
        import pyscf.grad  # noqa: F401  (registers nuc_grad_method)

        mf = self._mean_field(structure)
        grad = _to_numpy(mf.nuc_grad_method().kernel()).reshape(-1, 3)
        return float(mf.e_tot) * HARTREE_EV, -grad * (HARTREE_EV / BOHR_A)

    def hessian(self, structure: Structure) -> HessianResult:
        import pyscf.hessian  # noqa: F401  (registers mf.Hessian)

        t0 = time.perf_counter()
        mf = self._mean_field(structure)
        h4 = _to_numpy(mf.Hessian().kernel())  # (N, N, 3, 3), Hartree/Bohr²
        n = structure.n_atoms
        h = h4.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n) * (HARTREE_EV / BOHR_A**2)
        # PySCF's DFT Hessian is slightly asymmetric (grid terms, CPHF tolerance; ~1e-5 relative): symmetrise
        asym = float(np.max(np.abs(h - h.T)) / np.max(np.abs(h)))
        h = 0.5 * (h + h.T)
        return self._result(h, structure, method="analytic", asymmetry=asym,
                            backend="gpu4pyscf" if self.uses_gpu else "pyscf",
                            energy_eV=float(mf.e_tot) * HARTREE_EV, charge=self.charge, spin=self.spin,
                            grid_level=self.grid_level, wall_time_s=time.perf_counter() - t0)
