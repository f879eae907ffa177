"""The nequip source delegates to hessfit.model.predict_hessian (imported when used)."""

import sys
import types

import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.sources import get_source


def test_delegates_to_the_model(monkeypatch, water):
    calls = []

    def fake_predict(structure, model=None):
        calls.append(model)
        return np.eye(3 * structure.n_atoms) * 2.0

    fake = types.ModuleType("hessfit.model")
    fake.predict_hessian = fake_predict
    fake.load_model = lambda path: f"loaded:{path}"
    monkeypatch.setitem(sys.modules, "hessfit.model", fake)
    res = get_source("nequip").hessian(water)
    np.testing.assert_array_equal(res.hessian, 2.0 * np.eye(9))
    assert res.source == "nequip" and "NequIP" in res.level_of_theory
    get_source("nequip", model="weights.npz").hessian(water)
    assert calls == [None, "loaded:weights.npz"]


def test_model_missing_is_a_config_error(monkeypatch, water):
    monkeypatch.setitem(sys.modules, "hessfit.model", None)
    with pytest.raises(ConfigError, match="the nequip source needs hessfit.model.predict_hessian"):
        get_source("nequip").hessian(water)
