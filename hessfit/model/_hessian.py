"""Hessians of the energy model: forward-over-reverse Hessian-vector products.

``make_hvp_fn(config)`` gives ``hvp(params, positions, graph, tangents) -> H·tangents``; tangents may be
batched (K, n_atoms_pad, 3). ``make_hessian_fn(config)`` gives the columns of the Hessians of all molecules
packed in a graph at once: since molecules in one graph do not interact, the tangent that displaces
atom slot ``k // 3`` along ``k % 3`` in *every* molecule returns column ``k`` of every molecule's Hessian.
The gradient is linearised once; tangents are pushed through in small vmapped chunks (`lax.map`, or at
inference a loop that stops after the last real column) so that memory stays bounded. Shapes are static per
(atom bucket, edge bucket, slot bucket): no recompilation for a new molecule inside a bucket.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from hessfit.model._config import ModelConfig
from hessfit.model._graph import PackedBatch, bucket_atoms, molecule_index
from hessfit.model._trace_cache import call_traced

# make_energy_fn, inference_traced and the block model (e3nn-jax, flax) are imported inside the factories:
# a call that finds its program in the trace cache never imports them.


def make_hvp_fn(config: ModelConfig):
    """``hvp(params, positions, graph, tangents)``: tangents (n_atoms_pad, 3) or (K, n_atoms_pad, 3)."""
    from hessfit.model._energy import make_energy_fn

    grad_fn = jax.grad(make_energy_fn(config), argnums=1)

    def hvp(params, positions, graph, tangents):
        _, lin = jax.linearize(lambda r: grad_fn(params, r, graph), positions)
        if tangents.ndim == 2:
            return lin(tangents)
        return jax.vmap(lin)(tangents)

    return hvp


def make_hessian_fn(config: ModelConfig):
    """``columns(params, positions, graph, slot, column_ids, n_chunks=None) -> (n_chunks_max*chunk, n_atoms_pad, 3)``.

    ``column_ids``: (n_chunks_max, chunk) int; entry k displaces atom slot k // 3 along axis k % 3 in every
    molecule (k = -1: padding column, returns 0). ``slot``: (n_atoms_pad,) index of each atom in its molecule.
    ``n_chunks`` (a traced int, inference only): compute only the first ``n_chunks`` chunks (the rest stay 0) in a
    loop whose trip count is a run-time value, so the padding columns of a size bucket cost nothing and nothing
    recompiles; ``None`` maps over all chunks (differentiable in ``params``, for fine-tuning).
    A direct block model (``config.kind == "blocks"``) gives the same columns from its one forward pass.
    """
    if config.kind == "blocks":
        from hessfit.model._blocks import make_direct_columns_fn

        return make_direct_columns_fn(config)
    from hessfit.model._energy import make_energy_fn

    grad_fn = jax.grad(make_energy_fn(config), argnums=1)

    def columns(params, positions, graph, slot, column_ids, n_chunks=None):
        _, lin = jax.linearize(lambda r: grad_fn(params, r, graph), positions)
        axis = jnp.arange(3)

        def tangent(k):  # [n_atoms_pad, 3]
            hit = (slot[:, None] == k // 3) & (axis[None, :] == k % 3) & graph.node_mask[:, None] & (k >= 0)
            return hit.astype(positions.dtype)

        def chunk(ks):  # ks: [chunk] -> [chunk, n_atoms_pad, 3]
            return jax.vmap(lambda k: lin(tangent(k)))(ks)

        if n_chunks is None:
            out = jax.lax.map(chunk, column_ids)  # [n_chunks_max, chunk, n_atoms_pad, 3]
        else:
            def body(i, acc):
                return jax.lax.dynamic_update_index_in_dim(acc, chunk(column_ids[i]), i, 0)

            out = jnp.zeros(column_ids.shape + positions.shape, positions.dtype)
            out = jax.lax.fori_loop(0, n_chunks, body, out)
        return out.reshape((-1,) + positions.shape)

    return columns


@functools.lru_cache(maxsize=16)
def _jitted_columns(config: ModelConfig):
    """The compiled column function of inference, traced with `broadcast_scaling` (fine-tuning compiles its own)."""
    from hessfit.model._layer import inference_traced

    return jax.jit(inference_traced(make_hessian_fn(config)))


@functools.lru_cache(maxsize=16)
def _jitted_direct(config: ModelConfig):
    """The compiled dense Hessian of the block model (argument 4, the padded molecule count, is static)."""
    from hessfit.model._blocks import make_direct_hessian_fn
    from hessfit.model._layer import inference_traced

    return jax.jit(inference_traced(make_direct_hessian_fn(config)), static_argnums=4)


def column_ids(max_atoms: int, *, chunk_size: int) -> np.ndarray:
    """Column indices for molecules of up to ``max_atoms`` atoms, padded to the slot bucket, in chunks."""
    n_cols = 3 * bucket_atoms(max_atoms)
    chunk_size = min(chunk_size, n_cols)
    n_chunks = -(-n_cols // chunk_size)
    ids = np.full(n_chunks * chunk_size, -1, np.int32)
    ids[: 3 * max_atoms] = np.arange(3 * max_atoms)
    return ids.reshape(n_chunks, chunk_size)


def real_chunks(ids: np.ndarray) -> int:
    """Number of leading chunks of ``column_ids`` that hold a real column (the ``n_chunks`` of inference)."""
    return int((np.asarray(ids) >= 0).any(axis=1).sum())


#: Hessian-vector products per vmapped chunk at inference. Small chunks keep the per-edge intermediates of a
#: chunk in cache: on the 2-core CPU, 50 atoms took 5.1 ms per column with 4 vs 6.7 ms with 48
#: (`benchmarks/hessian_speed.py --chunk`).
INFERENCE_CHUNK = 4


def batch_hessians(config: ModelConfig, params, batch: PackedBatch, *,
                   chunk_size: int = INFERENCE_CHUNK) -> list[np.ndarray]:
    """Full Hessians (3N, 3N) float64, eV/Å², of every molecule in a packed batch (symmetrised). Only the chunks
    holding real columns are computed. A block model takes its one dense forward pass instead of columns."""
    if config.kind == "blocks":
        return batch_hessians_direct(config, params, batch)
    ids = column_ids(batch.max_atoms, chunk_size=chunk_size)
    # no re-tracing in a fresh CLI process (trace cache)
    cols = call_traced(lambda: _jitted_columns(config), "energy_columns", config, params,
                       jnp.asarray(batch.positions, config.dtype), batch.graph, batch.slot, ids, real_chunks(ids))
    cols = np.asarray(cols, np.float64)
    out = []
    for a, b in zip(batch.atom_offsets[:-1], batch.atom_offsets[1:]):
        n3 = 3 * int(b - a)
        h = cols[:n3, a:b, :].reshape(n3, n3).T  # h[i, k] = (H e_k)_i
        out.append(0.5 * (h + h.T))
    return out


def batch_hessians_direct(config: ModelConfig, params, batch: PackedBatch) -> list[np.ndarray]:
    """Full Hessians (3N, 3N) float64, eV/Å², of every molecule in a packed batch from a block model (one forward
    pass, `hessfit.model.make_direct_hessian_fn`)."""
    n_mol_pad = max(8, 1 << (batch.n_molecules - 1).bit_length())  # bucket: no recompilation per count
    h = call_traced(lambda: _jitted_direct(config), "direct_hessian", config, params,
                    jnp.asarray(batch.positions, config.dtype), batch.graph, molecule_index(batch), n_mol_pad,
                    static_argnums=(4,))
    h = np.asarray(h, np.float64)
    out = []
    for a, b in zip(batch.atom_offsets[:-1], batch.atom_offsets[1:]):
        blk = h[3 * a:3 * b, 3 * a:3 * b]
        out.append(0.5 * (blk + blk.T))
    return out
