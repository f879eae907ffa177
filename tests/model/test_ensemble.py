"""Ensembles: the weighted mean of member Hessians, saved and loaded as folders, with clear errors."""

import json

import jax
import numpy as np
import pytest

from hessfit.errors import ConfigError, InputFormatError
from hessfit.model import (Ensemble, Model, ModelConfig, init_params, load_model, predict_hessians, save_ensemble,
                           save_model)
from tests.helpers import assert_sum_rule
from tests.model.conftest import TINY
from tests.model.test_hessian import _molecule


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """A tiny energy model and a tiny block model saved under one folder, as ``energy/`` and ``blocks/``."""
    root = tmp_path_factory.mktemp("members")
    energy_cfg = ModelConfig(**TINY)
    block_cfg = ModelConfig(**{**TINY, "n_layers": 1}, kind="blocks", head_irreps="4x0e + 2x1o + 2x2e",
                            head_channels=2)
    energy = Model(energy_cfg, init_params(energy_cfg, jax.random.PRNGKey(3)), {})
    blocks = Model(block_cfg, init_params(block_cfg, jax.random.PRNGKey(4)), {})
    save_model(root / "energy", energy)
    save_model(root / "blocks", blocks)
    return root, energy, blocks


def test_ensemble_is_the_weighted_mean_of_its_members(members):
    root, energy, blocks = members
    save_ensemble(root / "mix", ["../energy", "../blocks"], [0.3, 0.7], {"note": "test"})
    mix = load_model(root / "mix")
    assert isinstance(mix, Ensemble) and mix.weights == (0.3, 0.7) and mix.metadata == {"note": "test"}
    mols = [_molecule(seed=7), _molecule(seed=8, n_heavy=3, n_h=4)]
    got = predict_hessians(mols, mix)
    h_e = predict_hessians(mols, energy)
    h_b = predict_hessians(mols, blocks)
    for g, e, b in zip(got, h_e, h_b):
        assert np.abs(e - b).max() > 1e-3  # the members differ, so the weights matter
        np.testing.assert_allclose(g, 0.3 * e + 0.7 * b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g, g.T, atol=1e-12)
        assert_sum_rule(g, rtol=1e-9)


def test_member_refs_resolve_relative_to_the_folder_or_as_shipped_names(members, tmp_path):
    root, *_ = members
    save_ensemble(tmp_path / "mix", [str(root / "energy"), "no_such_model"], [0.5, 0.5])
    with pytest.raises(InputFormatError, match="no_such_model"):
        load_model(tmp_path / "mix")


@pytest.mark.parametrize("weights, message", [([0.6, 0.6], "sum to 1"), ([1.2, -0.2], ">= 0")])
def test_bad_weights_are_one_line_errors(members, weights, message):
    root, *_ = members
    save_ensemble(root / "bad", ["../energy", "../blocks"], weights)
    with pytest.raises(InputFormatError, match=message) as err:
        load_model(root / "bad")
    assert "model.json" in str(err.value) and "\n" not in str(err.value)


def test_nested_ensembles_are_refused(members):
    root, *_ = members
    save_ensemble(root / "inner", ["../energy", "../blocks"], [0.5, 0.5])
    save_ensemble(root / "outer", ["../inner", "../energy"], [0.5, 0.5])
    with pytest.raises(InputFormatError, match="itself an ensemble"):
        load_model(root / "outer")


def test_finetuning_an_ensemble_is_a_clear_error(members, tmp_path):
    from hessfit.finetune._finetune import finetune_from_toml

    root, *_ = members
    save_ensemble(root / "mix2", ["../energy", "../blocks"], [0.5, 0.5])
    spectra = tmp_path / "set.toml"
    spectra.write_text("")
    with pytest.raises(ConfigError, match="an ensemble cannot be fine-tuned; fine-tune one network"):
        finetune_from_toml(spectra, tmp_path / "out", model_path=root / "mix2")


def test_shipped_ensemble_names_shipped_members():
    from hessfit.model import ENSEMBLE_WEIGHTS, shipped_model_names

    if not (ENSEMBLE_WEIGHTS / "model.json").exists():
        pytest.skip("no shipped ensemble")
    doc = json.loads((ENSEMBLE_WEIGHTS / "model.json").read_text())
    assert {m["model"] for m in doc["members"]} <= set(shipped_model_names())
    assert sum(m["weight"] for m in doc["members"]) == pytest.approx(1.0)
    assert load_model(None).weights == tuple(m["weight"] for m in doc["members"])  # the default model
