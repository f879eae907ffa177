"""Symmetric eigendecomposition with a degeneracy-safe derivative.

``jnp.linalg.eigh``'s JVP contains 1/(λ_j − λ_i), infinite for degenerate eigenvalues
(methane, benzene, SF6). Every quantity hessfit computes from the modes (spectra, A and B
tensors summed over modes) is invariant under rotations inside a degenerate eigenspace,
so the coupling between (nearly) degenerate pairs can be dropped exactly: we set
F_ij = 0 where |λ_i − λ_j| ≤ tol. The eigenvalue derivatives stay exact.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def safe_eigh(a: jax.Array, rel_tol: float = 1e-9):
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix ``a``.

    ``rel_tol`` sets degeneracy: pairs with |λ_i − λ_j| ≤ rel_tol·max|λ| are not coupled in the JVP.
    """
    w, v = jnp.linalg.eigh(a)
    return w, v


@safe_eigh.defjvp
def _safe_eigh_jvp(rel_tol, primals, tangents):
    (a,), (da,) = primals, tangents
    w, v = safe_eigh(a, rel_tol)
    da = 0.5 * (da + da.T)
    vt_da_v = v.T @ da @ v
    dw = jnp.diagonal(vt_da_v)
    gap = w[None, :] - w[:, None]  # gap[i, j] = λ_j − λ_i
    tol = rel_tol * jnp.maximum(jnp.max(jnp.abs(w)), 1.0)
    degenerate = jnp.abs(gap) <= tol
    f = jnp.where(degenerate, 0.0, 1.0 / jnp.where(degenerate, 1.0, gap))
    dv = v @ (f * vt_da_v)
    return (w, v), (dw, dv)
