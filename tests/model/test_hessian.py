"""Hessians of the energy model: covariance, symmetry, sum rule, HVP against jax.hessian, batching, buckets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.model import make_energy_fn, make_hvp_fn, pack, predict_hessian, predict_hessians
from hessfit.model._hessian import _jitted_columns
from hessfit.structures import Structure
from tests.helpers import assert_sum_rule, rotate_hessian, rotation_matrix


def _molecule(seed=0, n_heavy=4, n_h=6):
    """A random but chemically spaced H/C/N/O cluster (no atoms closer than 1 Å)."""
    rng = np.random.default_rng(seed)
    pos = []
    while len(pos) < n_heavy + n_h:
        p = rng.uniform(-2.2, 2.2, 3)
        if all(np.linalg.norm(p - q) > 1.0 for q in pos):
            pos.append(p)
    numbers = list(rng.choice([6, 7, 8], n_heavy)) + [1] * n_h
    return Structure.from_numbers(numbers, np.array(pos), name=f"rand{seed}")


@pytest.fixture(scope="module")
def mol():
    return _molecule()


@pytest.fixture(scope="module")
def hess(tiny_model, mol):
    return predict_hessian(mol, tiny_model)


def test_hessian_is_symmetric_obeys_sum_rule_and_is_float64(tiny_config, tiny_params, mol):
    batch = pack([np.array([{1: 0, 6: 1, 7: 2, 8: 3}[z] for z in mol.numbers], np.int32)], [mol.positions],
                 cutoff_angstrom=tiny_config.cutoff_angstrom)
    cols = _jitted_columns(tiny_config)(tiny_params, jnp.asarray(batch.positions), batch.graph, batch.slot,
                                        np.arange(3 * mol.n_atoms)[None])
    n3 = 3 * mol.n_atoms
    raw = np.asarray(cols)[:n3, : mol.n_atoms].reshape(n3, n3).T
    assert raw.dtype == np.float64
    np.testing.assert_allclose(raw, raw.T, atol=1e-12 * np.abs(raw).max())  # before symmetrisation
    assert_sum_rule(raw, rtol=1e-11)
    assert np.abs(raw).max() > 1e-3  # not trivially zero (the e3nn.gate pitfall)


def test_rotation_covariance(tiny_model, mol, hess):
    rot = rotation_matrix(3)
    h_rot = predict_hessian(Structure.from_numbers(mol.numbers, mol.positions @ rot.T), tiny_model)
    np.testing.assert_allclose(h_rot, rotate_hessian(hess, rot), atol=1e-10)


def test_inversion_covariance(tiny_model, mol, hess):
    h_inv = predict_hessian(Structure.from_numbers(mol.numbers, -mol.positions), tiny_model)
    np.testing.assert_allclose(h_inv, hess, atol=1e-10)  # (−I)H(−I)ᵀ = H


def test_translation_invariance(tiny_model, mol, hess):
    h_tr = predict_hessian(Structure.from_numbers(mol.numbers, mol.positions + np.array([3.0, -7.5, 0.25])),
                           tiny_model)
    np.testing.assert_allclose(h_tr, hess, atol=1e-10)


def test_permutation_covariance(tiny_model, mol, hess):
    perm = np.random.default_rng(5).permutation(mol.n_atoms)
    h_p = predict_hessian(Structure.from_numbers(mol.numbers[perm], mol.positions[perm]), tiny_model)
    idx = (3 * perm[:, None] + np.arange(3)).reshape(-1)
    np.testing.assert_allclose(h_p, hess[np.ix_(idx, idx)], atol=1e-10)


def test_hvp_and_chunked_hessian_match_jax_hessian(tiny_config, tiny_params, mol, hess):
    sp = np.array([{1: 0, 6: 1, 7: 2, 8: 3}[z] for z in mol.numbers], np.int32)
    batch = pack([sp], [mol.positions], cutoff_angstrom=tiny_config.cutoff_angstrom)
    energy = make_energy_fn(tiny_config)
    n = mol.n_atoms
    pos = jnp.asarray(batch.positions)
    full = jax.jit(jax.hessian(lambda r: energy(tiny_params, pos.at[:n].set(r), batch.graph)))(pos[:n])
    full = np.asarray(full).reshape(3 * n, 3 * n)
    np.testing.assert_allclose(hess, full, atol=1e-10)
    v = np.zeros(batch.positions.shape)
    v[:n] = np.random.default_rng(0).normal(size=(n, 3))
    hv = jax.jit(make_hvp_fn(tiny_config))(tiny_params, pos, batch.graph, jnp.asarray(v))
    np.testing.assert_allclose(np.asarray(hv)[:n].reshape(-1), full @ v[:n].reshape(-1), atol=1e-10)


def test_packed_batch_equals_single_molecules_and_reuses_compilation(tiny_model):
    mols = [_molecule(s, n_heavy=3 + s % 2, n_h=4 + s) for s in range(3)]
    singles = [predict_hessian(m, tiny_model) for m in mols]
    batched = predict_hessians(mols, tiny_model, max_atoms_per_batch=1000)
    for a, b in zip(singles, batched):
        np.testing.assert_allclose(a, b, atol=1e-10)
    # a molecule of another size inside the same (atom, edge) buckets does not trigger a recompilation
    from hessfit.model import bucket_atoms, bucket_edges, neighbour_pairs

    def key(m):
        return bucket_atoms(m.n_atoms + 1), bucket_edges(len(neighbour_pairs(m.positions, 4.0)[0]))

    first = mols[1]
    other = next(m for m in (_molecule(s, n_heavy=4, n_h=h) for s in range(10, 40) for h in (5, 6, 7))
                 if m.n_atoms != first.n_atoms and key(m) == key(first))
    fn = _jitted_columns(tiny_model.config)
    before = fn._cache_size()
    predict_hessian(other, tiny_model)
    assert fn._cache_size() == before


def test_inference_loop_stops_after_the_last_real_chunk(tiny_config, tiny_params, mol):
    """With ``n_chunks`` the column loop computes only the first chunks (the same values as mapping over all of
    them) and leaves the rest 0."""
    from hessfit.model._hessian import column_ids, real_chunks

    sp = np.array([{1: 0, 6: 1, 7: 2, 8: 3}[z] for z in mol.numbers], np.int32)
    batch = pack([sp], [mol.positions], cutoff_angstrom=tiny_config.cutoff_angstrom)
    ids = column_ids(mol.n_atoms, chunk_size=4)
    args = (tiny_params, jnp.asarray(batch.positions), batch.graph, batch.slot, ids)
    fn = _jitted_columns(tiny_config)
    every = np.asarray(fn(*args))
    needed = -(-3 * mol.n_atoms // 4)
    assert needed < ids.shape[0]  # the size bucket pads columns
    assert real_chunks(ids) == needed
    part = np.asarray(fn(*args, needed))
    np.testing.assert_allclose(part, every, atol=1e-12)  # padding columns are 0 either way
    two = np.asarray(fn(*args, 2))
    np.testing.assert_allclose(two[:8], every[:8], atol=1e-12)
    assert not two[8:].any() and np.abs(every[8:3 * mol.n_atoms]).max() > 1e-3
