"""Training: seeded split, unbiased probe loss, a tiny run that overfits 3 molecules, resume, CLI errors."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.model import ModelConfig, init_params, pack, species_index
from hessfit.train import TrainConfig, make_probe_loss_fn, split_indices, train


def test_split_is_seeded_disjoint_and_90_5_5():
    a = split_indices(1000, seed=3)
    b = split_indices(1000, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [len(a[k]) for k in ("train", "val", "test")] == [900, 50, 50]
    assert len(np.unique(np.concatenate(list(a.values())))) == 1000
    assert not np.array_equal(split_indices(1000, seed=4)["test"], a["test"])


def test_probe_loss_is_unbiased_estimate_of_elementwise_mse(tiny_dataset):
    cfg = ModelConfig(**{**__import__("tests.train.conftest", fromlist=["TINY32"]).TINY32, "dtype": "float64"})
    params = init_params(cfg, jax.random.PRNGKey(0))
    z, r, h_ref = tiny_dataset.numbers(0), tiny_dataset.positions(0), tiny_dataset.hessian(0)
    batch = pack([species_index(z, cfg.elements)], [r], cutoff_angstrom=cfg.cutoff_angstrom)
    n, a_pad = len(z), batch.positions.shape[0]
    from hessfit.model import batch_hessians

    h_pred = batch_hessians(cfg, params, batch)[0]
    exact = np.mean((h_pred - h_ref) ** 2)
    k = 256
    v = np.random.default_rng(0).choice([-1.0, 1.0], size=(k, 3 * n))
    probes = np.zeros((k, a_pad, 3))
    targets = np.zeros((k, a_pad, 3))
    probes[:, :n] = v.reshape(k, n, 3)
    targets[:, :n] = (v @ h_ref).reshape(k, n, 3)
    weights = np.zeros(a_pad)
    weights[:n] = 1.0 / (3 * n) ** 2
    loss, aux = jax.jit(make_probe_loss_fn(cfg))(params, jnp.asarray(batch.positions), batch.graph, probes, targets, weights)
    # Rademacher estimator: relative standard error ≈ sqrt(2 / k) · (off-diagonal share) < 7 % for k = 256
    assert float(loss) == pytest.approx(exact, rel=0.15)


def test_tiny_training_run_overfits_three_molecules_and_resumes(tiny_dataset, tiny32, tmp_path):
    tcfg = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=30, learning_rate=1e-2, warmup_steps=5,
                       patience_epochs=100, max_atoms_per_batch=100, probes_per_molecule=2)
    # interrupted run (time limit hit during the first epoch) ...
    first = train(tiny_dataset, tmp_path / "run", model_config=tiny32,
                  train_config=TrainConfig(**{**tcfg.to_dict(), "time_limit_s": 1e-3}), progress=False)
    assert first.stopped == "time_limit" and first.history == []
    # ... resumed from its checkpoint (same compiled step) and run to the end
    result = train(tiny_dataset, tmp_path / "run", model_config=tiny32, train_config=tcfg, progress=False)
    hist = result.history
    assert [h["epoch"] for h in hist] == list(range(1, 31)) and hist[-1]["step"] == 30
    assert hist[-1]["val_loss"] < 0.25 * hist[0]["val_loss"], (hist[0], hist[-1])
    for name in ("split.json", "config.json", "checkpoint.msgpack", "history.json", "loss_curve.png",
                 "best/model.json", "best/params.msgpack"):
        assert (tmp_path / "run" / name).exists(), name
    assert json.loads((tmp_path / "run" / "split.json").read_text())["train"] == [0, 1, 2]
    # a different architecture in the same folder is refused
    with pytest.raises(ConfigError, match="differs from the one saved"):
        train(tiny_dataset, tmp_path / "run", model_config=ModelConfig(**{**tiny32.to_dict(), "n_scalars": 4}),
              train_config=tcfg, progress=False)


def test_block_loss_with_column_probes_is_the_exact_elementwise_mse(tiny_dataset):
    from hessfit.model import batch_hessians_direct
    from hessfit.train._data import Shapes, column_probes, make_batch, prepare
    from hessfit.train._loss import make_block_loss_fn
    from tests.train.conftest import TINY32

    cfg = ModelConfig(**{**TINY32, "dtype": "float64", "kind": "blocks", "n_layers": 1,
                         "head_irreps": "4x0e + 2x1o + 2x2e", "head_channels": 2})
    params = init_params(cfg, jax.random.PRNGKey(0))
    mols = prepare(tiny_dataset, [0, 1, 2], elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom)
    k = 3 * max(mols.n_atoms(i) for i in range(3))
    b = make_batch(mols, [0, 1, 2], Shapes(128, 2048), n_probes=k, rng=None, dtype=np.float64,
                   probe_vectors=column_probes(k))
    loss, _ = jax.jit(make_block_loss_fn(cfg))(params, b.positions, b.graph, b.probes, b.targets, b.weights,
                                               b.molecule)
    packed = pack([species_index(tiny_dataset.numbers(i), cfg.elements) for i in range(3)],
                  [tiny_dataset.positions(i) for i in range(3)], cutoff_angstrom=cfg.cutoff_angstrom)
    preds = batch_hessians_direct(cfg, params, packed)
    exact = np.mean([np.mean((p - tiny_dataset.hessian(i).astype(np.float32)) ** 2) for i, p in enumerate(preds)])
    assert float(loss) == pytest.approx(exact, rel=1e-9)


def test_block_model_trains_from_transferred_energy_layers(tiny_dataset, tiny32, tmp_path):
    from hessfit.model import Model, load_model, save_model
    from hessfit.train._trainer import transfer_params

    energy_params = init_params(tiny32, jax.random.PRNGKey(7))
    save_model(tmp_path / "energy", Model(tiny32, energy_params, {}))
    bcfg = ModelConfig(**{**tiny32.to_dict(), "kind": "blocks", "head_irreps": "4x0e + 2x1o + 2x2e",
                          "head_channels": 2})
    # the embedding and the first layer (same shapes in both model kinds) are copied; the last layer is not
    moved = transfer_params(init_params(bcfg, jax.random.PRNGKey(0)), tmp_path / "energy")["params"]
    for name in ("embedding", "layer_0"):
        for a, b in zip(jax.tree_util.tree_leaves(moved[name]), jax.tree_util.tree_leaves(energy_params["params"][name])):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    fresh = init_params(bcfg, jax.random.PRNGKey(0))["params"]["layer_1"]
    for a, b in zip(jax.tree_util.tree_leaves(moved["layer_1"]), jax.tree_util.tree_leaves(fresh)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    tcfg = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=15, learning_rate=1e-2, warmup_steps=3,
                       patience_epochs=100, max_atoms_per_batch=100, init_from=str(tmp_path / "energy"))
    result = train(tiny_dataset, tmp_path / "blocks", model_config=bcfg, train_config=tcfg, progress=False)
    hist = result.history
    assert hist[-1]["val_loss"] < 0.25 * hist[0]["val_loss"], (hist[0], hist[-1])
    assert load_model(tmp_path / "blocks" / "best").config.kind == "blocks"


def test_split_seed_keeps_one_split_for_members_of_other_seeds(tmp_path):
    """Members trained with other ``seed`` but one ``split_seed`` share train/validation/test (so stacking on one
    member's validation molecules never sees another's training molecules); without it the seed moves the split."""
    from hessfit.train._trainer import _splits

    n = 200

    def split(name, **kw):
        s, _ = _splits(tmp_path / f"{name}.json", range(n), "d.npz", [], [], TrainConfig(**kw), resume=False)
        return s

    base = split("a", seed=0)
    same = split("b", seed=1, split_seed=0)
    moved = split("c", seed=1)
    for k in ("train", "val", "test"):
        np.testing.assert_array_equal(base[k], same[k])
    assert not np.array_equal(base["test"], moved["test"])
    assert sorted(np.concatenate([same[k] for k in ("train", "val", "test")]).tolist()) == list(range(n))
    assert TrainConfig(seed=3).data_split_seed == 3 and TrainConfig(seed=3, split_seed=0).data_split_seed == 0
