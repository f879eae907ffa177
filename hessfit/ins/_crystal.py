"""Crystal INS helpers: the external-mode model for when only the molecule is known.

A crystal computed as a crystal (a periodic Hessian of a cell or supercell) needs nothing here: `simulate`
and `spectrum_fn_for` use its 3N−3 Γ modes, the Debye–Waller factors come from all of them, and the
lattice modes produce the phonon wings and the multi-phonon background through orders 2 (exact pairs) and
≥ 3 (auto-convolution). See docs/crystal.md.

**External-mode model (fallback for an isolated molecule).** In the crystal the six rigid-body motions of
the molecule become lattice modes (translational and librational) spread over a band of frequencies.
The model gives each of the six mass-weighted rigid-body vectors R_k (hessfit.modes.rigid_body_basis) a
Gaussian density of states of centre ω_c and width (standard deviation) s, sampled at ``n_samples``
Gauss–Hermite nodes ω_j = ω_c + √2 s z_j with weights w_j (Σ w_j = 1): each sample is a mode with
frequency ω_j and eigenvector √w_j R_k. The simulator then treats them like any other mode, so

* A_i gains Σ_kj w_j ħ/(2 m_i ω_j) coth(x_j) R_k,i R_k,iᵀ (the external mean-square displacement),
* order 2 contains every internal ⊗ external combination (the one-phonon wing of every peak, with its
  exact Q⁴ and polarisation factors) and the external overtones,
* orders ≥ 3 carry the multi-phonon wings and background by auto-convolution.

For one sample (s = 0) this is exactly the spectrum of the Hessian H + M^½ (Σ_k λ R_k R_kᵀ) M^½ with the
rigid-body modes at ω_c (tested). Samples below ``mode_cutoff_cm1`` are dropped like any soft mode, and samples
just above it dominate (B ∝ 1/ω, coth → 2kT/ħω), so the lowest node ω_c − √2 s z_max must stay well above the
cut-off (`lowest_node_cm1`; `hessfit.refine.fit_external_modes` requires ≥ 20 cm⁻¹). ω_c and s are differentiable arguments and can be fitted to a measured spectrum
(OCLIMAX's phonon wing, `InsConfig.wing_a_iso`, is the cruder alternative: a triangular wing of fixed
shape with an isotropic A_ext that is not derived from modes).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hessfit.ins._config import InsConfig
from hessfit.ins._simulate import make_modes_spectrum_fn
from hessfit.modes import Modes, internal_basis, modes_from_hessian, rigid_body_basis
from hessfit.structures import cross_sections


def external_modes(rigid_vectors, masses, centre_cm1, width_cm1, n_samples: int) -> Modes:
    """External pseudo-modes: (6·n_samples) modes sampling a Gaussian DOS (centre, width in cm⁻¹).

    ``rigid_vectors``: (3N, k) orthonormal mass-weighted rigid-body vectors. Differentiable in centre/width.
    """
    z, w = np.polynomial.hermite.hermgauss(int(n_samples))
    w = w / w.sum()
    freqs = centre_cm1 + jnp.sqrt(2.0) * width_cm1 * jnp.asarray(z)  # (S,)
    r = jnp.asarray(rigid_vectors).T.reshape(rigid_vectors.shape[1], -1, 3)  # (k, N, 3)
    vecs = jnp.sqrt(jnp.asarray(w))[:, None, None, None] * r[None]  # (S, k, N, 3)
    k = r.shape[0]
    return Modes(frequencies_cm1=jnp.repeat(freqs, k), vectors=vecs.reshape(-1, r.shape[1], 3),
                 masses=jnp.asarray(masses))


def concat_modes(a: Modes, b: Modes) -> Modes:
    return Modes(frequencies_cm1=jnp.concatenate([a.frequencies_cm1, b.frequencies_cm1]),
                 vectors=jnp.concatenate([a.vectors, b.vectors]), masses=a.masses)


def external_mode_spectrum_fn(structure, config: InsConfig | None = None, *, n_samples: int = 7):
    """Jitted ``fn(hessian, centre_cm1, width_cm1, resolution_scale=1.0) -> (max_order, n_bins)`` for a molecule
    with the external-mode model (module docstring). Differentiable in all four arguments. Like the other
    factories it runs at the caller's precision: call it inside ``jax.enable_x64(True)``."""
    config = config or InsConfig()
    xs = jnp.asarray(cross_sections(structure.numbers, structure.masses, config.cross_section))
    masses = jnp.asarray(structure.masses)
    basis = jnp.asarray(internal_basis(structure.positions, structure.masses))
    rigid = rigid_body_basis(structure.positions, structure.masses)
    core = make_modes_spectrum_fn(config)

    @jax.jit
    def fn(hessian, centre_cm1, width_cm1, resolution_scale=1.0):
        modes = concat_modes(modes_from_hessian(hessian, masses, basis),
                             external_modes(rigid, masses, centre_cm1, width_cm1, n_samples))
        return core(modes, xs, resolution_scale, None)

    return fn


def lowest_node_cm1(centre_cm1: float, width_cm1: float, n_samples: int) -> float:
    """Lowest sampled external frequency, cm⁻¹."""
    z = np.polynomial.hermite.hermgauss(int(n_samples))[0]
    return float(centre_cm1 + np.sqrt(2.0) * width_cm1 * z.min())
