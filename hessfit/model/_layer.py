"""A NequIP interaction layer on e3nn-jax: one framework-free core (`nequip_layer`), one thin flax shell.

The layer maps node features ``[n_atoms, irreps_in]`` to ``[n_atoms, hidden_irreps]``:
species-indexed self-connection, spherical harmonics of the edge vectors, Bessel radial basis times a
smooth polynomial cutoff envelope feeding a radial MLP, tensor-product convolution normalised by the
average neighbour count, gated nonlinearity. Padding edges (``edge_mask == False``) contribute exactly 0.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Callable

import e3nn_jax as e3nn
import flax.linen as nn
import jax
import jax.numpy as jnp


def radial_basis(lengths_angstrom: jnp.ndarray, *, n_basis: int, cutoff_angstrom: float) -> jnp.ndarray:
    """Bessel functions times the polynomial envelope u_6 (zero with 2 derivatives at the cutoff).

    Args:
        lengths_angstrom: (n_edges,) float, edge lengths in Å, strictly positive.
    Returns:
        (n_edges, n_basis) float; exactly 0 for lengths >= cutoff.
    """
    basis = e3nn.bessel(lengths_angstrom, n_basis, cutoff_angstrom)
    envelope = e3nn.poly_envelope(5, 2, cutoff_angstrom)(lengths_angstrom)
    return basis * envelope[:, None]


def safe_edge_vectors(vectors: jnp.ndarray, edge_mask: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Edge vectors (n_edges, 3) Å with padding edges replaced by a unit dummy vector, and their lengths (n_edges,) Å,
    so that norms and spherical harmonics stay finite (and so do their derivatives) on padding edges; callers
    multiply their messages by 0 there."""
    safe = jnp.where(edge_mask[:, None], vectors, jnp.array([1.0, 0.0, 0.0], vectors.dtype))
    return safe, jnp.sqrt(jnp.sum(safe**2, axis=-1))


_BROADCAST_SCALING = contextvars.ContextVar("broadcast_scaling", default=False)


@contextlib.contextmanager
def broadcast_scaling():
    """Trace the layers inside this context with `scale_irreps` instead of e3nn's ``x * weights`` (same values).
    On the 2-core CPU it made the Hessian-vector products of inference faster (50 atoms: 0.67 s vs 0.86 s) but
    the parameter gradients of training slower (4 probes: 89 vs 50 ms; fine-tuning's full Hessian: 1.48 vs
    1.11 s), so only the inference functions (`hessfit.model.batch_hessians`) are traced with it."""
    token = _BROADCAST_SCALING.set(True)
    try:
        yield
    finally:
        _BROADCAST_SCALING.reset(token)


def inference_traced(fn):
    """``fn`` whose model layers are traced inside `broadcast_scaling` (for jitted inference functions)."""
    @functools.wraps(fn)
    def traced(*args, **kwargs):
        with broadcast_scaling():
            return fn(*args, **kwargs)

    return traced


def scale_irreps(x: e3nn.IrrepsArray, weights: jnp.ndarray) -> e3nn.IrrepsArray:
    """Each irrep of ``x`` [..., irreps] times its own scalar weight [..., num_irreps]: the same values as
    ``x * weights`` (e3nn's elementwise tensor product with scalars), as one broadcast product per irreps chunk.
    e3nn's path contracts every irrep with a (1, 2l+1, 2l+1) Clebsch–Gordan identity; in the inference
    Hessian-vector products that was about a third of the time (see `broadcast_scaling`)."""
    assert weights.shape[-1] == x.irreps.num_irreps
    chunks, start = [], 0
    for (mul, _), chunk in zip(x.irreps, x.chunks):  # chunk: [..., mul, 2l+1] or None (known zero)
        w = weights[..., start:start + mul, None]
        chunks.append(None if chunk is None else chunk * w)
        start += mul
    return e3nn.from_chunks(x.irreps, chunks, x.shape[:-1], x.dtype)


def nequip_layer(
    Linear: Callable,
    MLP: Callable,
    *,
    vectors: jnp.ndarray,  # [n_edges, 3] Å, receiver - sender
    edge_mask: jnp.ndarray,  # [n_edges] bool
    node_feats: e3nn.IrrepsArray,  # [n_atoms, irreps_in]
    species: jnp.ndarray,  # [n_atoms] int in [0, n_species)
    senders: jnp.ndarray,  # [n_edges] int
    receivers: jnp.ndarray,  # [n_edges] int
    hidden_irreps: e3nn.Irreps,
    n_species: int,
    max_ell: int,
    n_radial_basis: int,
    radial_hidden: tuple[int, ...],
    cutoff_angstrom: float,
    avg_num_neighbors: float,
) -> e3nn.IrrepsArray:
    """The NequIP interaction (see module docstring). Returns [n_atoms, hidden_irreps]."""
    n_atoms = node_feats.shape[0]
    n_edges = vectors.shape[0]
    assert vectors.shape == (n_edges, 3)
    assert edge_mask.shape == senders.shape == receivers.shape == (n_edges,)
    assert species.shape == (n_atoms,)
    hidden_irreps = e3nn.Irreps(hidden_irreps).regroup()

    safe, lengths = safe_edge_vectors(vectors, edge_mask)  # [n_edges, 3], [n_edges]; padding messages zeroed below

    # angular part: features of the sender times spherical harmonics of the edge
    x = Linear(node_feats.irreps, name="linear_up")(node_feats)
    x_send = x[senders]  # [n_edges, irreps_in]
    sh = e3nn.spherical_harmonics(list(range(1, max_ell + 1)), e3nn.IrrepsArray("1o", safe), normalize=True,
                                normalization="component")
    target = hidden_irreps + "0e"
    messages = e3nn.concatenate(
        [x_send.filter(target), e3nn.tensor_product(x_send, sh, filter_ir_out=target)]
    ).regroup()  # [n_edges, irreps_msg]
    assert messages.shape == (n_edges, messages.irreps.dim)

    # radial part: one weight per message irrep from the radial MLP
    basis = radial_basis(lengths, n_basis=n_radial_basis, cutoff_angstrom=cutoff_angstrom)  # [n_edges, n_basis]
    mix = MLP(tuple(radial_hidden) + (messages.irreps.num_irreps,), jax.nn.silu, output_activation=False)(basis)
    mix = jnp.where(edge_mask[:, None], mix, 0.0)  # [n_edges, n_irreps_msg]
    messages = scale_irreps(messages, mix) if _BROADCAST_SCALING.get() else messages * mix

    # gate input: hidden irreps plus one extra scalar per gated (non-scalar) irrep
    irreps_out = hidden_irreps.filter(keep=messages.irreps)
    n_gates = irreps_out.filter(drop="0e + 0o").num_irreps
    gate_irreps = (irreps_out + e3nn.Irreps(f"{n_gates}x0e")).regroup() if n_gates else irreps_out

    skip = Linear(gate_irreps, num_indexed_weights=n_species, name="self_connection",
                  force_irreps_out=True)(species, node_feats)  # [n_atoms, gate_irreps]
    agg = e3nn.scatter_sum(messages, dst=receivers, output_size=n_atoms) / jnp.sqrt(avg_num_neighbors)
    agg = Linear(gate_irreps, name="linear_down", force_irreps_out=True)(agg)
    out = e3nn.gate(agg + skip, even_act=jax.nn.silu, odd_act=jnp.tanh, even_gate_act=jax.nn.silu)
    assert out.shape == (n_atoms, out.irreps.dim)
    return out


class NequIPLayer(nn.Module):
    """Flax shell around `nequip_layer`: holds the hyper-parameters, delegates the maths."""

    hidden_irreps: str
    n_species: int
    max_ell: int = 2
    n_radial_basis: int = 8
    radial_hidden: tuple[int, ...] = (64, 64)
    cutoff_angstrom: float = 5.0
    avg_num_neighbors: float = 18.0

    @nn.compact
    def __call__(self, vectors, edge_mask, node_feats, species, senders, receivers):
        return nequip_layer(
            e3nn.flax.Linear, e3nn.flax.MultiLayerPerceptron,
            vectors=vectors, edge_mask=edge_mask, node_feats=node_feats, species=species,
            senders=senders, receivers=receivers, hidden_irreps=e3nn.Irreps(self.hidden_irreps),
            n_species=self.n_species, max_ell=self.max_ell, n_radial_basis=self.n_radial_basis,
            radial_hidden=self.radial_hidden, cutoff_angstrom=self.cutoff_angstrom,
            avg_num_neighbors=self.avg_num_neighbors,
        )


def node_features(config, positions: jnp.ndarray, graph, *, scalar_last_layer: bool) -> e3nn.IrrepsArray:
    """Species embedding then ``config.n_layers`` NequIP layers: node features [n_atoms, hidden_irreps] (the last
    layer scalars only, [n_atoms, n_scalars x 0e], when ``scalar_last_layer``). Call inside a compact flax method:
    the submodules (``embedding``, ``layer_k``) become the caller's. ``config``: a ModelConfig."""
    c = config
    n_species = c.n_species
    vectors = positions[graph.receivers] - positions[graph.senders] + graph.shifts.astype(positions.dtype)  # Å
    onehot = jax.nn.one_hot(graph.species, n_species, dtype=positions.dtype)  # [n_atoms, n_species]
    x = e3nn.flax.Linear(f"{c.n_scalars}x0e", name="embedding")(e3nn.IrrepsArray(f"{n_species}x0e", onehot))
    for layer in range(c.n_layers):
        last = layer == c.n_layers - 1
        irreps = f"{c.n_scalars}x0e" if (last and scalar_last_layer) else c.hidden_irreps
        x = NequIPLayer(
            hidden_irreps=irreps, n_species=n_species, max_ell=c.max_ell, n_radial_basis=c.n_radial_basis,
            radial_hidden=c.radial_hidden, cutoff_angstrom=c.cutoff_angstrom,
            avg_num_neighbors=c.avg_num_neighbors, name=f"layer_{layer}",
        )(vectors, graph.edge_mask, x, graph.species, graph.senders, graph.receivers)
    return x
