"""The soft-mode (whitened) training loss: the whitening matrix against its closed form, the batched loss against
‖T (H_pred − H_ref) T‖²_F computed directly, its parameter gradient against finite differences, and fine-tuning
that starts exactly from the transferred model."""

import jax
import numpy as np
import pytest

from hessfit.model import ModelConfig, init_params, pack, species_index
from hessfit.modes import internal_basis, rigid_body_basis
from hessfit.structures import standard_mass
from hessfit.train import TrainConfig, train
from hessfit.train._data import Shapes, column_probes, make_batch, prepare, whitening_matrix
from hessfit.train._loss import make_block_loss_fn, make_probe_loss_fn
from hessfit.units import FREQ_FACTOR_EV_A2
from tests.train.conftest import TINY32, directional_derivatives

BLOCKS = dict(TINY32, dtype="float64", kind="blocks", n_layers=1, head_irreps="4x0e + 2x1o + 2x2e", head_channels=2)


def _masses(z):
    return np.array([standard_mass(int(a)) for a in z])


def test_whitening_matrix_maps_the_reference_to_its_closed_form(tiny_dataset):
    z, r, h = tiny_dataset.numbers(0), tiny_dataset.positions(0), tiny_dataset.hessian(0).astype(float)
    m = _masses(z)
    sqm = np.repeat(np.sqrt(m), 3)
    t = whitening_matrix(tiny_dataset.structure(0), h, floor_cm1=100.0)
    np.testing.assert_allclose(t, t.T, atol=1e-12)
    # rigid-body motion is annihilated: T M^1/2 b = 0 for the mass-weighted rigid-body vectors b
    rigid = rigid_body_basis(r, m)
    assert np.abs(t @ (sqm[:, None] * rigid)).max() < 1e-8 * np.abs(t).max()
    # in the internal space, M^1/2 T H T M^1/2 has the eigenvalues λ / (λ + λ0) of the reference's modes
    b = internal_basis(r, m)
    hm = h / sqm[:, None] / sqm[None, :]
    lam = np.linalg.eigvalsh(b.T @ hm @ b)
    lam0 = (100.0 / FREQ_FACTOR_EV_A2) ** 2
    x = sqm[:, None] * (t @ h @ t) * sqm[None, :]
    got = np.linalg.eigvalsh(b.T @ x @ b)
    np.testing.assert_allclose(got, np.sort(np.maximum(lam, 0) / (np.maximum(lam, 0) + lam0)), atol=1e-9)


def _direct_soft(preds, tiny_dataset, mols, members):
    return np.mean([np.sum((mols.whiteners[k] @ (p - mols.hessians[k]) @ mols.whiteners[k]) ** 2)
                    / p.shape[0] ** 2 for p, k in zip(preds, members)])


def test_block_soft_mode_loss_equals_the_whitened_frobenius_norm(tiny_dataset):
    from hessfit.model import batch_hessians_direct

    cfg = ModelConfig(**BLOCKS)
    params = init_params(cfg, jax.random.PRNGKey(0))
    mols = prepare(tiny_dataset, [0, 1, 2], elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom,
                   soft_mode_floor_cm1=80.0)
    k = 3 * max(mols.n_atoms(i) for i in range(3))
    b = make_batch(mols, [0, 1, 2], Shapes(128, 2048), n_probes=k, rng=None, dtype=np.float64,
                   probe_vectors=column_probes(k))
    loss_fn = jax.jit(make_block_loss_fn(cfg, soft_mode_weight=2.5))
    total, aux = loss_fn(params, b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule, b.soft)
    packed = pack([species_index(tiny_dataset.numbers(i), cfg.elements) for i in range(3)],
                  [tiny_dataset.positions(i) for i in range(3)], cutoff_angstrom=cfg.cutoff_angstrom)
    preds = [np.asarray(p, float) for p in batch_hessians_direct(cfg, params, packed)]
    exact = _direct_soft(preds, tiny_dataset, mols, [0, 1, 2])
    assert float(aux["soft_mode_mse"]) == pytest.approx(exact, rel=1e-9)
    assert float(total) == pytest.approx(float(aux["hessian_mse"]) + 2.5 * exact, rel=1e-9)

    # its parameter gradient against central finite differences along a random direction
    @jax.jit  # one compiled program for both finite-difference points (op by op it took minutes)
    def soft_only(p):
        return make_block_loss_fn(cfg, soft_mode_weight=1.0)(p, b.positions, b.graph, b.probes, 0 * b.targets,
                                                             0 * b.weights, b.molecule, b.soft)[0]

    analytic, fd = directional_derivatives(soft_only, params, seed=1)
    assert analytic == pytest.approx(fd, rel=1e-5)


def test_energy_soft_mode_loss_is_an_unbiased_probe_estimate(tiny_dataset):
    from hessfit.model import batch_hessians

    cfg = ModelConfig(**{**TINY32, "dtype": "float64"})
    params = init_params(cfg, jax.random.PRNGKey(0))
    mols = prepare(tiny_dataset, [0], elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom,
                   soft_mode_floor_cm1=100.0)
    b = make_batch(mols, [0], Shapes(32, 1024), n_probes=256, rng=np.random.default_rng(0), dtype=np.float64)
    _, aux = jax.jit(make_probe_loss_fn(cfg))(params, b.positions, b.graph, b.probes, b.targets, b.weights,
                                              b.molecule, b.soft)
    packed = pack([species_index(tiny_dataset.numbers(0), cfg.elements)], [tiny_dataset.positions(0)],
                  cutoff_angstrom=cfg.cutoff_angstrom)
    exact = _direct_soft([np.asarray(batch_hessians(cfg, params, packed)[0], float)], tiny_dataset, mols, [0])
    assert float(aux["soft_mode_mse"]) == pytest.approx(exact, rel=0.15)  # Rademacher, k = 256


def test_fine_tuning_starts_from_the_transferred_model_and_lowers_the_soft_term(tiny_dataset, tmp_path):
    from hessfit.model import Model, load_model, save_model

    cfg = ModelConfig(**BLOCKS)
    base = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=10, learning_rate=1e-2, warmup_steps=3,
                       patience_epochs=100, max_atoms_per_batch=100)
    first = train(tiny_dataset, tmp_path / "base", model_config=cfg, train_config=base, progress=False)
    base_mse = first.history[-1]["val_hessian_mse"]
    save_model(tmp_path / "source", Model(cfg, load_model(tmp_path / "base" / "best").params, {}))
    # a learning rate of ~0: the first validation equals the source model's (no scale re-calibration)
    still = TrainConfig(**{**base.to_dict(), "max_epochs": 1, "learning_rate": 1e-12, "soft_mode_weight": 1.0,
                           "init_from": str(tmp_path / "source")})
    same = train(tiny_dataset, tmp_path / "still", model_config=cfg, train_config=still, progress=False).history
    best_val = min(h["val_hessian_mse"] for h in first.history)
    assert same[0]["val_hessian_mse"] == pytest.approx(best_val, rel=1e-6)
    tuned = TrainConfig(**{**still.to_dict(), "max_epochs": 15, "learning_rate": 3e-3, "soft_mode_weight": 10.0})
    hist = train(tiny_dataset, tmp_path / "tuned", model_config=cfg, train_config=tuned, progress=False).history
    assert hist[-1]["val_soft_mode_mse"] < 0.5 * same[0]["val_soft_mode_mse"], (same[0], hist[-1])
    assert np.isfinite(base_mse)
