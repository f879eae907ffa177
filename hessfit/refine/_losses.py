"""Differentiable spectral losses (pure JAX).

* ``soft_spearman(x, y_ranks, softness)``: Pearson correlation of soft ranks of x with the exact ranks
  of the measurement. Soft rank r_i = ½ + Σ_{j≠i} sigmoid((x_i − x_j)/τ), τ = softness × std(x): as
  softness → 0 it tends to the ordinary rank (ties aside), so 1 − soft Spearman → 1 − Spearman. We anneal
  softness geometrically (default 0.1 → 0.01): large values give smooth, long-range gradients early,
  small values make the loss match the reported (true) Spearman at the end.
* ``l2_loss``: relative residual ‖y − ŷ‖²/‖y‖² after the linear nuisance fit.
* ``wasserstein_loss``: 1-D earth mover's distance between area-normalised spectra, in cm⁻¹.
* ``peak_loss``: mean squared ((ω_mode − E_peak)/σ(E_peak)) over matched measured peaks and modes.
* ``positive_nuisance_fit``: intensity scale and background coefficients by bounded least squares
  (coefficients ≥ their lower bounds; exact, by enumerating the active sets of the few columns).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def soft_rank(x, softness):
    tau = softness * (jnp.std(x) + 1e-30)
    return _pairwise_sigmoid_sum(x, tau)


#: rows of the (n × n) pairwise matrix processed at once (keeps the working set in cache)
_ROWS = 128


def _row_blocks(fn, x, *row_arrays):
    """Apply ``fn(x_rows, *rows)`` to blocks of _ROWS entries and concatenate the (rows, ...) results."""
    n = x.shape[0]
    nb = -(-n // _ROWS)
    pad = nb * _ROWS - n
    blocks = [jnp.pad(a, (0, pad)).reshape(nb, _ROWS) for a in (x, *row_arrays)]
    out = jax.lax.map(lambda args: fn(*args), blocks)
    return jax.tree_util.tree_map(lambda o: o.reshape(nb * _ROWS, *o.shape[2:])[:n], out)


@jax.custom_vjp
def _pairwise_sigmoid_sum(x, tau):
    """r_i = Σ_{j≠i} sigmoid((x_i − x_j)/τ) (the soft rank minus ½), in row blocks, with a hand-written
    gradient: autodiff of the (n × n) pairwise matrix stores and re-reads it (~10× the forward for n ≈ 2000)."""
    return _row_blocks(lambda xr: jnp.sum(jax.nn.sigmoid((xr[:, None] - x[None, :]) / tau), axis=1), x) - 0.5


def _pss_fwd(x, tau):
    return _pairwise_sigmoid_sum(x, tau), (x, tau)


def _pss_bwd(res, g):
    # ∂r_i/∂x_k = [δ_ik Σ_j s'_ij − s'_ik]/τ and ∂r_i/∂τ = −Σ_j s'_ij d_ij/τ, with d = (x_i − x_j)/τ,
    # s' = sigmoid'(d) (even in d), so ∂L/∂x_k = Σ_j s'_kj (g_k − g_j)/τ.
    x, tau = res

    def rows(xr, gr):
        d = (xr[:, None] - x[None, :]) / tau
        s = jax.nn.sigmoid(d)
        ds = s * (1.0 - s)
        return (gr * jnp.sum(ds, axis=1) - ds @ g) / tau, -gr * jnp.sum(ds * d, axis=1) / tau

    gx, gtau_rows = _row_blocks(rows, x, g)
    return gx, jnp.sum(gtau_rows)


_pairwise_sigmoid_sum.defvjp(_pss_fwd, _pss_bwd)


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


#: most columns `positive_nuisance_fit` accepts (it enumerates all 2**k active sets)
MAX_BOUNDED_COLUMNS = 6


def _subsets(k: int) -> np.ndarray:
    return np.array([[(m >> j) & 1 for j in range(k)] for m in range(2**k)], dtype=float)


def positive_nuisance_fit(basis, y, lower, weights=None):
    """Coefficients c ≥ ``lower`` minimising ‖w(y − basis·c)‖² (basis (n, k), k ≤ 6); differentiable.

    Exact bounded least squares: with d = c − lower ≥ 0 it is a non-negative least-squares problem, solved
    on every one of the 2**k candidate supports (the unconstrained solve on the free columns, zero elsewhere);
    the feasible candidate (d ≥ 0) with the smallest residual is the NNLS optimum (convex problem, and the
    optimum is the unconstrained solution on its own support). The gradient flows through the selected solve,
    which is the exact derivative wherever the active set does not change. Units follow ``basis`` and ``y``.
    """
    k = basis.shape[1]
    if k > MAX_BOUNDED_COLUMNS:
        raise ValueError(f"positive_nuisance_fit: {k} columns (at most {MAX_BOUNDED_COLUMNS})")
    w = jnp.ones_like(y) if weights is None else weights
    lower = jnp.asarray(lower, dtype=y.dtype)
    a = basis * w[:, None]
    b = w * (y - basis @ lower)
    g = a.T @ a
    rhs = a.T @ b
    ridge = 1e-12 * (jnp.diag(g) + 1e-300)
    masks = jnp.asarray(_subsets(k))

    def candidate(m):
        mat = g * m[:, None] * m[None, :] + jnp.diag(1.0 - m) + jnp.diag(ridge * m)
        d = jnp.linalg.solve(mat, m * rhs) * m
        obj = 0.5 * d @ g @ d - rhs @ d  # ½‖a d − b‖² − ½‖b‖²
        return d, obj

    d_all, obj = jax.vmap(candidate)(masks)
    scale = jnp.max(jnp.abs(d_all), axis=1) + 1.0
    feasible = jnp.all(d_all >= -1e-9 * scale[:, None], axis=1)
    best = jnp.argmin(jnp.where(feasible, jax.lax.stop_gradient(obj), jnp.inf))
    return lower + jnp.maximum(d_all[best], 0.0)
