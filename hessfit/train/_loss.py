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


def _soft_mode_mse(apply_h, soft, weights):
    """The whitened probe loss, an estimate of ‖T (H_pred − H_ref) T‖²_F per element (dimensionless).

    ``apply_h(vectors (K, A, 3)) -> H_pred·vectors``; ``soft`` = (left T (3A, 3A), T·v, T·H_ref·T·v) from
    `hessfit.train._data.make_batch`; weights as `_probe_mse`.
    """
    left, tv, targets = soft
    htv = apply_h(tv)
    k = htv.shape[0]
    whitened = (htv.reshape(k, -1) @ left).reshape(htv.shape)  # T symmetric
    return _probe_mse(whitened, targets, weights)


def make_probe_loss_fn(config: ModelConfig, *, force_weight: float = 0.0, soft_mode_weight: float = 0.0):
    """``loss(params, positions, graph, probes, targets, weights, molecule=None, soft=None) -> (loss, aux)``.

    Shapes: positions (A, 3); probes, targets (K, A, 3); weights (A,). ``soft``: `Batch.soft`, needed when
    ``soft_mode_weight`` > 0. aux = {"hessian_mse", "force_mse", "soft_mode_mse"}.
    """
    grad_fn = jax.grad(make_energy_fn(config), argnums=1)

    def loss(params, positions, graph, probes, targets, weights, molecule=None, soft=None):
        grad, lin = jax.linearize(lambda r: grad_fn(params, r, graph), positions)
        hv = jax.vmap(lin)(probes)  # [K, A, 3]
        hessian_mse = _probe_mse(hv, targets, weights)
        n_mol_weight = jnp.where(graph.node_mask, 1.0, 0.0)
        force_mse = jnp.sum(n_mol_weight[:, None] * grad**2) / jnp.maximum(jnp.sum(n_mol_weight) * 3.0, 1.0)
        total = hessian_mse + force_weight * force_mse if force_weight else hessian_mse
        soft_mse = _soft_mode_mse(jax.vmap(lin), soft, weights) if soft is not None else jnp.zeros_like(total)
        if soft_mode_weight:
            total = total + soft_mode_weight * soft_mse
        return total, {"hessian_mse": hessian_mse, "force_mse": force_mse, "soft_mode_mse": soft_mse}

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


def make_block_loss_fn(config: ModelConfig, *, soft_mode_weight: float = 0.0):
    """The same probe loss for the direct block model (``config.kind == "blocks"``): H·v from the dense predicted
    Hessian. With `column_probes` it is the exact per-element MSE (and the soft-mode term its exact whitened
    form). Signature as `make_probe_loss_fn`'s loss, ``molecule`` (A,) required."""
    from hessfit.model import make_direct_hessian_fn

    hessian_fn = make_direct_hessian_fn(config)

    def loss(params, positions, graph, probes, targets, weights, molecule, soft=None):
        n_atoms = positions.shape[0]
        h = hessian_fn(params, positions, graph, molecule, n_atoms)  # (3A, 3A)

        def apply_h(vectors):
            k = vectors.shape[0]
            return (vectors.reshape(k, -1) @ h).reshape(vectors.shape)  # H symmetric

        hessian_mse = _probe_mse(apply_h(probes), targets, weights)
        soft_mse = _soft_mode_mse(apply_h, soft, weights) if soft is not None else jnp.zeros_like(hessian_mse)
        total = hessian_mse + soft_mode_weight * soft_mse if soft_mode_weight else hessian_mse
        return total, {"hessian_mse": hessian_mse, "force_mse": jnp.zeros((), hessian_mse.dtype),
                       "soft_mode_mse": soft_mse}

    return loss


def make_loss_fn(config: ModelConfig, *, force_weight: float = 0.0, soft_mode_weight: float = 0.0):
    """The training loss of the model kind: `make_probe_loss_fn` (energy) or `make_block_loss_fn` (blocks)."""
    if config.kind == "blocks":
        return make_block_loss_fn(config, soft_mode_weight=soft_mode_weight)
    return make_probe_loss_fn(config, force_weight=force_weight, soft_mode_weight=soft_mode_weight)
