"""One internal unit system for hessfit, with constants derived from CODATA (scipy.constants).

Internal units: energies and frequencies in cm⁻¹, lengths in Å, masses in amu,
momentum transfer Q in Å⁻¹, temperature in K, Hessians in eV/Å².
Conversions happen only at input/output boundaries.
"""

from __future__ import annotations

import math

from scipy import constants as _c

EV_J = _c.electron_volt
AMU_KG = _c.atomic_mass
ANGSTROM_M = _c.angstrom
C_CM_S = _c.c * 100.0  # speed of light, cm/s

#: cm⁻¹ per √(eV Å⁻² amu⁻¹): ν̃ = FREQ_FACTOR_EV_A2 · √λ for a mass-weighted eV/Å² Hessian (≈ 521.4709).
FREQ_FACTOR_EV_A2 = math.sqrt(EV_J / ANGSTROM_M**2 / AMU_KG) / (2.0 * math.pi * C_CM_S)

HARTREE_EV = _c.physical_constants["Hartree energy in eV"][0]
BOHR_A = _c.physical_constants["Bohr radius"][0] / ANGSTROM_M
KCAL_MOL_EV = 4184.0 / _c.N_A / EV_J
KJ_MOL_EV = 1000.0 / _c.N_A / EV_J
#: 1 mdyn/Å = 100 N/m, in eV/Å² (≈ 6.2415).
MDYN_A_EV_A2 = 1e-8 / ANGSTROM_M / (EV_J / ANGSTROM_M**2)

#: Hessian unit name → factor to eV/Å².
HESSIAN_UNITS = {
    "eV/A^2": 1.0,
    "hartree/bohr^2": HARTREE_EV / BOHR_A**2,
    "kcal/mol/A^2": KCAL_MOL_EV,
    "kJ/mol/A^2": KJ_MOL_EV,
    "mdyn/A": MDYN_A_EV_A2,
}
HESSIAN_UNIT_ALIASES = {
    "ev/a2": "eV/A^2", "ev/a^2": "eV/A^2", "ev/å²": "eV/A^2", "ev": "eV/A^2",
    "hartree/bohr2": "hartree/bohr^2", "hartree/bohr^2": "hartree/bohr^2", "ha/bohr2": "hartree/bohr^2",
    "au": "hartree/bohr^2", "kcal/mol/a2": "kcal/mol/A^2", "kcal/mol/a^2": "kcal/mol/A^2", "kcal": "kcal/mol/A^2",
    "kj/mol/a2": "kJ/mol/A^2", "kj/mol/a^2": "kJ/mol/A^2", "kj": "kJ/mol/A^2",
    "mdyn/a": "mdyn/A", "mdyn/å": "mdyn/A", "mdyn": "mdyn/A",
}

#: ħ/(4π c) in Å² amu cm⁻¹: zero-point amplitude ħ/(2mω) = ZPA_CONSTANT / (m[amu] ν̃[cm⁻¹]) (≈ 16.8576).
ZPA_CONSTANT = _c.hbar / (4.0 * math.pi * C_CM_S) / AMU_KG / ANGSTROM_M**2

#: hc/k_B in cm K (≈ 1.438777); the thermal argument x = hcν̃/(2k_BT) = HC_OVER_KB / 2 · ν̃/T.
HC_OVER_KB = _c.h * C_CM_S / _c.k

#: neutron k² [Å⁻²] per energy [cm⁻¹]: k² = 2 m_n E / ħ² (≈ 0.0598340).
K2_PER_CM1 = 2.0 * _c.m_n * (_c.h * C_CM_S) / _c.hbar**2 * ANGSTROM_M**2

#: cm⁻¹ per meV (≈ 8.065544).
CM1_PER_MEV = 1e-3 * EV_J / (_c.h * C_CM_S)


def normalize_hessian_unit(name: str) -> str:
    """Return the canonical Hessian unit name for ``name`` (case-insensitive aliases accepted)."""
    from hessfit.errors import ConfigError

    if name in HESSIAN_UNITS:
        return name
    key = name.strip().lower().replace(" ", "")
    if key in HESSIAN_UNIT_ALIASES:
        return HESSIAN_UNIT_ALIASES[key]
    raise ConfigError(f"unknown Hessian unit {name!r}; use one of {', '.join(HESSIAN_UNITS)}")
