"""Hydrogen positions from X-ray diffraction: detect them and normalise them to neutron bond lengths.

X-ray diffraction sees the hydrogen's electron density, which sits inside the bond, so X–H bonds in X-ray crystal
structures (CIFs) are about 0.1 Å shorter than the nuclear distances (C–H 0.93–0.99 Å against 1.09 Å). A Hessian
computed there has spurious imaginary modes: the network gives n-hexane cut from its X-ray structure five modes
below −140 cm⁻¹ and none with the C–H bonds set to 1.089 Å. Crystallographers' remedy is "normalisation": each
hydrogen moves along its bond to the mean neutron-diffraction length, leaving every direction unchanged.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from hessfit.structures._hessian import HessfitWarning
from hessfit.structures._structure import Structure

#: mean X–H bond lengths from neutron diffraction, Å: the CSD's default normalisation lengths (ConQuest), from
#: Allen & Bruno, Acta Cryst. B66, 380 (2010)
NEUTRON_XH_ANGSTROM = {6: 1.089, 7: 1.015, 8: 0.993}
#: an X–H bond this much shorter than its neutron length (Å) is taken as an X-ray position (DFT and force-field
#: minima are within 0.03 Å of the lengths above)
SHORT_XH_TOLERANCE_ANGSTROM = 0.06
#: a hydrogen's parent is its nearest atom within this distance, Å
_BOND_SEARCH_ANGSTROM = 1.35
_SYMBOL = {6: "C", 7: "N", 8: "O"}


@dataclasses.dataclass(frozen=True)
class HydrogenBond:
    """One X–H bond: hydrogen index, parent index, parent → hydrogen vector (Å; minimum image in a crystal)."""

    hydrogen: int
    parent: int
    vector: np.ndarray

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.vector))


def _hydrogen_neighbours(structure: Structure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, D) for every hydrogen i and atom j within the bond search distance, D = r_j − r_i (Å): NumPy for a
    molecule (every command runs this check, and ase's neighbour list costs 0.1 s to import), ase's periodic
    neighbour list (minimum image) for a crystal."""
    if structure.cell is None:
        hydrogens = np.flatnonzero(structure.numbers == 1)
        d = structure.positions[None, :, :] - structure.positions[hydrogens][:, None, :]  # (H, N, 3)
        near = np.linalg.norm(d, axis=2) < _BOND_SEARCH_ANGSTROM
        near[np.arange(len(hydrogens)), hydrogens] = False
        a, j = np.nonzero(near)
        return hydrogens[a], j, d[a, j]
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    atoms = Atoms(numbers=structure.numbers, positions=structure.positions, cell=structure.cell, pbc=structure.pbc)
    i, j, d = neighbor_list("ijD", atoms, _BOND_SEARCH_ANGSTROM)
    keep = structure.numbers[i] == 1
    return i[keep], j[keep], d[keep]


def hydrogen_bonds(structure: Structure) -> list[HydrogenBond]:
    """Each hydrogen bonded to C, N or O: its nearest atom within 1.35 Å, if that is one of them."""
    i, j, d = _hydrogen_neighbours(structure)
    bonds = []
    for h in np.flatnonzero(structure.numbers == 1):
        mine = np.flatnonzero(i == h)
        if len(mine) == 0:
            continue
        k = mine[np.argmin(np.linalg.norm(d[mine], axis=1))]
        if int(structure.numbers[j[k]]) in NEUTRON_XH_ANGSTROM:
            bonds.append(HydrogenBond(int(h), int(j[k]), -np.asarray(d[k], float)))
    return bonds


def short_hydrogen_bonds(structure: Structure,
                         tolerance_angstrom: float = SHORT_XH_TOLERANCE_ANGSTROM) -> list[HydrogenBond]:
    """The X–H bonds shorter than their neutron length by more than ``tolerance_angstrom``."""
    return [b for b in hydrogen_bonds(structure)
            if b.length < NEUTRON_XH_ANGSTROM[int(structure.numbers[b.parent])] - tolerance_angstrom]


def normalize_hydrogens(structure: Structure) -> Structure:
    """A copy with every C–H, N–H and O–H bond set to its neutron length (`NEUTRON_XH_ANGSTROM`), each hydrogen
    moved along its bond; other atoms, the cell and the masses unchanged."""
    positions = structure.positions.copy()
    for b in hydrogen_bonds(structure):
        target = NEUTRON_XH_ANGSTROM[int(structure.numbers[b.parent])]
        positions[b.hydrogen] += b.vector * (target / b.length - 1.0)
    return dataclasses.replace(structure, positions=positions)


def hydrogen_problem(structure: Structure) -> str | None:
    """What is wrong with the hydrogens of ``structure`` (one line, naming it), or None: two or more carbons, no
    halogen and no hydrogen at all (X-ray CIFs sometimes omit them), or X-ray-like X–H bonds
    (`short_hydrogen_bonds`)."""
    n_carbon = int(np.sum(structure.numbers == 6))
    halogens = np.isin(structure.numbers, (9, 17, 35, 53))  # perhalogenated molecules have no H by nature
    if n_carbon >= 2 and not np.any(structure.numbers == 1) and not halogens.any():
        return (f"{structure.name}: {n_carbon} carbon atoms and no hydrogen: if the file omits them (some X-ray "
                "structures do), add them first; INS spectra are dominated by hydrogen motion")
    short = short_hydrogen_bonds(structure)
    if not short:
        return None
    worst = min(short, key=lambda b: b.length - NEUTRON_XH_ANGSTROM[int(structure.numbers[b.parent])])
    x = int(structure.numbers[worst.parent])
    return (f"{structure.name}: {len(short)} X–H bond(s) shorter than neutron lengths (worst {_SYMBOL[x]}–H "
            f"{worst.length:.3f} Å, expected {NEUTRON_XH_ANGSTROM[x]:.3f}): hydrogen positions look X-ray "
            "determined, which gives spurious imaginary modes; use --normalize-h, or optimise the geometry")


def warn_hydrogen_positions(structure: Structure) -> bool:
    """Warn (HessfitWarning, one line) about `hydrogen_problem`; True if it warned."""
    problem = hydrogen_problem(structure)
    if problem:
        warnings.warn(problem, HessfitWarning, stacklevel=2)
    return problem is not None
