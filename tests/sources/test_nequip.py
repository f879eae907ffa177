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


def test_a_crystal_is_predicted_molecule_by_molecule(monkeypatch):
    """Each molecule made whole and predicted alone, its rigid-body motion projected out, assembled
    block-diagonally (zero between molecules), with a warning that the intermolecular part is missing; a polymer
    through the boundary is refused in one line."""
    from hessfit.errors import InputFormatError
    from hessfit.modes import normal_modes, without_rigid_body_motion
    from hessfit.structures import HessfitWarning, Structure
    from tests.ins.crystal_models import dimer_crystal

    seen = []

    def fake_predict(structure, model=None):  # depends on the whole molecule's geometry
        seen.append(structure)
        x = structure.positions.ravel()
        return np.outer(x, x) + np.eye(x.size)

    fake = types.ModuleType("hessfit.model")
    fake.predict_hessian = fake_predict
    monkeypatch.setitem(sys.modules, "hessfit.model", fake)
    s, _, _ = dimer_crystal(shift_atom1=True)  # atom 1 a cell away from atom 0
    with pytest.warns(HessfitWarning, match="intramolecular force constants only"):
        h = get_source("nequip").hessian(s).hessian
    assert [m.n_atoms for m in seen] == [2, 2]
    assert np.linalg.norm(seen[0].positions[1] - seen[0].positions[0]) == pytest.approx(1.3)  # made whole
    for k, idx in enumerate(([0, 1], [2, 3])):  # each block the molecule's prediction without rigid-body motion
        cols = (3 * np.asarray(idx)[:, None] + np.arange(3)).ravel()
        np.testing.assert_allclose(h[np.ix_(cols, cols)], without_rigid_body_motion(
            seen[k].positions, seen[k].masses, fake_predict(seen[k])), atol=1e-12)
        assert np.abs(fake_predict(seen[k]) - h[np.ix_(cols, cols)]).max() > 0.5  # the projection removed something
    assert not h[:6, 6:].any() and not h[6:, :6].any()
    # the fake network's curvature along each molecule's rotations and translations is gone: besides the 3 acoustic
    # modes the crystal has 2 × 5 − 3 zero modes (linear molecules), and each molecule's stretch as predicted
    f = np.sort(np.abs(np.asarray(normal_modes(s, h).frequencies_cm1)))
    assert np.all(f[:7] < 1e-3) and np.all(f[7:] > 1.0), f
    # with a crystal Hessian for the intermolecular part: added, and no warning
    import warnings

    from hessfit.structures import split_intermolecular

    _, h_intra, h_inter = dimer_crystal(0.3, shift_atom1=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HessfitWarning)
        h2 = get_source("nequip", intermolecular=h_intra + h_inter).hessian(s).hessian
    np.testing.assert_allclose(h2, h + split_intermolecular(s, h_intra + h_inter)[1], atol=1e-12)
    with pytest.raises(ConfigError, match="intermolecular Hessian has shape"):
        get_source("nequip", intermolecular=np.eye(3)).hessian(s)
    chain = Structure(np.full(2, 6), np.array([[0, 0, 0], [1.4, 0, 0]]), np.full(2, 12.011), name="chain",
                      cell=np.diag([2.8, 6.0, 6.0]))
    with pytest.raises(InputFormatError, match="extend through the periodic boundaries"):
        get_source("nequip").hessian(chain)
