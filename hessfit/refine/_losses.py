"""Differentiable spectral losses (pure JAX).

* ``soft_spearman(x, y_ranks, softness)``: Pearson correlation of soft ranks of x with the exact ranks
  of the measurement. Soft rank r_i = ½ + Σ_{j≠i} sigmoid((x_i − x_j)/τ), τ = softness × std(x): as
  softness → 0 it tends to the ordinary rank (ties aside), so 1 − soft Spearman → 1 − Spearman. We anneal
  softness geometrically (default 0.1 → 0.01): large values give smooth, long-range gradients early,
  small values make the loss match the reported (true) Spearman at the end.
* ``l2_loss``: relative residual ‖y − ŷ‖²/‖y‖² after the linear nuisance fit.
* ``wasserstein_loss``: 1-D earth mover's distance between area-normalised spectra, in cm⁻¹.
* ``peak_loss``: mean squared ((ω_mode − E_peak)/σ(E_peak)) over matched measured peaks and modes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def soft_rank(x, softness):
    tau = softness * (jnp.std(x) + 1e-30)
    diff = (x[:, None] - x[None, :]) / tau
    return 0.5 + jnp.sum(jax.nn.sigmoid(diff), axis=1) - 0.5  # self term sigmoid(0) = ½ removed


def _pearson(a, b):
    a = a - a.mean()
    b = b - b.mean()
    return jnp.sum(a * b) / jnp.sqrt(jnp.sum(a * a) * jnp.sum(b * b) + 1e-300)


def soft_spearman(x, y_ranks, softness):
    """Soft Spearman correlation of model values x (n,) with precomputed ranks of the measurement (n,)."""
    return _pearson(soft_rank(x, softness), y_ranks)


def l2_loss(model, y):
    return jnp.sum((model - y) ** 2) / jnp.sum(y * y)


def wasserstein_loss(energy, model, y):
    """W1 distance (cm⁻¹) between area-normalised non-negative parts of two spectra on the same grid."""
    def cdf(v):
        v = jnp.maximum(v, 0.0)
        widths = jnp.gradient(energy)
        c = jnp.cumsum(v * widths)
        return c / (c[-1] + 1e-300)

    return jnp.sum(jnp.abs(cdf(model) - cdf(y)) * jnp.gradient(energy))


def peak_loss(frequencies, mode_index, peak_energy, peak_sigma, mask):
    """Mean squared normalised distance of matched modes to measured peaks over entries with mask = 1
    (arrays are padded to a fixed length so that re-matching does not trigger recompilation)."""
    d = (frequencies[mode_index] - peak_energy) / peak_sigma
    return jnp.sum(mask * d * d) / jnp.maximum(jnp.sum(mask), 1.0)


def linear_nuisance_fit(basis, y, weights=None):
    """Least-squares coefficients c minimising ‖w(y − basis·c)‖² (basis (n, k)); differentiable."""
    w = jnp.ones_like(y) if weights is None else weights
    a = basis * w[:, None]
    coef = jnp.linalg.solve(a.T @ a + 1e-12 * jnp.eye(basis.shape[1]), a.T @ (w * y))
    return coef
