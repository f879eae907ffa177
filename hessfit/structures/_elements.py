"""Element data: standard atomic weights (from ase.data, IUPAC) and bound neutron cross sections.

Cross sections (barn) after V. F. Sears, Neutron News 3(3), 26-37 (1992), natural isotopic
mixtures; "D" is ²H. Columns: coherent, incoherent, total.
"""

from __future__ import annotations

import numpy as np
from ase.data import atomic_masses, atomic_numbers, chemical_symbols

from hessfit.errors import ConfigError, InputFormatError

#: mass of deuterium, amu
DEUTERIUM_MASS = 2.01410178

#: symbol → (σ_coh, σ_inc, σ_total) in barn (Sears 1992).
CROSS_SECTIONS_BARN: dict[str, tuple[float, float, float]] = {
    "H": (1.7568, 80.26, 82.02),
    "D": (5.592, 2.05, 7.64),
    "B": (3.54, 1.7, 5.24),
    "C": (5.550, 0.001, 5.551),
    "N": (11.01, 0.50, 11.51),
    "O": (4.232, 0.000, 4.232),
    "F": (4.017, 0.0008, 4.018),
    "Si": (2.1633, 0.004, 2.167),
    "P": (3.307, 0.005, 3.312),
    "S": (1.0186, 0.007, 1.026),
    "Cl": (11.5257, 5.3, 16.8),
    "Br": (5.80, 0.10, 5.90),
    "I": (3.50, 0.31, 3.81),
}
_KIND_INDEX = {"coherent": 0, "incoherent": 1, "total": 2}


def atomic_number(symbol: str, *, source: str = "input") -> int:
    """Atomic number of an element symbol (case-insensitive); 'D' and 'T' count as hydrogen."""
    sym = symbol.strip()
    sym = sym[:1].upper() + sym[1:].lower()
    if sym in ("D", "T"):
        return 1
    if sym not in atomic_numbers or sym == "X":
        raise InputFormatError(f"{source}: unknown element {symbol!r}")
    return int(atomic_numbers[sym])


def standard_mass(z: int) -> float:
    """Standard atomic weight of element ``z`` in amu (ase.data.atomic_masses, IUPAC)."""
    return float(atomic_masses[z])


def scattering_label(z: int, mass_amu: float) -> str:
    """Label for the cross-section table: hydrogen with mass ≥ 1.5 amu counts as deuterium (as in Abins)."""
    if z == 1 and mass_amu >= 1.5:
        return "D"
    return chemical_symbols[z]


def cross_sections(numbers: np.ndarray, masses_amu: np.ndarray, kind: str = "incoherent") -> np.ndarray:
    """Bound cross sections (N,) in barn for atoms with atomic numbers and masses (amu).

    ``kind`` is 'incoherent' (Abins default), 'total' (OCLIMAX) or 'coherent'.
    """
    if kind not in _KIND_INDEX:
        raise ConfigError(f"cross-section kind {kind!r} unknown; use incoherent, total or coherent")
    out = []
    for z, m in zip(numbers, masses_amu):
        label = scattering_label(int(z), float(m))
        if label not in CROSS_SECTIONS_BARN:
            raise ConfigError(
                f"no neutron cross section tabulated for element {label}; "
                f"known: {', '.join(CROSS_SECTIONS_BARN)}"
            )
        out.append(CROSS_SECTIONS_BARN[label][_KIND_INDEX[kind]])
    return np.asarray(out, dtype=float)
