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


def _distinct_species_tables(model):
    """Every species-indexed table (self-connections, energy scale and shift) made different per species, so a
    wrong lift of any of them shows."""
    def f(path, x):
        name = jax.tree_util.keystr(path)
        if not any(t in name for t in ("self_connection", "energy_scale", "energy_shift")):
            return x
        ramp = np.arange(np.shape(x)[0]).reshape(-1, *[1] * (np.ndim(x) - 1))
        return (np.asarray(x) * (1 + 0.3 * ramp) + (0.05 * ramp if "energy_shift" in name else 0)).astype(x.dtype)

    return Model(model.config, jax.tree_util.tree_map_with_path(f, model.params), model.metadata)


@pytest.mark.parametrize("which", ["tiny_model", "tiny_block_model"])
def test_lifted_network_predicts_the_same_hessian(which, request):
    model = _distinct_species_tables(request.getfixturevalue(which))
    mol = _molecule()
    lifted = with_fidelities(model, 2)
    assert lifted.config.n_fidelities == 2 and lifted.config.n_species == 2 * model.config.n_species
    assert lifted.config == dataclasses.replace(model.config, n_fidelities=2)
    np.testing.assert_allclose(predict_hessian(mol, lifted), predict_hessian(mol, model), rtol=1e-9, atol=1e-10)
    four = with_fidelities(lifted, 4)  # 2 -> 4 levels: the tables of both levels repeated
    np.testing.assert_allclose(predict_hessian(mol, four), predict_hessian(mol, model), rtol=1e-9, atol=1e-10)
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


def test_lifting_a_float32_network_changes_its_hessian_only_by_rounding(tiny_model):
    cfg = dataclasses.replace(tiny_model.config, dtype="float32")
    model = _distinct_species_tables(Model(cfg, jax.tree_util.tree_map(lambda x: np.asarray(x, np.float32),
                                                                       tiny_model.params), {}))
    mol = _molecule()
    ref = predict_hessian(mol, model)
    np.testing.assert_allclose(predict_hessian(mol, with_fidelities(model, 2)), ref, rtol=1e-5,
                               atol=1e-5 * np.abs(ref).max())


def test_a_network_shared_by_a_cascades_parts_stays_shared_when_lifted(tiny_model, tmp_path):
    """A single-level network in both parts of a cascade, with a two-level partner in only one part: it is lifted
    in both, to one object (predicted and compiled once)."""
    from hessfit.model import save_cascade
    from hessfit.model._cascade import network_leaves

    cfg2 = dataclasses.replace(tiny_model.config, n_fidelities=2)
    save_model(tmp_path / "one", tiny_model)
    save_model(tmp_path / "two", Model(cfg2, init_params(cfg2, jax.random.PRNGKey(8)), {}))
    save_ensemble(tmp_path / "p", ["../one", "../two"], [0.5, 0.5])
    save_ensemble(tmp_path / "f", ["../one"], [1.0])
    save_cascade(tmp_path / "c", str(tmp_path / "p"), str(tmp_path / "f"))
    casc = load_model(tmp_path / "c")
    assert {m.config.n_fidelities for m in network_leaves(casc)} == {2}
    assert casc.fallback.members[0] is casc.primary.members[0]


def test_a_member_that_cannot_be_lifted_is_kept(tiny_model):
    cfg3 = dataclasses.replace(tiny_model.config, n_fidelities=3)
    three = Model(cfg3, init_params(cfg3, jax.random.PRNGKey(9)), {})
    cfg2 = dataclasses.replace(tiny_model.config, n_fidelities=2)
    two = Model(cfg2, init_params(cfg2, jax.random.PRNGKey(10)), {})
    a, b = harmonise_members([two, three])  # 2 is not a divisor of 3: nothing shared, nothing broken
    assert a is two and b is three
    no_embedding = Model(tiny_model.config, {"params": {}}, {})
    with pytest.raises(ValueError, match="no species embedding"):
        with_fidelities(no_embedding, 2)
    assert harmonise_members([no_embedding, two])[0] is no_embedding
