"""Tiny float64 models for fast property tests (compile in seconds)."""

import jax
import numpy as np
import pytest

from hessfit.model import ModelConfig, init_params, save_model

TINY = dict(n_layers=2, n_scalars=8, n_vectors=4, n_tensors=4, max_ell=2, n_radial_basis=4, radial_hidden=(8,),
            cutoff_angstrom=4.0, avg_num_neighbors=10.0, dtype="float64")


@pytest.fixture(scope="session")
def tiny_config():
    return ModelConfig(**TINY)


@pytest.fixture(scope="session")
def tiny_params(tiny_config):
    params = init_params(tiny_config, jax.random.PRNGKey(1))
    # non-trivial per-element scales so species matter in the energy
    params["params"]["energy_scale"] = np.array([0.7, 1.3, 1.1, 0.9])
    return params


@pytest.fixture(scope="session")
def tiny_model(tiny_config, tiny_params):
    from hessfit.model import Model

    return Model(tiny_config, tiny_params, {"training_data": {"min_atoms": 3, "max_atoms": 30,
                                                               "min_distance_angstrom": {"1-6": 1.05}}})


@pytest.fixture(scope="session")
def tiny_block_model():
    """A tiny float64 direct block model (one layer)."""
    from hessfit.model import Model

    cfg = ModelConfig(**{**TINY, "n_layers": 1}, kind="blocks", head_irreps="4x0e + 2x1o + 2x2e", head_channels=2)
    return Model(cfg, init_params(cfg, jax.random.PRNGKey(2)), {})


@pytest.fixture(scope="module")
def members(tiny_model, tiny_block_model, tmp_path_factory):
    """The session's tiny energy and block models (their compiled code is shared with the other model tests)
    saved under one folder, as ``energy/`` and ``blocks/``."""
    root = tmp_path_factory.mktemp("members")
    save_model(root / "energy", tiny_model)
    save_model(root / "blocks", tiny_block_model)
    return root, tiny_model, tiny_block_model
