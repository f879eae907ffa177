"""The energy model's curvature hinge from Hessian-vector products (`ritz_curvature_hinge`): equal to the dense
hinge when its block covers every mode, equal to a NumPy Rayleigh–Ritz on the same block-Krylov space when it does
not (and never above the dense hinge), and its gradient against finite differences. Training with it lowers it:
tests/train/test_curvature_hinge.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.model import ModelConfig, batch_hessians, init_params, pack, species_index
from hessfit.train import TrainConfig, train
from hessfit.train._loss import curvature_hinge, make_probe_loss_fn, ritz_curvature_hinge
from tests.train.conftest import TINY32, directional_derivatives
from tests.train.test_curvature_hinge import MEMBERS, _batch, _direct_hinge, _padded, level_hessians
from tests.train.test_soft_mode_loss import BLOCKS

ENERGY64 = dict(TINY32, dtype="float64", n_layers=1)  # one layer: the hinge algebra, at a third of the compile time


def _numpy_ritz_hinge(hessians, mols, block, steps=1):
    """Mean over molecules of Σ relu(−θ)², θ the Ritz values of X = Rᵀ H R on the Krylov space
    span(E, X E, …, X^steps E), E = e_1..e_k: QR of the explicit (column-normalised) Krylov matrix."""
    total = 0.0
    for h, (r, _, _) in zip(hessians, mols.mode_bases):
        r = np.asarray(r, float)
        x = r.T @ h @ r
        cols = [np.eye(len(x))[:, : min(block, len(x))]]
        for _ in range(steps):
            nxt = x @ cols[-1]
            cols.append(nxt / np.maximum(np.linalg.norm(nxt, axis=0), 1e-300))
        stacked = np.hstack(cols)
        basis, _ = np.linalg.qr(stacked)
        sv = np.linalg.svd(stacked, compute_uv=False)
        basis = basis[:, : int(np.sum(sv > 1e-10 * sv[0]))]
        theta = np.linalg.eigvalsh(basis.T @ x @ basis)
        total += np.sum(np.maximum(-theta, 0.0) ** 2)
    return total / len(hessians)


def _predicted(cfg, params, ds):
    packed = pack([species_index(ds.numbers(i), cfg.elements) for i in MEMBERS], [ds.positions(i) for i in MEMBERS],
                  cutoff_angstrom=cfg.cutoff_angstrom)
    return [np.asarray(p, float) for p in batch_hessians(cfg, params, packed)]


def test_ritz_hinge_matches_dense_and_numpy_rayleigh_ritz(tiny_dataset):
    cfg = ModelConfig(**BLOCKS)
    params = init_params(cfg, jax.random.PRNGKey(0))
    mols, b = _batch(tiny_dataset, cfg)
    preds = _predicted(cfg, params, tiny_dataset)
    h = jnp.asarray(_padded(preds, 3 * b.positions.shape[0]))

    def apply_h(v):
        return (v.reshape(v.shape[0], -1) @ h).reshape(v.shape)

    dense = float(curvature_hinge(h, b.soft, b.weights, b.molecule))
    assert dense == pytest.approx(_direct_hinge(preds, mols), rel=1e-8) and dense > 1e-3
    all_modes = max(len(mu) for _, mu, _ in mols.mode_bases)
    assert float(ritz_curvature_hinge(apply_h, b.soft, b.weights, b.molecule, all_modes)) == pytest.approx(
        dense, rel=1e-8)
    for block, steps in ((1, 1), (3, 1), (6, 1), (1, 4), (2, 3), (3, 2)):
        got = float(ritz_curvature_hinge(apply_h, b.soft, b.weights, b.molecule, block, steps))
        assert got == pytest.approx(_numpy_ritz_hinge(preds, mols, block, steps), rel=1e-7, abs=1e-12)
        assert got <= dense * (1 + 1e-9)
    # deeper spaces contain shallower ones: the hinge can only grow with depth (interlacing)
    depth = [float(ritz_curvature_hinge(apply_h, b.soft, b.weights, b.molecule, 1, s)) for s in (1, 2, 4, 8)]
    assert all(a <= b_ * (1 + 1e-9) for a, b_ in zip(depth, depth[1:])) and depth[-1] > depth[0]


def test_energy_loss_hinge_equals_dense_and_its_gradient_finite_differences(tiny_dataset):
    cfg = ModelConfig(**ENERGY64)
    params = init_params(cfg, jax.random.PRNGKey(1))
    mols, b = _batch(tiny_dataset, cfg)
    preds = _predicted(cfg, params, tiny_dataset)
    all_modes = max(len(mu) for _, mu, _ in mols.mode_bases)
    exact = _direct_hinge(preds, mols)
    assert exact > 1e-3  # an untrained model has negative curvature: the test is not trivially zero
    args = (b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule, b.soft)
    full = make_probe_loss_fn(cfg, curvature_hinge_weight=2.0, curvature_hinge_block=all_modes)
    total, aux = jax.jit(full)(params, *args)
    assert float(aux["curvature_hinge"]) == pytest.approx(exact, rel=1e-6)
    assert float(total) == pytest.approx(float(aux["hessian_mse"]) + 2.0 * exact, rel=1e-6)
    _, aux3 = jax.jit(make_probe_loss_fn(cfg, curvature_hinge_weight=1.0, curvature_hinge_block=3))(params, *args)
    assert float(aux3["curvature_hinge"]) == pytest.approx(_numpy_ritz_hinge(preds, mols, 3), rel=1e-6)
    deep = make_probe_loss_fn(cfg, curvature_hinge_weight=1.0, curvature_hinge_block=2, curvature_hinge_krylov_steps=3)
    _, aux_deep = jax.jit(deep)(params, *args)
    assert float(aux_deep["curvature_hinge"]) == pytest.approx(_numpy_ritz_hinge(preds, mols, 2, 3), rel=1e-6)

    @jax.jit
    def hinge(p):  # with every mode in the block the Ritz values are the eigenvalues: basis-independent
        return make_probe_loss_fn(cfg, curvature_hinge_weight=1.0, curvature_hinge_block=all_modes)(p, *args)[1][
            "curvature_hinge"]

    analytic, fd = directional_derivatives(hinge, params, seed=3)
    assert analytic == pytest.approx(fd, rel=1e-5)


def test_energy_models_refuse_the_mode_curvature_term(tiny_dataset, tmp_path):
    tcfg = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=1, mode_curvature_weight=1.0)
    with pytest.raises(ConfigError, match="block model"):
        train(tiny_dataset, tmp_path / "modes", model_config=ModelConfig(**TINY32), train_config=tcfg, progress=False)


def test_energy_level0_hinge_is_the_ritz_hinge_of_the_level0_hessian(tiny_dataset):
    """`curvature_hinge_level0` for the energy model: level-1 molecules' Ritz hinge is that of the level-0 Hessian
    (NumPy Rayleigh–Ritz on the dense level-0 Hessian), without the flag that of level 1; gradient against central
    finite differences."""
    cfg = ModelConfig(**{**ENERGY64, "n_fidelities": 2})
    params = init_params(cfg, jax.random.PRNGKey(4))  # a seed where both levels have negative curvature
    mols, b = _batch(tiny_dataset, cfg, fidelity=1)
    args = (b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule, b.soft)
    expected = {level: _numpy_ritz_hinge(level_hessians(cfg, params, tiny_dataset, batch_hessians, level), mols, 2, 2)
                for level in (0, 1)}
    assert min(expected.values()) > 1e-4 and abs(expected[0] - expected[1]) > 0.05 * expected[0], expected
    for level0, want in ((True, expected[0]), (False, expected[1])):
        fn = make_probe_loss_fn(cfg, curvature_hinge_weight=1.0, curvature_hinge_block=2,
                                curvature_hinge_krylov_steps=2, curvature_hinge_level0=level0)
        assert float(jax.jit(fn)(params, *args)[1]["curvature_hinge"]) == pytest.approx(want, rel=1e-6)
    all_modes = max(len(mu) for _, mu, _ in mols.mode_bases)

    @jax.jit
    def hinge(p):  # every mode in the block: basis-independent, so finite differences apply
        return make_probe_loss_fn(cfg, curvature_hinge_weight=1.0, curvature_hinge_block=all_modes,
                                  curvature_hinge_level0=True)(p, *args)[1]["curvature_hinge"]

    analytic, fd = directional_derivatives(hinge, params, seed=4)
    assert analytic == pytest.approx(fd, rel=1e-5)
