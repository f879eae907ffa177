"""The Hessian-vector-probe loss: training never builds a full Hessian.

For Rademacher probes v (E[v vᵀ] = I), E‖(H_pred − H_ref) v‖² = ‖H_pred − H_ref‖²_F, so
``Σ_atoms weight · ‖H_pred v − H_ref v‖²`` with weight 1/((3N)² n_mol) is an unbiased estimate of the
per-element mean squared Hessian error, averaged over the molecules of the batch. One probe costs one
forward-over-reverse HVP (plus its parameter gradient); the gradient (≙ −forces) comes for free from the
linearisation and feeds the optional force term.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hessfit.model import ModelConfig, make_energy_fn


def _probe_mse(hv, targets, weights):
    """Mean over probes of Σ_atoms weight · ‖H_pred v − H_ref v‖² (hv, targets (K, A, 3); weights (A,))."""
    return jnp.mean(jnp.sum(weights[None, :, None] * (hv - targets) ** 2, axis=(1, 2)))


def make_probe_loss_fn(config: ModelConfig, *, force_weight: float = 0.0):
    """``loss(params, positions, graph, probes, targets, weights) -> (loss, aux)``.

    Shapes: positions (A, 3); probes, targets (K, A, 3); weights (A,). aux = {"hessian_mse", "force_mse"}.
    """
    grad_fn = jax.grad(make_energy_fn(config), argnums=1)

    def loss(params, positions, graph, probes, targets, weights, molecule=None):
        grad, lin = jax.linearize(lambda r: grad_fn(params, r, graph), positions)
        hv = jax.vmap(lin)(probes)  # [K, A, 3]
        hessian_mse = _probe_mse(hv, targets, weights)
        n_mol_weight = jnp.where(graph.node_mask, 1.0, 0.0)
        force_mse = jnp.sum(n_mol_weight[:, None] * grad**2) / jnp.maximum(jnp.sum(n_mol_weight) * 3.0, 1.0)
        total = hessian_mse + force_weight * force_mse if force_weight else hessian_mse
        return total, {"hessian_mse": hessian_mse, "force_mse": force_mse}

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


def make_block_loss_fn(config: ModelConfig):
    """The same probe loss for the direct block model (``config.kind == "blocks"``): H·v from the dense predicted
    Hessian. With `column_probes` it is the exact per-element MSE. Signature as `make_probe_loss_fn`'s loss,
    ``molecule`` (A,) required."""
    from hessfit.model import make_direct_hessian_fn

    hessian_fn = make_direct_hessian_fn(config)

    def loss(params, positions, graph, probes, targets, weights, molecule):
        n_atoms = positions.shape[0]
        h = hessian_fn(params, positions, graph, molecule, n_atoms)  # (3A, 3A)
        k = probes.shape[0]
        hv = (probes.reshape(k, -1) @ h).reshape(probes.shape)  # H symmetric
        hessian_mse = _probe_mse(hv, targets, weights)
        return hessian_mse, {"hessian_mse": hessian_mse, "force_mse": jnp.zeros((), hessian_mse.dtype)}

    return loss


def make_loss_fn(config: ModelConfig, *, force_weight: float = 0.0):
    """The training loss of the model kind: `make_probe_loss_fn` (energy) or `make_block_loss_fn` (blocks)."""
    if config.kind == "blocks":
        return make_block_loss_fn(config)
    return make_probe_loss_fn(config, force_weight=force_weight)
