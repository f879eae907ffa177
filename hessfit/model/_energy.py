"""The NequIP energy model: species embedding → interaction layers → per-atom energies.

``EnergyModel(config).apply(params, positions, graph)`` returns per-atom energies (n_atoms_pad,) in eV,
0 on padding atoms. The Hessian is the second derivative of their sum (see `hessfit.model._hessian`).
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
from hessfit.model._layer import node_features


class EnergyModel(nn.Module):
    """NequIP energy model; per-element energy scale and shift on the readout."""

    config: ModelConfig

    @nn.compact
    def __call__(self, positions: jnp.ndarray, graph: Graph) -> jnp.ndarray:
        c = self.config
        n_species = c.n_species
        n_atoms = positions.shape[0]
        assert positions.shape == (n_atoms, 3)
        # the last layer only feeds the scalar readout: it outputs scalars only
        x = node_features(c, positions, graph, scalar_last_layer=True)
        out = e3nn.flax.Linear("1x0e", name="readout")(x.filter("0e")).array[:, 0]  # [n_atoms]
        scale = self.param("energy_scale", nn.initializers.ones, (n_species,), positions.dtype)
        shift = self.param("energy_shift", nn.initializers.zeros, (n_species,), positions.dtype)
        energies = out * scale[graph.species] + shift[graph.species]
        return jnp.where(graph.node_mask, energies, 0.0)


@functools.lru_cache(maxsize=4)
def _jitted_init(config: ModelConfig):
    if config.kind == "blocks":
        from hessfit.model._blocks import BlockModel

        return jax.jit(BlockModel(config).init)
    return jax.jit(EnergyModel(config).init)


def init_params(config: ModelConfig, key: jax.Array) -> dict:
    """Initial parameters (in ``config.dtype``) of the model of ``config.kind``, from a tiny dummy graph."""
    from hessfit.model._graph import pack

    pos = np.array([[0.0, 0.0, 0.0], [1.0, 0.2, 0.1], [0.1, 1.1, -0.3]])
    batch = pack([np.zeros(3, np.int32)], [pos], cutoff_angstrom=config.cutoff_angstrom)
    # jitted: eager e3nn ops would compile one small XLA program per operation
    params = _jitted_init(config)(key, jnp.asarray(batch.positions, config.dtype), batch.graph)
    return cast_params(params, config.dtype)


def cast_params(params, dtype) -> dict:
    return jax.tree_util.tree_map(lambda p: jnp.asarray(p, dtype), params)


def make_energy_fn(config: ModelConfig):
    """Return ``energy(params, positions, graph) -> scalar``: the summed energy (eV) of all molecules."""
    model = EnergyModel(config)

    def energy(params, positions, graph):
        return jnp.sum(model.apply(params, positions, graph))

    return energy
