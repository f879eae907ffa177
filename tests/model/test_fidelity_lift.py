"""A single-level network lifted to more levels of theory predicts exactly what it did; an ensemble lifts its
members of one architecture to one number of levels (they then share one compiled program)."""

import dataclasses

import jax
import numpy as np
import pytest

from hessfit.model import Ensemble, Model, init_params, load_model, predict_hessian, save_ensemble, save_model
from hessfit.model._io import harmonise_members, with_fidelities
from tests.model.test_hessian import _molecule as _random_molecule


def _molecule():
    return _random_molecule(seed=3)


@pytest.mark.parametrize("which", ["tiny_model", "tiny_block_model"])
def test_lifted_network_predicts_the_same_hessian(which, request):
    model = request.getfixturevalue(which)
    # species-dependent tables made distinct, so a wrong lift of any of them shows
    params = jax.tree_util.tree_map_with_path(
        lambda p, x: np.asarray(x) * (1 + 0.3 * np.arange(np.shape(x)[0]).reshape(-1, *[1] * (np.ndim(x) - 1)))
        if "self_connection" in jax.tree_util.keystr(p) else x, model.params)
    model = Model(model.config, params, model.metadata)
    mol = _molecule()
    lifted = with_fidelities(model, 2)
    assert lifted.config.n_fidelities == 2 and lifted.config.n_species == 2 * model.config.n_species
    assert lifted.config == dataclasses.replace(model.config, n_fidelities=2)
    np.testing.assert_allclose(predict_hessian(mol, lifted), predict_hessian(mol, model), rtol=1e-9, atol=1e-10)
    # a randomly initialised two-level network has the lifted one's parameter shapes (it loads and runs)
    fresh = init_params(lifted.config, jax.random.PRNGKey(5))
    assert jax.tree_util.tree_structure(fresh) == jax.tree_util.tree_structure(lifted.params)
    assert all(np.shape(x) == np.shape(y) for x, y in zip(jax.tree_util.tree_leaves(fresh),
                                                           jax.tree_util.tree_leaves(lifted.params)))
    assert with_fidelities(model, 1) is model
    with pytest.raises(ValueError, match="not a multiple"):
        with_fidelities(lifted, 3)


def test_an_ensemble_harmonises_its_members(tiny_model, tiny_block_model, tmp_path):
    cfg2 = dataclasses.replace(tiny_model.config, n_fidelities=2)
    two_level = Model(cfg2, init_params(cfg2, jax.random.PRNGKey(7)), {})
    a, b, c = harmonise_members([tiny_model, two_level, tiny_block_model])
    assert a.config == two_level.config and b is two_level  # lifted to the other's levels; the other kept
    assert c is tiny_block_model  # another architecture: untouched
    for name, m in (("one", tiny_model), ("two", two_level), ("blocks", tiny_block_model)):
        save_model(tmp_path / name, m)
    save_ensemble(tmp_path / "ens", ["../one", "../two", "../blocks"], [0.3, 0.3, 0.4])
    ens = load_model(tmp_path / "ens")
    assert isinstance(ens, Ensemble) and [m.config.n_fidelities for m in ens.members] == [2, 2, 1]
    mol = _molecule()
    expect = sum(w * predict_hessian(mol, m) for w, m in zip((0.3, 0.3, 0.4), (tiny_model, two_level, tiny_block_model)))
    np.testing.assert_allclose(predict_hessian(mol, ens), expect, rtol=1e-9, atol=1e-10)
