"""Multi-fidelity training (`ModelConfig.n_fidelities`, `TrainConfig.extra_datasets`): a model widened to more
levels of theory starts out as its source at every level, each level has its own species tables, predictions use
level 0, and joint training fits two conflicting levels at once where one level could only average them."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.model import Model, ModelConfig, init_params, load_model, make_hvp_fn, pack, predict_hessian, save_model
from hessfit.structures import save_dataset
from hessfit.structures._dataset import from_arrays
from hessfit.train import TrainConfig, train
from hessfit.train._data import prepare
from hessfit.train._trainer import load_extra_dataset, transfer_params
from tests.train.conftest import TINY32

CFG64 = ModelConfig(**{**TINY32, "n_layers": 1, "dtype": "float64"})


def _hv(cfg, params, species, positions, probe):
    b = pack([species], [positions], cutoff_angstrom=cfg.cutoff_angstrom)
    v = np.zeros((1,) + b.positions.shape)
    v[0, : len(species)] = probe
    with jax.enable_x64(True):
        return np.asarray(make_hvp_fn(cfg)(params, b.positions, b.graph, v))[0, : len(species)]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("mf") / "source"
    with jax.enable_x64(True):
        params = init_params(CFG64, jax.random.PRNGKey(3))
    save_model(path, Model(CFG64, jax.tree_util.tree_map(np.asarray, params), {}))
    return path


def test_widened_model_is_its_source_at_every_level(tiny_dataset, source):
    cfg2 = dataclasses.replace(CFG64, n_fidelities=2)
    copied = []
    with jax.enable_x64(True):
        params = transfer_params(init_params(cfg2, jax.random.PRNGKey(0)), source, copied=copied, n_fidelities=2)
    assert {"embedding", "energy_scale", "layer_0", "readout"} <= set(copied)
    src = load_model(source)
    sp = prepare(tiny_dataset, [0], elements=CFG64.elements, cutoff_angstrom=4.0).species[0]
    pos = tiny_dataset.positions(0)
    probe = np.random.default_rng(0).normal(size=pos.shape)
    want = _hv(CFG64, src.params, sp, pos, probe)
    for level in (0, 1):
        got = _hv(cfg2, params, sp + level * len(CFG64.elements), pos, probe)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


def test_levels_have_their_own_tables_and_predictions_use_level_0(tiny_dataset, source):
    cfg2 = dataclasses.replace(CFG64, n_fidelities=2)
    with jax.enable_x64(True):
        params = transfer_params(init_params(cfg2, jax.random.PRNGKey(0)), source, n_fidelities=2)
    n_el = len(CFG64.elements)
    p = jax.tree_util.tree_map(np.array, params)
    p["params"]["energy_scale"][n_el:] *= 3.0  # level 1 only
    sp = prepare(tiny_dataset, [1], elements=CFG64.elements, cutoff_angstrom=4.0).species[0]
    pos = tiny_dataset.positions(1)
    probe = np.random.default_rng(1).normal(size=pos.shape)
    base = _hv(CFG64, load_model(source).params, sp, pos, probe)
    np.testing.assert_allclose(_hv(cfg2, p, sp + n_el, pos, probe), 3.0 * base, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(_hv(cfg2, p, sp, pos, probe), base, rtol=1e-9, atol=1e-9)
    structure = tiny_dataset.structure(1)
    h_src = np.asarray(predict_hessian(structure, load_model(source)))
    h_two = np.asarray(predict_hessian(structure, Model(cfg2, p, {})))
    np.testing.assert_allclose(h_two, h_src, rtol=1e-8, atol=1e-8 * np.abs(h_src).max())


def test_joint_training_fits_two_conflicting_levels(tiny_dataset, tiny32, tmp_path):
    """Level 1 = the same molecules with Hessians × 0.5: one set of species tables could only fit their average
    (error ≥ 0.25·H each); two levels fit both."""
    n = len(tiny_dataset)
    half = from_arrays([tiny_dataset.numbers(i) for i in range(n)], [tiny_dataset.positions(i) for i in range(n)],
                       [0.5 * tiny_dataset.hessian(i) for i in range(n)])
    save_dataset(tmp_path / "half.npz", half)
    tcfg = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=100, learning_rate=1e-2, warmup_steps=5,
                       patience_epochs=1000, max_atoms_per_batch=100, probes_per_molecule=4,
                       extra_datasets=(str(tmp_path / "half.npz"),))
    with pytest.raises(ConfigError, match="n_fidelities is 1"):
        train(tiny_dataset, tmp_path / "bad", model_config=tiny32, train_config=tcfg, progress=False)
    cfg2 = dataclasses.replace(tiny32, n_layers=1, n_fidelities=2)
    result = train(tiny_dataset, tmp_path / "joint", model_config=cfg2, train_config=tcfg, progress=False)
    last = result.history[-1]
    save_dataset(tmp_path / "half.npz", half.subset([0, 1]), overwrite=True)  # resuming on another extra set
    with pytest.raises(ConfigError, match=r"extra: \[3\]\), these have 3 \(extra: \[2\]\)"):
        train(tiny_dataset, tmp_path / "joint", model_config=cfg2, train_config=tcfg, progress=False)
    assert len(last["val_extra_hessian_mse"]) == 1
    params = result.model.params
    n_el = len(cfg2.elements)
    for i in range(n):
        sp = prepare(tiny_dataset, [i], elements=cfg2.elements, cutoff_angstrom=4.0).species[0]
        pos, h = tiny_dataset.positions(i), tiny_dataset.hessian(i).astype(float)
        probe = np.random.default_rng(i).choice([-1.0, 1.0], size=pos.shape)
        target = (h @ probe.ravel()).reshape(pos.shape)
        for level, own, other in ((0, 1.0, 0.5), (1, 0.5, 1.0)):
            got = _hv(cfg2, params, sp + level * n_el, pos, probe)
            err_own = np.linalg.norm(got - own * target) / np.linalg.norm(target)
            err_other = np.linalg.norm(got - other * target) / np.linalg.norm(target)
            # averaging the levels would leave 0.25 from both
            assert err_own < 0.15 and err_other > 0.35, (i, level, err_own, err_other)


def test_extra_dataset_entry_may_join_files_of_one_level(tiny_dataset, tmp_path):
    """An ``extra_datasets`` entry that lists files is one level of theory: the files read as one dataset, in
    order; the entry survives a JSON round trip; an empty entry is refused."""
    save_dataset(tmp_path / "a.npz", tiny_dataset.subset([0, 1]))
    save_dataset(tmp_path / "b.npz", tiny_dataset.subset([2]))
    entry = [str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]
    tcfg = TrainConfig(extra_datasets=(entry, str(tmp_path / "b.npz")))
    assert TrainConfig.from_dict(json.loads(json.dumps(tcfg.to_dict()))) == tcfg
    joined = load_extra_dataset(tcfg.extra_datasets[0])
    assert len(joined) == 3 and len(load_extra_dataset(tcfg.extra_datasets[1])) == 1
    for i in range(3):
        np.testing.assert_array_equal(joined.hessian(i), tiny_dataset.hessian(i))
        np.testing.assert_array_equal(joined.positions(i), tiny_dataset.positions(i))
    with pytest.raises(ConfigError, match="empty list"):
        TrainConfig(extra_datasets=([],))
