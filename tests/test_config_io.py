"""Config files: one loader for INS settings, refine recipes and model/train configs; errors name the file."""

import json

import pytest

from hessfit.errors import ConfigError
from hessfit.ins import InsConfig
from hessfit.refine import RefineConfig


def test_ins_toml_overrides_win(tmp_path):
    p = tmp_path / "ins.toml"
    p.write_text('[ins]\ninstrument = "vision"\ntemperature_k = 20.0\n')
    c = InsConfig.from_toml(p, temperature_k=5.0, max_order=None)
    assert (c.instrument, c.temperature_k, c.max_order) == ("vision", 5.0, InsConfig().max_order)


def test_recipe_file_keys_and_overrides(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('[refine]\nparametrization = "global"\nsteps_per_stage = 7\n')
    c = RefineConfig.load(p, steps_per_stage=3)
    assert (c.parametrization, c.steps_per_stage) == ("global", 3)


@pytest.mark.parametrize("text, message", [('[refine]\nstepz = 3\n', "unknown RefineConfig fields ['stepz']"),
                                           ('[refine\nsteps = 3\n', "invalid refine recipe config")])
def test_bad_recipe_names_the_file(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        RefineConfig.load(p)
    assert str(p) in str(e.value) and message in str(e.value) and "\n" not in str(e.value)


def test_unknown_ins_key(tmp_path):
    p = tmp_path / "ins.toml"
    p.write_text("[ins]\ntemperature = 10\n")
    with pytest.raises(ConfigError, match="unknown InsConfig fields"):
        InsConfig.from_toml(p)


def test_a_training_runs_config_json_serves_as_model_and_training_config(tmp_path):
    from hessfit.model import ModelConfig
    from hessfit.train import TrainConfig

    model = ModelConfig(kind="blocks", n_layers=3)
    train = TrainConfig(max_epochs=7, soft_mode_weight=10.0)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model": model.to_dict(), "train": train.to_dict(), "dataset": "x.npz"}))
    assert ModelConfig.from_file(path) == model
    assert TrainConfig.from_file(path) == train
    flat = tmp_path / "model.json"  # a file of the model's keys alone still works
    flat.write_text(json.dumps(model.to_dict()))
    assert ModelConfig.from_file(flat) == model
