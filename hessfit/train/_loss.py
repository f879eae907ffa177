"""The Hessian-vector-probe loss: training never builds a full Hessian.

For Rademacher probes v (E[v vᵀ] = I), E‖(H_pred − H_ref) v‖² = ‖H_pred − H_ref‖²_F, so
``Σ_atoms weight · ‖H_pred v − H_ref v‖²`` with weight 1/((3N)² n_mol) is an unbiased estimate of the
per-element mean squared Hessian error, averaged over the molecules of the batch. One probe costs one
forward-over-reverse HVP (plus its parameter gradient); the gradient (≙ −forces) comes for free from the
linearisation and feeds the optional force term.

The optional soft-mode term (``soft_weight``) adds one probe per molecule along its reference low-frequency
normal modes (`hessfit.train._data.SoftProbe`): an unbiased estimate of the squared error of those modes'
frequencies and couplings, in (100 cm⁻¹)². The Frobenius probes barely see these modes (their eigenvalues are
~100× smaller than typical Hessian elements), which is where most of the frequency error sits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hessfit.model._config import ModelConfig
from hessfit.model._energy import make_energy_fn


def make_probe_loss_fn(config: ModelConfig, *, force_weight: float = 0.0, soft_weight: float = 0.0):
    """``loss(params, positions, graph, probes, targets, weights, soft=None) -> (loss, aux)``.

    Shapes: positions (A, 3); probes, targets (K, A, 3); weights (A,); soft a `SoftProbe` or None.
    aux = {"hessian_mse" ((eV/Å²)²), "force_mse" ((eV/Å)²), "soft_mse" ((100 cm⁻¹)², 0 without soft)}.
    total = hessian_mse + force_weight · force_mse + soft_weight · soft_mse.
    """
    grad_fn = jax.grad(make_energy_fn(config), argnums=1)

    def loss(params, positions, graph, probes, targets, weights, soft=None):
        grad, lin = jax.linearize(lambda r: grad_fn(params, r, graph), positions)
        all_probes = probes if soft is None else jnp.concatenate([probes, soft.probe[None]], axis=0)
        hv = jax.vmap(lin)(all_probes)  # [K(+1), A, 3]
        k = probes.shape[0]
        hessian_mse = jnp.mean(jnp.sum(weights[None, :, None] * (hv[:k] - targets) ** 2, axis=(1, 2)))
        n_mol_weight = jnp.where(graph.node_mask, 1.0, 0.0)
        force_mse = jnp.sum(n_mol_weight[:, None] * grad**2) / jnp.maximum(jnp.sum(n_mol_weight) * 3.0, 1.0)
        soft_mse = jnp.zeros((), hessian_mse.dtype)
        if soft is not None:
            per_atom = jnp.einsum("iak,ia->ik", soft.projection, hv[k] - soft.target)
            g = jax.ops.segment_sum(per_atom, soft.molecule, num_segments=positions.shape[0])
            soft_mse = jnp.sum(g**2)
        total = hessian_mse
        if force_weight:
            total = total + force_weight * force_mse
        if soft_weight:
            total = total + soft_weight * soft_mse
        return total, {"hessian_mse": hessian_mse, "force_mse": force_mse, "soft_mse": soft_mse}

    return loss


def make_full_hessian_loss_fn(config: ModelConfig):
    """Reference loss on full Hessians (for the speed comparison): mean squared element error of one molecule.

    ``loss(params, positions, graph, hessian)``: positions (A, 3) holding one molecule in its first N rows,
    hessian (3N, 3N).
    """
    energy = make_energy_fn(config)

    def loss(params, positions, graph, hessian):
        n = hessian.shape[0] // 3
        def e_real(r):
            return energy(params, positions.at[:n].set(r), graph)
        h = jax.hessian(e_real)(positions[:n]).reshape(3 * n, 3 * n)
        return jnp.mean((h - hessian) ** 2)

    return loss
