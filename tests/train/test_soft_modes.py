"""The soft-mode probe term: reference soft modes, exact value for given signs, unbiasedness over all signs."""

import itertools

import jax
import numpy as np
import pytest

from hessfit.model import ModelConfig, batch_hessians, init_params, pack
from hessfit.modes import normal_modes
from hessfit.train._data import SoftModeSettings, batch_shapes, make_batch, plan_batches, prepare
from hessfit.train._loss import make_probe_loss_fn
from hessfit.units import FREQ_FACTOR_EV_A2


class _SignSequence:
    """Stands in for numpy's Generator in make_batch: Rademacher probes are +1, soft-mode signs follow a list."""

    def __init__(self, patterns):
        self.patterns = list(patterns)

    def choice(self, values, size):
        if np.ndim(size) == 0:  # the soft-mode signs of one molecule
            return np.asarray(self.patterns.pop(0), float)
        return np.ones(size, np.float32)


def test_soft_modes_are_the_reference_low_frequency_modes(tiny_dataset):
    settings = SoftModeSettings(max_cm1=600.0, max_modes=24)
    mols = prepare(tiny_dataset, [0], elements=(1, 6, 7, 8), cutoff_angstrom=4.0, soft=settings)
    soft = mols.soft[0]
    ref = np.asarray(normal_modes(tiny_dataset.structure(0), tiny_dataset.hessian(0)).frequencies_cm1)
    k = int(np.sum(ref < 600.0))
    assert soft.vectors.shape == (3 * tiny_dataset.structure(0).n_atoms, k) and k >= 3
    masses = np.repeat(tiny_dataset.structure(0).masses, 3)
    d = tiny_dataset.hessian(0) / np.sqrt(masses[:, None] * masses[None, :])
    lam = np.diag(soft.vectors.T @ d @ soft.vectors)
    np.testing.assert_allclose(FREQ_FACTOR_EV_A2 * np.sqrt(lam), ref[:k], rtol=1e-6)
    np.testing.assert_allclose(soft.vectors.T @ soft.vectors, np.eye(k), atol=1e-10)


def test_soft_term_is_exact_for_given_signs_and_unbiased_over_all_signs(tiny_dataset):
    """With 3 soft modes per molecule, the mean of the term over all 8 sign patterns equals the closed form
    mean_k Σ_l (w_k δD_kl w_l)² · FREQ_FACTOR² / 100² (δD: mass-weighted Hessian error in the mode basis)."""
    jax.config.update("jax_enable_x64", True)
    tiny = dict(n_layers=2, n_scalars=8, n_vectors=4, n_tensors=4, n_radial_basis=4, radial_hidden=(8,),
                cutoff_angstrom=4.0, avg_num_neighbors=14.0, dtype="float64")
    cfg = ModelConfig(**tiny)
    params = init_params(cfg, jax.random.PRNGKey(1))
    settings = SoftModeSettings(max_cm1=2000.0, floor_cm1=50.0, max_modes=3)
    mols = prepare(tiny_dataset, [0], elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom, soft=settings)
    shapes = batch_shapes(mols, 100)
    members = plan_batches(mols, [0], shapes, 100)[0]

    # closed form from full Hessians (independent of the probe machinery)
    s0 = tiny_dataset.structure(0)
    packed = pack([mols.species[0]], [mols.positions[0]], cutoff_angstrom=cfg.cutoff_angstrom)
    h_pred = batch_hessians(cfg, params, packed)[0]
    inv_sqrt_m = 1.0 / np.sqrt(np.repeat(s0.masses, 3))
    u = mols.soft[0].vectors
    dd = u.T @ ((h_pred - tiny_dataset.hessian(0)) * inv_sqrt_m[:, None] * inv_sqrt_m[None, :]) @ u
    ref_freqs = np.asarray(normal_modes(s0, tiny_dataset.hessian(0)).frequencies_cm1)[:3]
    w = 1.0 / np.sqrt(2.0 * np.maximum(ref_freqs, 50.0) / FREQ_FACTOR_EV_A2)
    weighted = w[:, None] * dd * w[None, :]
    closed_form = np.sum(weighted**2) / 3 * (FREQ_FACTOR_EV_A2 / 100.0) ** 2

    loss_fn = jax.jit(make_probe_loss_fn(cfg, soft_weight=1.0))
    values = []
    for signs in itertools.product([-1.0, 1.0], repeat=3):
        b = make_batch(mols, members, shapes, n_probes=1, rng=_SignSequence([signs]), dtype=np.float64,
                       soft_k_max=3)
        _, aux = loss_fn(params, b.positions, b.graph, b.probes, b.targets, b.weights, b.soft)
        g = weighted @ np.asarray(signs)  # this sign pattern, in closed form
        assert float(aux["soft_mse"]) == pytest.approx(np.sum(g**2) / 3 * (FREQ_FACTOR_EV_A2 / 100.0) ** 2,
                                                       rel=1e-8)
        values.append(float(aux["soft_mse"]))
    assert np.mean(values) == pytest.approx(closed_form, rel=1e-8)
    assert np.std(values) > 1e-3 * np.mean(values)  # the estimate does depend on the signs


def test_soft_term_is_zero_without_soft_probe_and_the_total_adds_it(tiny_dataset, tiny32):
    params = init_params(tiny32, jax.random.PRNGKey(0))
    mols = prepare(tiny_dataset, [0, 1], elements=tiny32.elements, cutoff_angstrom=4.0, soft=SoftModeSettings())
    shapes = batch_shapes(mols, 100)
    members = plan_batches(mols, [0, 1], shapes, 100)[0]
    b = make_batch(mols, members, shapes, n_probes=1, rng=np.random.default_rng(0), soft_k_max=24)
    plain, aux0 = make_probe_loss_fn(tiny32)(params, b.positions, b.graph, b.probes, b.targets, b.weights)
    total, aux = make_probe_loss_fn(tiny32, soft_weight=0.5)(params, b.positions, b.graph, b.probes, b.targets,
                                                             b.weights, b.soft)
    assert float(aux0["soft_mse"]) == 0.0 and float(aux["soft_mse"]) > 0
    assert float(total) == pytest.approx(float(plain) + 0.5 * float(aux["soft_mse"]), rel=1e-5)
