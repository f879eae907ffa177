"""RunFolder: settings checked on resume (nested keys, allowed changes), checkpoints round-trip atomically."""

import numpy as np
import pytest

from hessfit._run_folder import RunFolder
from hessfit.errors import ConfigError


def test_settings_changes_name_nested_keys_and_skip_allowed_ones(tmp_path):
    run = RunFolder(tmp_path / "run")
    assert run.settings_changes({"train": {"lr": 1e-3}}) == {}  # nothing saved yet
    run.write_settings({"train": {"lr": 1e-3, "max_epochs": 10}, "entries": ["a"]})
    new = {"train": {"lr": 2e-3, "max_epochs": 20}, "entries": ["a", "b"]}
    assert run.settings_changes(new) == {"train.lr": (1e-3, 2e-3), "train.max_epochs": (10, 20),
                                         "entries": (["a"], ["a", "b"])}
    assert run.settings_changes(new, may_change={"train.max_epochs", "train.lr", "entries"}) == {}
    with pytest.raises(ConfigError, match=r"train\.lr.*new --out folder"):
        run.require_same_settings(new, may_change={"train.max_epochs", "entries"})
    run.require_same_settings({"train": {"lr": 1e-3, "max_epochs": 30}, "entries": ["a"]},
                              may_change={"train.max_epochs"})


def test_checkpoint_round_trip_and_rate_limited_saves(tmp_path):
    run = RunFolder(tmp_path / "run", checkpoint_every_s=3600.0)
    state = {"params": {"w": np.arange(3.0)}, "step": 7}
    run.save(state, [{"step": 7, "loss": 0.5}])
    restored, history = RunFolder(tmp_path / "run").load({"params": {"w": np.zeros(3)}, "step": 0})
    np.testing.assert_array_equal(restored["params"]["w"], np.arange(3.0))
    assert int(restored["step"]) == 7 and history == [{"step": 7, "loss": 0.5}]
    assert not list((tmp_path / "run").glob("*.tmp*"))  # written through temporary files, then renamed
    run.maybe_save({"params": {"w": np.ones(3)}, "step": 8}, [])  # within the hour: not written
    assert int(run.load({"params": {"w": np.zeros(3)}, "step": 0})[0]["step"]) == 7
    run.checkpoint_every_s = 0.0
    run.maybe_save({"params": {"w": np.ones(3)}, "step": 8}, [])
    assert int(run.load({"params": {"w": np.zeros(3)}, "step": 0})[0]["step"]) == 8
