"""Ensembles: the weighted mean of member Hessians, saved and loaded as folders, with clear errors."""

import json

import numpy as np
import pytest

from hessfit.errors import ConfigError, InputFormatError
from hessfit.model import Ensemble, load_model, predict_hessian, predict_hessians, save_ensemble
from tests.helpers import assert_sum_rule
from tests.model.test_hessian import _molecule


def test_ensemble_is_the_weighted_mean_of_its_members(members):
    root, energy, blocks = members
    save_ensemble(root / "mix", ["../energy", "../blocks"], [0.3, 0.7], {"note": "test"})
    mix = load_model(root / "mix")
    assert isinstance(mix, Ensemble) and mix.weights == (0.3, 0.7) and mix.metadata == {"note": "test"}
    mol = _molecule(seed=7)  # the size of the other model tests' molecules: no new compilation
    (got,) = predict_hessians([mol], mix)
    e, b = predict_hessian(mol, energy), predict_hessian(mol, blocks)
    assert np.abs(e - b).max() > 1e-3  # the members differ, so the weights matter
    np.testing.assert_allclose(got, 0.3 * e + 0.7 * b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, got.T, atol=1e-12)
    assert_sum_rule(got, rtol=1e-9)


def test_member_refs_resolve_relative_to_the_folder_or_as_shipped_names(members, tmp_path):
    root, *_ = members
    save_ensemble(tmp_path / "mix", [str(root / "energy"), "no_such_model"], [0.5, 0.5])
    with pytest.raises(InputFormatError, match="no_such_model"):
        load_model(tmp_path / "mix")


@pytest.mark.parametrize("weights, message", [([0.6, 0.6], "sum to 1"), ([1.2, -0.2], ">= 0"),
                                              ([float("nan"), float("nan")], "finite")])
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


def test_shipped_ensembles_name_shipped_members():
    from hessfit.model import WEIGHTS_DIR, shipped_model_names

    docs = [json.loads(p.read_text()) for p in WEIGHTS_DIR.glob("*/model.json")]
    ensembles = [d for d in docs if d["format"] == "hessfit-ensemble-1"]
    assert ensembles
    for doc in ensembles:
        assert {m["model"] for m in doc["members"]} <= set(shipped_model_names())
        assert sum(m["weight"] for m in doc["members"]) == pytest.approx(1.0)


def test_domain_warnings_are_given_once_per_ensemble(members):
    import warnings

    from hessfit.structures import HessfitWarning, Structure

    root, *_ = members
    save_ensemble(root / "mix2", ["../energy", "../blocks"], [0.5, 0.5])
    mol = _molecule(seed=7)
    pos = np.array(mol.positions, float)
    pos[0] += 30.0  # an atom with no neighbour within either member's cutoff
    far = Structure.from_numbers(mol.numbers, pos, name="far")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predict_hessians([far], load_model(root / "mix2"))
    msgs = [str(w.message) for w in caught if issubclass(w.category, HessfitWarning)]
    assert len(msgs) == 1 and "no neighbour within" in msgs[0]
