"""The curvature hinge and the mode-curvature term: zero for the reference Hessians (minima), closed forms for
one moved mode, equal to the per-molecule quantities computed directly (eigenvalues of the mass-weighted
whitened Hessian; curvature along the reference modes), parameter gradients against finite differences, and
training with the hinge lowers it (the energy model's Rayleigh–Ritz hinge: tests/train/test_ritz_hinge.py)."""

import jax
import numpy as np
import pytest
from scipy.linalg import block_diag

from hessfit.model import ModelConfig, init_params, pack, species_index
from hessfit.train import TrainConfig, train
from hessfit.train._data import Shapes, column_probes, make_batch, prepare
from hessfit.train._data import soft_mode_basis, whitening_matrix
from hessfit.train._loss import curvature_hinge, make_block_loss_fn, mode_curvature_error
from tests.train.conftest import TINY32, directional_derivatives
from tests.train.test_soft_mode_loss import BLOCKS

MEMBERS = [0, 1, 2]


def _batch(tiny_dataset, cfg, floor=80.0, fidelity=0):
    mols = prepare(tiny_dataset, MEMBERS, elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom,
                   soft_mode_floor_cm1=floor, fidelity=fidelity)
    k = 3 * max(mols.n_atoms(i) for i in MEMBERS)
    b = make_batch(mols, MEMBERS, Shapes(128, 2048), n_probes=k, rng=None, dtype=np.float64,
                   probe_vectors=column_probes(k))
    return mols, b


def level_hessians(cfg, params, ds, predict, level):
    """Dense Hessians of the MEMBERS molecules at level of theory ``level`` (``predict``: `batch_hessians` or
    `batch_hessians_direct`)."""
    packed = pack([species_index(ds.numbers(i), cfg.elements) + level * len(cfg.elements) for i in MEMBERS],
                  [ds.positions(i) for i in MEMBERS], cutoff_angstrom=cfg.cutoff_angstrom)
    return [np.asarray(p, float) for p in predict(cfg, params, packed)]


def _direct_hinge(hessians, mols):
    """Mean over molecules of Σ relu(−μ)², μ = eig(Rᵀ H R) of each molecule on its own (the nonzero eigenvalues
    of M^1/2 T H T M^1/2: `test_hinge_is_zero_for_the_reference_and_penalises_a_negative_mode`)."""
    total = 0.0
    for h, (r, _, _) in zip(hessians, mols.mode_bases):
        r = np.asarray(r, float)
        mu = np.linalg.eigvalsh(r.T @ h @ r)
        total += np.sum(np.maximum(-mu, 0.0) ** 2)
    return total / len(hessians)


def _direct_mode_error(hessians, mols, max_cm1):
    """Mean over molecules of Σ over reference modes below ``max_cm1`` of (r_iᵀ H r_i − μ_i)²."""
    total = 0.0
    for h, (r, mu, nu) in zip(hessians, mols.mode_bases):
        r = np.asarray(r, float)
        rho = np.einsum("ci,cd,di->i", r, h, r)
        keep = (nu > 0) & (nu < max_cm1)
        total += np.sum((rho - mu)[keep] ** 2)
    return total / len(hessians)


def _padded(hessians, n_coords):
    h = block_diag(*hessians)
    out = np.zeros((n_coords, n_coords))
    out[:h.shape[0], :h.shape[0]] = h
    return out


def test_hinge_is_zero_for_the_reference_and_penalises_a_negative_mode(tiny_dataset):
    cfg = ModelConfig(**BLOCKS)
    mols, b = _batch(tiny_dataset, cfg)
    refs = [np.asarray(mols.hessians[k], float) for k in MEMBERS]
    n = 3 * b.positions.shape[0]
    assert float(curvature_hinge(_padded(refs, n), b.soft, b.weights, b.molecule)) == pytest.approx(0.0, abs=1e-9)
    # put molecule 1's softest mode at −ν̃: μ = −ν̃² / (ν̃_ref² + ν̃0²) in the whitened space, hinge μ² / 3 molecules
    from hessfit.modes import normal_modes
    from hessfit.units import FREQ_FACTOR_EV_A2

    s = tiny_dataset.structure(1)
    modes = normal_modes(s, refs[1])
    nu0, nu_new = float(modes.frequencies_cm1[0]), 150.0
    u = np.asarray(modes.vectors[0], float).reshape(-1)  # mass-weighted, unit norm
    sqm = np.repeat(np.sqrt(s.masses), 3)
    shift = -((nu0**2 + nu_new**2) / FREQ_FACTOR_EV_A2**2)  # eV/Å²/amu: λ → −ν̃_new² in eigenvalue units
    moved = refs[1] + shift * np.outer(sqm * u, sqm * u)
    mu = -nu_new**2 / (nu0**2 + 80.0**2)
    got = float(curvature_hinge(_padded([refs[0], moved, refs[2]], n), b.soft, b.weights, b.molecule))
    assert got == pytest.approx(mu**2 / 3, rel=1e-6)
    # the mode-curvature term: zero at the reference; moving the softest mode to +ν̃ (below the cut) costs
    # ((ν̃² − ν̃_ref²) / (ν̃_ref² + ν̃0²))² / 3, and nothing once the cut excludes that mode
    assert float(mode_curvature_error(_padded(refs, n), b.soft, b.weights, b.molecule, 400.0)) == pytest.approx(
        0.0, abs=1e-9)
    up = refs[1] + ((nu_new**2 - nu0**2) / FREQ_FACTOR_EV_A2**2) * np.outer(sqm * u, sqm * u)
    got = float(mode_curvature_error(_padded([refs[0], up, refs[2]], n), b.soft, b.weights, b.molecule, 4000.0))
    assert got == pytest.approx(((nu_new**2 - nu0**2) / (nu0**2 + 80.0**2)) ** 2 / 3, rel=1e-6)
    assert float(mode_curvature_error(_padded([refs[0], up, refs[2]], n), b.soft, b.weights, b.molecule,
                                      0.5 * nu0)) == pytest.approx(0.0, abs=1e-12)
    r, mu_ref, _ = soft_mode_basis(s, refs[1], 80.0)
    np.testing.assert_allclose(r.T @ refs[1] @ r, np.diag(mu_ref), atol=1e-6)
    # the hinge's eigenvalues: Rᵀ H R has the nonzero eigenvalues of M^1/2 T H T M^1/2 (plus six zeros there)
    t = whitening_matrix(s, refs[1], 80.0)
    x = sqm[:, None] * t @ moved @ t * sqm[None, :]
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(x))[[0, *range(7, len(sqm))]],
                               np.linalg.eigvalsh(r.T @ moved @ r), atol=1e-9)


def test_block_loss_hinge_equals_the_direct_eigenvalues_and_its_gradient_finite_differences(tiny_dataset):
    from hessfit.model import batch_hessians_direct

    cfg = ModelConfig(**BLOCKS)
    params = init_params(cfg, jax.random.PRNGKey(0))
    mols, b = _batch(tiny_dataset, cfg)
    loss_fn = jax.jit(make_block_loss_fn(cfg, curvature_hinge_weight=3.0, mode_curvature_weight=0.5,
                                         mode_curvature_max_cm1=1500.0))
    total, aux = loss_fn(params, b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule, b.soft)
    packed = pack([species_index(tiny_dataset.numbers(i), cfg.elements) for i in MEMBERS],
                  [tiny_dataset.positions(i) for i in MEMBERS], cutoff_angstrom=cfg.cutoff_angstrom)
    preds = [np.asarray(p, float) for p in batch_hessians_direct(cfg, params, packed)]
    exact = _direct_hinge(preds, mols)
    assert exact > 1e-3  # an untrained model has negative curvature: the test is not trivially zero
    assert float(aux["curvature_hinge"]) == pytest.approx(exact, rel=1e-8)
    mode_exact = _direct_mode_error(preds, mols, 1500.0)
    assert mode_exact > 1e-3
    assert float(aux["mode_curvature_error"]) == pytest.approx(mode_exact, rel=1e-8)
    assert float(total) == pytest.approx(float(aux["hessian_mse"]) + 3.0 * exact + 0.5 * mode_exact, rel=1e-9)

    @jax.jit
    def hinge_only(p):  # both terms, so that one finite difference checks both gradients
        return make_block_loss_fn(cfg, curvature_hinge_weight=1.0, mode_curvature_weight=0.5,
                                  mode_curvature_max_cm1=1500.0)(p, b.positions, b.graph, b.probes, 0 * b.targets,
                                                                 b.weights, b.molecule, b.soft)[0]

    def hinge_minus_mse(p):  # the Hessian MSE against zero targets is part of hinge_only: remove it
        return hinge_only(p) - make_block_loss_fn(cfg)(p, b.positions, b.graph, b.probes, 0 * b.targets,
                                                         b.weights, b.molecule, b.soft)[0]

    analytic, fd = directional_derivatives(jax.jit(hinge_minus_mse), params, seed=2)
    assert analytic == pytest.approx(fd, rel=1e-5)


@pytest.mark.parametrize("model, learning_rate", [(BLOCKS, 3e-3), (dict(TINY32, n_layers=1), 1e-2)],
                         ids=["blocks", "energy"])
def test_training_with_the_hinge_lowers_it(tiny_dataset, tmp_path, model, learning_rate):
    """For the energy model this is the Rayleigh–Ritz hinge (`ritz_curvature_hinge`, block 2, two Krylov steps);
    its model has one layer, which compiles in a third of the time of two."""
    cfg = ModelConfig(**model)
    base = dict(split_fractions=(1.0, 0.0, 0.0), max_epochs=1, learning_rate=1e-12, warmup_steps=1,
                patience_epochs=100, max_atoms_per_batch=100, curvature_hinge_weight=1.0, curvature_hinge_block=2,
                curvature_hinge_krylov_steps=2)
    start = train(tiny_dataset, tmp_path / "start", model_config=cfg, train_config=TrainConfig(**base),
                  progress=False).history[0]["val_curvature_hinge"]
    tuned = TrainConfig(**{**base, "max_epochs": 15, "learning_rate": learning_rate, "curvature_hinge_weight": 100.0})
    end = train(tiny_dataset, tmp_path / "tuned", model_config=cfg, train_config=tuned,
                progress=False).history[-1]["val_curvature_hinge"]
    assert start > 1e-3 and end < 0.3 * start, (start, end)


@pytest.mark.parametrize("level0", [False, True], ids=["own_level", "level0"])
def test_hinge_trains_beside_an_extra_level_and_a_frequency_dataset(tiny_dataset, tmp_path, level0):
    """The shipped recipes' setting: frequency-only validation batches carry no whitener (hinge 0 there), and the
    extra level's validation hinge is recorded (with `curvature_hinge_level0`: the level-0 Hessian's, beside the
    mode-curvature term on the level-0 Hessian)."""
    from hessfit.structures import load_dataset, save_dataset, save_frequency_dataset
    from tests.train.test_frequency_loss import _frequency_set

    save_dataset(tmp_path / "main.npz", tiny_dataset.subset([0, 1]))
    save_dataset(tmp_path / "extra.npz", tiny_dataset.subset([1, 2]))
    save_frequency_dataset(tmp_path / "freq.npz", _frequency_set(tiny_dataset, [2], [1.0]))
    cfg = ModelConfig(**{**BLOCKS, "n_fidelities": 2})
    tcfg = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=2, learning_rate=1e-3, warmup_steps=1,
                       patience_epochs=100, max_atoms_per_batch=100, curvature_hinge_weight=1.0,
                       soft_mode_weight=1.0, extra_datasets=(str(tmp_path / "extra.npz"),),
                       frequency_dataset=str(tmp_path / "freq.npz"), frequency_weight=0.1,
                       curvature_hinge_level0=level0, mode_curvature_weight=0.5 * level0,
                       mode_curvature_level0=level0)
    hist = train(load_dataset(tmp_path / "main.npz"), tmp_path / "run", model_config=cfg, train_config=tcfg,
                 progress=False).history
    last = hist[-1]
    assert last["val_curvature_hinge"] > 0 and len(last["val_extra_curvature_hinge"]) == 1
    assert np.isfinite(last["val_extra_curvature_hinge"][0]) and np.isfinite(last["val_frequency_mae_cm1"])
    assert last["val_loss"] == pytest.approx(last["val_hessian_mse"] + last["val_soft_mode_mse"]
                                             + last["val_curvature_hinge"] + 0.1 * last["val_frequency_mse"]
                                             + 0.5 * level0 * last.get("val_mode_curvature_error", 0.0), rel=1e-6)
    if level0:
        assert last["val_mode_curvature_error"] > 0 and np.isfinite(last["val_extra_mode_curvature_error"][0])


def test_batches_without_a_whitened_molecule_carry_no_soft_arrays(tiny_dataset):
    """A batch of frequency-labelled molecules only gets ``soft = None`` (no wasted curvature terms); a batch
    with a Hessian-labelled minimum beside them carries its mode basis."""
    from hessfit.train._data import batch_shapes, concat_sets, prepare_frequencies
    from tests.train.test_frequency_loss import _frequency_set

    cfg = ModelConfig(**BLOCKS)
    hess = prepare(tiny_dataset, [0], elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom,
                   soft_mode_floor_cm1=100.0)
    freq = prepare_frequencies(_frequency_set(tiny_dataset, [1, 2], [1.0, 1.0]), [0, 1], elements=cfg.elements,
                               cutoff_angstrom=cfg.cutoff_angstrom)
    mols = concat_sets([hess, freq])
    shapes = batch_shapes(mols, 100)
    rng = np.random.default_rng(0)
    assert make_batch(mols, [1, 2], shapes, n_probes=1, rng=rng).soft is None
    mixed = make_batch(mols, [0, 1], shapes, n_probes=1, rng=rng).soft
    assert mixed is not None and np.count_nonzero(mixed[5]) == len(hess.mode_bases[0][2])


LEVEL0_TERMS = {  # aux key: (loss settings with the term on, direct per-molecule value of dense Hessians)
    "curvature_hinge": ({"curvature_hinge_weight": 1.0}, _direct_hinge, "curvature_hinge_level0"),
    "mode_curvature_error": ({"mode_curvature_weight": 1.0, "mode_curvature_max_cm1": 1500.0},
                             lambda hs, mols: _direct_mode_error(hs, mols, 1500.0), "mode_curvature_level0"),
}


@pytest.mark.parametrize("term", list(LEVEL0_TERMS))
def test_level0_terms_take_the_level0_hessian_of_other_levels_molecules(tiny_dataset, term):
    """`curvature_hinge_level0` / `mode_curvature_level0`: for molecules labelled at level 1, the term is that of
    the level-0 Hessian (what predictions use) against their own level's reference, not of their own level's
    Hessian; its gradient matches central finite differences."""
    from hessfit.model import batch_hessians_direct

    settings, direct, flag = LEVEL0_TERMS[term]
    cfg = ModelConfig(**{**BLOCKS, "n_fidelities": 2})
    params = init_params(cfg, jax.random.PRNGKey(1))
    mols, b = _batch(tiny_dataset, cfg, fidelity=1)
    value = {level: direct(level_hessians(cfg, params, tiny_dataset, batch_hessians_direct, level), mols)
             for level in (0, 1)}
    assert min(value.values()) > 1e-3 and abs(value[0] - value[1]) > 0.05 * value[0], value
    for level0, expected in ((True, value[0]), (False, value[1])):
        fn = make_block_loss_fn(cfg, **settings, **{flag: level0})
        aux = jax.jit(fn)(params, b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule, b.soft)[1]
        assert float(aux[term]) == pytest.approx(expected, rel=1e-8)

    def term_level0(p):
        return make_block_loss_fn(cfg, **settings, **{flag: True})(
            p, b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule, b.soft)[1][term]

    analytic, fd = directional_derivatives(jax.jit(term_level0), params, seed=3)
    assert analytic == pytest.approx(fd, rel=1e-5)


@pytest.mark.parametrize("flag, weight", [("curvature_hinge_level0", "curvature_hinge_weight"),
                                          ("mode_curvature_level0", "mode_curvature_weight")])
def test_a_level0_flag_without_its_term_is_a_config_error(flag, weight):
    from hessfit.errors import ConfigError

    with pytest.raises(ConfigError, match=f"{flag} moves a term that is off: set {weight} > 0"):
        TrainConfig(**{flag: True})
    assert getattr(TrainConfig(**{flag: True, weight: 0.1}), flag)
