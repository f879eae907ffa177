"""MMFF94 / MMFF94s through RDKit (optional extra ``mmff``): the classical force-field baseline.

Bonds and bond orders are perceived from the xyz coordinates (RDKit ``DetermineBonds``,
connect-the-dots on covalent radii, then bond-order assignment for the given charge); a failure
raises ValidationError naming the molecule. RDKit gives analytic MMFF gradients but no Hessian, so
the Hessian is central finite differences of the gradients (step 0.005 Å), symmetrised.
RDKit's ``CalcGrad(pos)`` reuses state from the last ``CalcEnergy`` call, so each displacement
calls ``CalcEnergy(pos)`` first (without it the finite-difference Hessian is wrong).
Units: RDKit works in kcal/mol and Å.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from hessfit.errors import ConfigError, ValidationError
from hessfit.sources._base import HessianResult, HessianSource, refuse_crystal, register_source, require
from hessfit.sources._fd import DEFAULT_STEP_ANGSTROM, finite_difference_hessian
from hessfit.structures import Structure
from hessfit.units import KCAL_MOL_EV


def rdkit_mol_from_structure(structure: Structure, *, charge: int = 0):
    """An RDKit molecule with one conformer and bonds perceived from the coordinates (ValidationError on failure)."""
    require("rdkit", extra="mmff", what="bond perception for MMFF")
    from rdkit import Chem
    from rdkit.Chem import rdDetermineBonds

    lines = [str(structure.n_atoms), structure.name]
    for z, (x, y, zc) in zip(structure.numbers, structure.positions):
        lines.append(f"{Chem.GetPeriodicTable().GetElementSymbol(int(z))} {x:.10f} {y:.10f} {zc:.10f}")
    mol = Chem.MolFromXYZBlock("\n".join(lines) + "\n")
    if mol is None:
        raise ValidationError(f"{structure.name}: RDKit could not read the coordinates")
    try:
        rdDetermineBonds.DetermineBonds(mol, charge=int(charge), embedChiral=False)
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises ValueError / RuntimeError / its own types
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationError(f"{structure.name}: RDKit bond perception failed ({msg}); check the geometry "
                              "(is it a reasonable 3D structure in Å?) and the total charge (--charge)") from None
    return mol


def mmff_force_field(mol, *, variant: str = "MMFF94", name: str = "molecule"):
    """RDKit MMFF force field of a molecule with a conformer (ValidationError when atom types are missing)."""
    from rdkit.Chem import AllChem

    props = AllChem.MMFFGetMoleculeProperties(mol, mmffVariant=variant)
    if props is None:
        raise ValidationError(f"{name}: MMFF has no parameters for some atoms of this molecule "
                              "(unusual element, valence or charge); use --source xtb instead")
    ff = AllChem.MMFFGetMoleculeForceField(mol, props, ignoreInterfragInteractions=False)
    if ff is None:
        raise ValidationError(f"{name}: RDKit could not set up the MMFF force field")
    return ff


@register_source("mmff")
@dataclasses.dataclass(frozen=True)
class MmffSource(HessianSource):
    """MMFF94 (default) or MMFF94s via RDKit.

    Attributes:
        variant: "MMFF94" or "MMFF94s".
        charge: total charge (e), used in bond-order perception.
        step_angstrom: finite-difference step in Å.
    """

    variant: str = "MMFF94"
    charge: int = 0
    step_angstrom: float = DEFAULT_STEP_ANGSTROM

    has_forces = True

    def __post_init__(self):
        variants = {"mmff94": "MMFF94", "mmff94s": "MMFF94s"}
        if self.variant.strip().lower() not in variants:
            raise ConfigError(f"unknown MMFF variant {self.variant!r}; use MMFF94 or MMFF94s")
        object.__setattr__(self, "variant", variants[self.variant.strip().lower()])
        require("rdkit.Chem.rdDetermineBonds", extra="mmff", what="the mmff source (MMFF94 via RDKit)")

    @property
    def level_of_theory(self) -> str:
        return self.variant

    def _make_energy_gradient_fn(self, structure: Structure):
        """positions (N, 3) Å → (energy eV, gradient (N, 3) eV/Å). Not thread-safe (one RDKit force field)."""
        refuse_crystal(structure, "MMFF94 (RDKit)")
        mol = rdkit_mol_from_structure(structure, charge=self.charge)
        ff = mmff_force_field(mol, variant=self.variant, name=structure.name)

        def fn(positions):
            pos = np.asarray(positions, float).reshape(-1).tolist()
            energy = ff.CalcEnergy(pos)  # must precede CalcGrad (RDKit reuses its state)
            grad = np.asarray(ff.CalcGrad(pos), float).reshape(-1, 3)
            return energy * KCAL_MOL_EV, grad * KCAL_MOL_EV

        return fn

    def energy_forces(self, structure: Structure) -> tuple[float, np.ndarray]:
        energy, grad = self._make_energy_gradient_fn(structure)(structure.positions)
        return energy, -grad

    def hessian(self, structure: Structure) -> HessianResult:
        t0 = time.perf_counter()
        fn = self._make_energy_gradient_fn(structure)
        h = finite_difference_hessian(lambda x: fn(x)[1], structure.positions, step_angstrom=self.step_angstrom)
        return self._result(h, structure, method="finite differences of analytic gradients",
                            step_angstrom=self.step_angstrom, n_gradients=6 * structure.n_atoms,
                            backend="rdkit", charge=self.charge, wall_time_s=time.perf_counter() - t0)
