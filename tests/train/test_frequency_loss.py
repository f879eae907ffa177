"""The frequency loss (`TrainConfig.frequency_dataset`): molecules labelled by harmonic frequencies only train a
model (block or energy) through the sorted eigenvalues of its predicted Hessian. Checked against an independent
normal-mode analysis (numpy), by finite differences, and through a training run whose recorded frequency error is
recomputed from the saved model."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.errors import InputFormatError
from hessfit.model import ModelConfig, load_model, predict_hessian
from hessfit.modes import normal_modes
from hessfit.structures import (frequency_dataset_from_arrays, load_frequency_dataset, save_dataset,
                                save_frequency_dataset)
from hessfit.train import TrainConfig, train
from hessfit.train._data import batch_shapes, make_batch, prepare_frequencies
from hessfit.train._loss import frequency_terms, slot_hessians
from hessfit.units import FREQ_FACTOR_EV_A2

FLOOR = (100.0 / FREQ_FACTOR_EV_A2) ** 2


def _frequency_set(ds, indices, scale):
    """The molecules ``indices`` of a Hessian dataset with their own frequencies × ``scale`` (per mode)."""
    freqs = [np.asarray(normal_modes(ds.structure(i), ds.hessian(i)).frequencies_cm1) * s
             for i, s in zip(indices, scale)]
    return frequency_dataset_from_arrays([ds.numbers(i) for i in indices], [ds.positions(i) for i in indices], freqs)


def _batch_hessian(ds, indices, batch):
    """The block-diagonal batch Hessian (3A, 3A) of molecules ``indices`` packed as in ``batch``."""
    a_pad = batch.positions.shape[0]
    h = np.zeros((3 * a_pad, 3 * a_pad))
    for j, i in enumerate(indices):
        rows = np.flatnonzero(np.asarray(batch.molecule) == j)
        idx = (3 * rows[:, None] + np.arange(3)).ravel()
        h[np.ix_(idx, idx)] = ds.hessian(i)
    return h


@pytest.fixture(scope="module")
def batch_case(tiny_dataset):
    rng = np.random.default_rng(0)
    indices = [0, 2]
    scale = [1.0 + 0.1 * rng.standard_normal(3 * tiny_dataset.structure(i).n_atoms - 6) for i in indices]
    fds = _frequency_set(tiny_dataset, indices, scale)
    mols = prepare_frequencies(fds, [0, 1], elements=(1, 6, 7, 8), cutoff_angstrom=4.0)
    shapes = batch_shapes(mols, 100)
    batch = make_batch(mols, [0, 1], shapes, n_probes=1, rng=rng, dtype=np.float64)
    return fds, batch, _batch_hessian(tiny_dataset, indices, batch)


def test_frequency_terms_match_an_independent_normal_mode_analysis(tiny_dataset, batch_case):
    fds, batch, h = batch_case
    assert batch.freq[0].shape[0] >= 2 and not np.any(batch.weights)  # no probe term for these molecules
    with jax.enable_x64(True):
        mse, mae = frequency_terms(slot_hessians(jnp.asarray(h), batch.freq[0]), batch.freq, FLOOR)
    want_mse, want_mae = [], []
    for j, i in enumerate([0, 2]):
        nu = np.asarray(normal_modes(tiny_dataset.structure(i), tiny_dataset.hessian(i)).frequencies_cm1)
        nu_ref = fds.frequencies(j)
        lam, lam_ref = np.sign(nu) * (nu / FREQ_FACTOR_EV_A2) ** 2, (nu_ref / FREQ_FACTOR_EV_A2) ** 2
        want_mse.append(np.mean(((np.sort(lam) - lam_ref) / (lam_ref + FLOOR)) ** 2))
        want_mae.append(np.mean(np.abs(np.sort(nu) - nu_ref)))
    np.testing.assert_allclose(float(mse), np.mean(want_mse), rtol=1e-7)
    np.testing.assert_allclose(float(mae), np.mean(want_mae), rtol=1e-6)
    assert 20.0 < float(mae) < 300.0  # the 10 % perturbation is seen


def test_frequency_terms_vanish_at_the_reference(tiny_dataset):
    fds = _frequency_set(tiny_dataset, [1], [1.0])
    mols = prepare_frequencies(fds, [0], elements=(1, 6, 7, 8), cutoff_angstrom=4.0)
    batch = make_batch(mols, [0], batch_shapes(mols, 100), n_probes=1, rng=None, dtype=np.float64,
                       probe_vectors=lambda n3: np.zeros((1, n3)))
    with jax.enable_x64(True):
        h = jnp.asarray(_batch_hessian(tiny_dataset, [1], batch))
        mse, mae = frequency_terms(slot_hessians(h, batch.freq[0]), batch.freq, FLOOR)
    assert float(mse) < 1e-12 and float(mae) < 1e-3


def test_frequency_loss_gradient_matches_finite_differences(batch_case):
    _, batch, h = batch_case
    rng = np.random.default_rng(1)
    direction = rng.standard_normal(h.shape)
    direction = 0.05 * (direction + direction.T) * (h != 0)  # inside the molecules' blocks

    with jax.enable_x64(True):
        def f(t):
            return frequency_terms(slot_hessians(jnp.asarray(h) + t * direction, batch.freq[0]), batch.freq, FLOOR)[0]

        grad = float(jax.grad(f)(0.0))
        eps = 1e-5
        fd = (float(f(eps)) - float(f(-eps))) / (2 * eps)
    assert abs(grad) > 1e-5
    np.testing.assert_allclose(grad, fd, rtol=1e-5)


@pytest.mark.parametrize("kind", ["blocks", "energy"])
def test_training_on_frequencies_records_the_saved_models_error(tiny_dataset, tiny32, tmp_path, kind):
    """Hessians of molecules 0 and 1, frequencies only of molecule 2: the frequency error of molecule 2 falls,
    and the recorded validation MAE is the saved model's, recomputed by predict_hessian + normal_modes (for the
    energy model this checks the full Hessians assembled from unit column probes, in batches of their own)."""
    save_dataset(tmp_path / "hess.npz", tiny_dataset.subset([0, 1]))
    save_frequency_dataset(tmp_path / "freq.npz", _frequency_set(tiny_dataset, [2], [1.0]))
    cfg = dataclasses.replace(tiny32, n_layers=1)
    if kind == "blocks":
        cfg = ModelConfig(**{**cfg.to_dict(), "kind": "blocks", "head_irreps": "4x0e + 2x1o + 2x2e",
                             "head_channels": 4})
    tcfg = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=40, learning_rate=1e-2, warmup_steps=5,
                       patience_epochs=1000, max_atoms_per_batch=100, frequency_dataset=str(tmp_path / "freq.npz"),
                       frequency_weight=10.0)
    from hessfit.structures import load_dataset

    result = train(load_dataset(tmp_path / "hess.npz"), tmp_path / "run", model_config=cfg, train_config=tcfg,
                   progress=False)
    first, best = result.history[0], min(result.history, key=lambda h: h["val_loss"])
    assert best["val_frequency_mae_cm1"] < 0.6 * first["val_frequency_mae_cm1"]
    model = load_model(tmp_path / "run" / "best")
    assert model.metadata["training_data"]["n_molecules"] == 3  # its domain includes the frequency molecule
    from hessfit.structures import atom_environments

    assert model.metadata["training_data"]["atom_environments"] == sorted(
        {e for i in range(3) for e in atom_environments(tiny_dataset.structure(i))})
    s = tiny_dataset.structure(2)
    nu = np.asarray(normal_modes(s, np.asarray(predict_hessian(s, model), float)).frequencies_cm1)
    ref = load_frequency_dataset(tmp_path / "freq.npz").frequencies(0)
    np.testing.assert_allclose(np.mean(np.abs(np.sort(nu) - ref)), best["val_frequency_mae_cm1"], rtol=2e-3)


def test_frequency_dataset_file_errors_name_the_file(tmp_path):
    np.savez(tmp_path / "bad.npz", natoms=np.array([4]), Z=np.ones(4, np.int8), R=np.zeros((4, 3)))
    with pytest.raises(InputFormatError, match=r"bad\.npz: missing arrays \['freqs_cm1', 'F_offsets'\]"):
        load_frequency_dataset(tmp_path / "bad.npz")
    np.savez(tmp_path / "short.npz", natoms=np.array([4]), Z=np.ones(4, np.int8), R=np.zeros((4, 3)),
             freqs_cm1=np.ones(5, np.float32), F_offsets=np.array([0, 5]))
    with pytest.raises(InputFormatError, match=r"short\.npz: F_offsets inconsistent"):
        load_frequency_dataset(tmp_path / "short.npz")
