"""The direct block model (HIP-style): exact symmetry, sum rule, E(3) covariance, permutation, batching."""

import jax
import numpy as np
import pytest

from hessfit.model import predict_hessian, predict_hessians
from hessfit.model._blocks import _cartesian_basis
from hessfit.structures import Structure
from tests.helpers import assert_sum_rule, rotate_hessian, rotation_matrix
from tests.model.test_hessian import _molecule


@pytest.fixture(scope="module")
def block_model(tiny_block_model):
    return tiny_block_model


@pytest.fixture(scope="module")
def mol():
    return _molecule(seed=5)


@pytest.fixture(scope="module")
def hess(block_model, mol):
    return predict_hessian(mol, block_model)


def test_cartesian_basis_is_orthonormal_and_equivariant():
    import e3nn_jax as e3nn

    q = _cartesian_basis()
    np.testing.assert_allclose(np.einsum("kab,lab->kl", q, q), np.eye(9), atol=1e-14)
    rot = rotation_matrix(1)
    d = np.asarray(e3nn.Irreps("0e + 1e + 2e").D_from_matrix(rot))
    x = np.random.default_rng(0).normal(size=9)
    lhs = rot @ np.einsum("k,kab->ab", x, q) @ rot.T
    np.testing.assert_allclose(lhs, np.einsum("k,kab->ab", d @ x, q), atol=1e-12)


def test_symmetric_sum_rule_nonzero(hess):
    np.testing.assert_allclose(hess, hess.T, atol=1e-13)
    assert_sum_rule(hess, rtol=1e-11)
    assert np.abs(hess).max() > 1e-3
    off = hess.reshape(10, 3, 10, 3)[0, :, 1, :]
    assert np.abs(off - off.T).max() > 1e-6  # off-diagonal blocks are not forced symmetric


def test_rotation_inversion_translation(block_model, mol, hess):
    rot = rotation_matrix(7)
    h_rot = predict_hessian(Structure.from_numbers(mol.numbers, mol.positions @ rot.T + 1.7), block_model)
    np.testing.assert_allclose(h_rot, rotate_hessian(hess, rot), atol=1e-10)
    h_inv = predict_hessian(Structure.from_numbers(mol.numbers, -mol.positions), block_model)
    np.testing.assert_allclose(h_inv, hess, atol=1e-10)


def test_permutation(block_model, mol, hess):
    perm = np.random.default_rng(3).permutation(mol.n_atoms)
    h_p = predict_hessian(Structure.from_numbers(mol.numbers[perm], mol.positions[perm]), block_model)
    idx = (3 * perm[:, None] + np.arange(3)).ravel()
    np.testing.assert_allclose(h_p, hess[np.ix_(idx, idx)], atol=1e-10)


def test_batched_equals_single(block_model, mol, hess):
    other = _molecule(seed=6, n_heavy=3, n_h=4)
    many = predict_hessians([other, mol, other], block_model)
    np.testing.assert_allclose(many[1], hess, atol=1e-11)
    np.testing.assert_allclose(many[0], many[2], atol=1e-11)
    np.testing.assert_allclose(many[0], predict_hessian(other, block_model), atol=1e-11)


def test_column_layout_matches_dense(block_model, mol):
    """make_hessian_fn of a block model (used by fine-tuning) gives the same Hessians as its dense assembly."""
    import jax.numpy as jnp

    from hessfit.model import make_hessian_fn, pack, species_index
    from hessfit.model._hessian import column_ids

    other = _molecule(seed=8, n_heavy=2, n_h=3)
    cfg = block_model.config
    batch = pack([species_index(m.numbers, cfg.elements) for m in (mol, other)], [mol.positions, other.positions],
                 cutoff_angstrom=cfg.cutoff_angstrom)
    cols = np.asarray(jax.jit(make_hessian_fn(cfg))(block_model.params, jnp.asarray(batch.positions), batch.graph,
                                                    batch.slot, column_ids(batch.max_atoms, chunk_size=7)))
    direct = predict_hessians([mol, other], block_model)
    for j, h in enumerate(direct):
        a, b = batch.atom_offsets[j], batch.atom_offsets[j + 1]
        n3 = 3 * int(b - a)
        np.testing.assert_allclose(cols[:n3, a:b].reshape(n3, n3).T, h, atol=1e-12)
