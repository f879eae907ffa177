"""Indirect-geometry kinematics: Q²(ω) for fixed final energy E_f and scattering angle θ.

Q² = k_i² + k_f² − 2 k_i k_f cos θ, with k² [Å⁻²] = 0.0598343·E[cm⁻¹], E_i = E_f + ω.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from hessfit.units import K2_PER_CM1


def q2_indirect(energy_cm1, final_energy_cm1: float, angle_deg: float):
    """Q² in Å⁻² at energy transfer ``energy_cm1`` (cm⁻¹, ≥ 0) for E_f (cm⁻¹) and angle θ (degrees)."""
    ki2 = K2_PER_CM1 * (final_energy_cm1 + jnp.maximum(energy_cm1, 0.0))
    kf2 = K2_PER_CM1 * final_energy_cm1
    return ki2 + kf2 - 2.0 * jnp.sqrt(ki2 * kf2) * np.cos(np.deg2rad(angle_deg))
