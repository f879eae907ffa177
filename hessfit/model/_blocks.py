"""Direct Hessian model (HIP-style, arXiv 2509.21624): 3×3 Hessian blocks from equivariant edge features.

No derivatives: one forward pass gives every block. NequIP layers (the same as the energy model's) make node
features h_i; for each directed edge s→r within the cutoff a head combines h_s, h_r and the spherical harmonics
of the edge vector into irreps 0e + 1e + 2e, weighted by a radial MLP that vanishes smoothly at the cutoff,
and maps them to a 3×3 Cartesian block B_sr with the Clebsch–Gordan basis of 1o ⊗ 1o (so that
B(R·x) = R B(x) Rᵀ exactly). The Hessian is assembled as

* H_ij = B_i→j + B_j→iᵀ for i ≠ j (symmetric by construction, zero beyond the cutoff);
* H_ii = −sym(Σ_j≠i H_ij) (translational sum rule), followed by the exact projection onto translation-free
  Hessians (H ← P H P per molecule, P = I − translations), which removes the small antisymmetric residual.

So the predicted Hessian is exactly symmetric, obeys the sum rule, and is E(3)-equivariant. Units: eV/Å².
"""

from __future__ import annotations

import functools

import e3nn_jax as e3nn
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hessfit.model._config import ModelConfig
from hessfit.model._graph import Graph
from hessfit.model._layer import node_features, radial_basis, safe_edge_vectors


@functools.lru_cache(maxsize=1)
def _cartesian_basis() -> np.ndarray:
    """(9, 3, 3) float64: the irreps 0e + 1e + 2e of 1o ⊗ 1o as 3×3 matrices (orthonormal, e3nn order)."""
    q = np.asarray(e3nn.reduced_tensor_product_basis("ij", i="1o", j="1o").array, np.float64)  # (3, 3, 9)
    # polish to double precision: the library basis is orthonormal to ~1e-7; symmetric orthogonalisation
    flat = q.reshape(9, 9).T  # rows: basis matrices
    u, _, vt = np.linalg.svd(flat)
    return (u @ vt).reshape(9, 3, 3)


class BlockModel(nn.Module):
    """NequIP layers + block head. ``apply(params, positions, graph)`` -> edge blocks (n_edges_pad, 3, 3) eV/Å²
    (zero on padding edges): B_s→r, the contribution of edge s→r to the Hessian block H_sr."""

    config: ModelConfig

    @nn.compact
    def __call__(self, positions: jnp.ndarray, graph: Graph) -> jnp.ndarray:
        c = self.config
        x = node_features(c, positions, graph, scalar_last_layer=False)
        vectors = positions[graph.receivers] - positions[graph.senders] + graph.shifts.astype(positions.dtype)  # Å
        safe, lengths = safe_edge_vectors(vectors, graph.edge_mask)
        sh = e3nn.spherical_harmonics(list(range(0, c.max_ell + 1)), e3nn.IrrepsArray("1o", safe), normalize=True,
                                      normalization="component")
        pair_irreps = e3nn.Irreps(c.head_irreps)
        a = e3nn.flax.Linear(pair_irreps, name="head_sender")(x)[graph.senders]  # [n_edges, pair_irreps]
        b = e3nn.flax.Linear(pair_irreps, name="head_receiver")(x)[graph.receivers]
        out_ir = "0e + 1e + 2e"
        feats = e3nn.concatenate([
            e3nn.tensor_product(a, b, filter_ir_out=out_ir),
            e3nn.tensor_product(a + b, sh, filter_ir_out=out_ir),
            sh.filter(out_ir),
        ]).regroup()
        k = c.head_channels
        y = e3nn.flax.Linear(f"{k}x0e + {k}x1e + {k}x2e", name="head_mix")(feats)  # [n_edges, k(0e+1e+2e)]
        basis = radial_basis(lengths, n_basis=c.n_radial_basis, cutoff_angstrom=c.cutoff_angstrom)
        w = e3nn.flax.MultiLayerPerceptron(tuple(c.radial_hidden) + (3 * k,), jax.nn.silu,
                                           output_activation=False, name="head_radial")(basis)  # [n_edges, 3k]
        w = jnp.where(graph.edge_mask[:, None], w, 0.0)
        y0 = jnp.sum(y.filter("0e").array * w[:, :k], axis=1, keepdims=True)  # [n_edges, 1]
        y1 = jnp.einsum("eki,ek->ei", y.filter("1e").array.reshape(-1, k, 3), w[:, k:2 * k])
        y2 = jnp.einsum("eki,ek->ei", y.filter("2e").array.reshape(-1, k, 5), w[:, 2 * k:])
        coeffs = jnp.concatenate([y0, y1, y2], axis=1)  # [n_edges, 9], irreps 0e + 1e + 2e
        scale = self.param("block_scale", nn.initializers.ones, (), positions.dtype)
        q = jnp.asarray(_cartesian_basis(), positions.dtype)
        return scale * jnp.einsum("ek,kab->eab", coeffs, q)


def assemble_hessian(blocks: jnp.ndarray, graph: Graph, molecule: jnp.ndarray, n_molecules: int) -> jnp.ndarray:
    """Dense Hessian (3A, 3A) of all molecules in a padded graph from edge blocks (n_edges, 3, 3).

    ``molecule``: (A,) int, molecule index of each atom (padding atoms: ``n_molecules``, a dummy molecule).
    Blocks between different molecules are 0; padding rows and columns are 0.
    """
    n_atoms = graph.species.shape[0]
    s, r = graph.senders, graph.receivers
    bt = jnp.swapaxes(blocks, 1, 2)
    h = jnp.zeros((n_atoms, n_atoms, 3, 3), blocks.dtype)
    h = h.at[s, r].add(blocks).at[r, s].add(bt)  # off-diagonal H_sr = B_s→r + B_r→sᵀ
    row = jax.ops.segment_sum(blocks, s, n_atoms) + jax.ops.segment_sum(bt, r, n_atoms)  # Σ_j≠i H_ij
    sym = 0.5 * (row + jnp.swapaxes(row, 1, 2))
    h = h.at[jnp.arange(n_atoms), jnp.arange(n_atoms)].add(-sym)
    # exact translational projection per molecule: removes the antisymmetric residual of the row sums
    resid = row - sym  # (A, 3, 3): Σ_j H_ij now
    mask = graph.node_mask
    counts = jax.ops.segment_sum(mask.astype(blocks.dtype), molecule, n_molecules + 1)
    inv_n = jnp.where(mask, 1.0 / jnp.maximum(counts[molecule], 1.0), 0.0)  # (A,)
    total = jax.ops.segment_sum(resid, molecule, n_molecules + 1)[molecule]  # (A, 3, 3): Σ over the molecule
    same = (molecule[:, None] == molecule[None, :]) & mask[:, None] & mask[None, :]
    corr = (-resid[:, None] * inv_n[:, None, None, None]  # − R_i / N
            - jnp.swapaxes(resid, 1, 2)[None, :] * inv_n[None, :, None, None]  # − C_j / N, C_j = R_jᵀ
            + total[:, None] * (inv_n**2)[:, None, None, None])  # + G / N²
    h = h + jnp.where(same[:, :, None, None], corr, 0.0)
    return jnp.transpose(h, (0, 2, 1, 3)).reshape(3 * n_atoms, 3 * n_atoms)


def make_direct_hessian_fn(config: ModelConfig):
    """``hessian(params, positions, graph, molecule, n_molecules) -> (3A, 3A)`` dense Hessian, eV/Å²."""
    model = BlockModel(config)

    def hessian(params, positions, graph, molecule, n_molecules):
        return assemble_hessian(model.apply(params, positions, graph), graph, molecule, n_molecules)

    return hessian


def make_direct_columns_fn(config: ModelConfig):
    """The block model in the column layout of `hessfit.model.make_hessian_fn` (same signature and output), so that
    code written for energy-model columns (fine-tuning) runs unchanged: entry [k, a, x] = H[3a + x, column k of
    the molecule of atom a]."""
    hessian_fn = make_direct_hessian_fn(config)

    def columns(params, positions, graph, slot, column_ids, n_chunks=None):  # n_chunks: unused (one pass)
        n_atoms = positions.shape[0]
        real = graph.node_mask
        molecule = jnp.where(real, jnp.cumsum(real & (slot == 0)) - 1, n_atoms)
        h = hessian_fn(params, positions, graph, molecule, n_atoms).reshape(n_atoms, 3, n_atoms, 3)
        idx = jnp.arange(n_atoms)
        start = jax.ops.segment_min(jnp.where(real, idx, n_atoms), molecule, n_atoms + 1)[molecule]  # (A,)
        count = jax.ops.segment_sum(real.astype(jnp.int32), molecule, n_atoms + 1)[molecule]
        ks = column_ids.reshape(-1)  # (K,)
        atom = ks[:, None] // 3
        ok = (ks[:, None] >= 0) & (atom < count[None, :]) & real[None, :]  # (K, A)
        col_atom = jnp.clip(start[None, :] + atom, 0, n_atoms - 1)
        vals = h[idx[None, :], :, col_atom, jnp.clip(ks, 0)[:, None] % 3]  # (K, A, 3)
        return jnp.where(ok[:, :, None], vals, 0.0)

    return columns
