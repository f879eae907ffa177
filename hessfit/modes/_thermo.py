"""Harmonic-oscillator thermodynamics of the vibrations (ideal-gas molecule, vibrational part only).

For each real mode of wavenumber ν̃ (cm⁻¹) with x = hcν̃/(k_B T):

    ZPE = N_A Σ hcν̃/2                                  kJ/mol
    U   = ZPE + N_A Σ hcν̃ / (eˣ − 1)                    kJ/mol, relative to the potential minimum
    S   = R Σ [x/(eˣ − 1) − ln(1 − e⁻ˣ)]                J/(mol K)
    Cv  = R Σ x² eˣ/(eˣ − 1)²                           J/(mol K)  (→ R per mode at high T: Einstein)
    F   = U − T S = ZPE + R T Σ ln(1 − e⁻ˣ)             kJ/mol

Imaginary modes (negative ν̃ in hessfit's convention) and zero ones are left out. At T = 0: U = F = ZPE, S = Cv = 0.
Translations and rotations are not included (add the ideal-gas terms for absolute values).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import constants as _c

#: N_A·h·c per cm⁻¹, in J/mol (≈ 11.9627)
J_MOL_PER_CM1 = _c.N_A * _c.h * _c.c * 100.0
#: second radiation constant h·c/k_B, in cm K (≈ 1.438777)
HC_OVER_K_CM_K = _c.h * _c.c * 100.0 / _c.k
#: molar gas constant, J/(mol K)
R_J_MOL_K = _c.R
#: temperatures of ``hessfit modes --thermo``, K
THERMO_TEMPERATURES_K = (10.0, 50.0, 100.0, 200.0, 298.15, 500.0, 1000.0)


@dataclasses.dataclass(frozen=True)
class VibrationalThermo:
    """Harmonic vibrational thermodynamics at one temperature (molar quantities).

    Attributes:
        temperature_k: K.
        zpe_kj_mol: zero-point energy, kJ/mol.
        u_kj_mol: internal energy including the ZPE, kJ/mol (relative to the potential minimum).
        s_j_mol_k: entropy, J/(mol K).
        cv_j_mol_k: heat capacity at constant volume, J/(mol K).
        f_kj_mol: Helmholtz free energy U − TS, kJ/mol.
        n_modes: real modes included; n_imaginary: modes with ν̃ ≤ 0 left out.
    """

    temperature_k: float
    zpe_kj_mol: float
    u_kj_mol: float
    s_j_mol_k: float
    cv_j_mol_k: float
    f_kj_mol: float
    n_modes: int
    n_imaginary: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _frequencies(modes_or_frequencies) -> np.ndarray:
    f = getattr(modes_or_frequencies, "frequencies_cm1", modes_or_frequencies)
    return np.atleast_1d(np.asarray(f, dtype=float))


def vibrational_thermo(modes_or_frequencies, temperature_k: float) -> VibrationalThermo:
    """Harmonic vibrational ZPE, U, S, Cv, F at ``temperature_k`` (K ≥ 0) from a `Modes` or wavenumbers in cm⁻¹."""
    f = _frequencies(modes_or_frequencies)
    t = float(temperature_k)
    if not np.isfinite(t) or t < 0:
        from hessfit.errors import ConfigError

        raise ConfigError(f"temperature {temperature_k!r} K: must be finite and ≥ 0")
    real = f[f > 0]
    zpe = 0.5 * J_MOL_PER_CM1 * real.sum()
    if t == 0.0 or real.size == 0:
        u_th = s = cv = 0.0
        f_th = 0.0
    else:
        x = HC_OVER_K_CM_K * real / t
        q = np.exp(-x)                       # e⁻ˣ, no overflow for large x
        one_minus_q = -np.expm1(-x)          # 1 − e⁻ˣ, accurate for small x
        n_bose = q / one_minus_q             # 1/(eˣ − 1)
        u_th = J_MOL_PER_CM1 * float(np.sum(real * n_bose))
        s = R_J_MOL_K * float(np.sum(x * n_bose - np.log(one_minus_q)))
        cv = R_J_MOL_K * float(np.sum(x**2 * q / one_minus_q**2))
        f_th = R_J_MOL_K * t * float(np.sum(np.log(one_minus_q)))
    return VibrationalThermo(temperature_k=t, zpe_kj_mol=zpe / 1000.0, u_kj_mol=(zpe + u_th) / 1000.0,
                             s_j_mol_k=s, cv_j_mol_k=cv, f_kj_mol=(zpe + f_th) / 1000.0, n_modes=int(real.size),
                             n_imaginary=int(f.size - real.size))


def thermo_table(modes_or_frequencies, temperatures_k=THERMO_TEMPERATURES_K) -> list[dict]:
    """`vibrational_thermo` at each temperature (K), as dicts (keys as the `VibrationalThermo` attributes)."""
    return [vibrational_thermo(modes_or_frequencies, t).as_dict() for t in temperatures_k]
