"""The NequIP layer is E(3)-equivariant on random inputs and ignores padding."""

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.model import NequIPLayer, neighbour_pairs, radial_basis
from tests.helpers import rotation_matrix

IRREPS_IN = e3nn.Irreps("4x0e + 3x1o + 2x2e")


def _random_graph(seed, n_atoms=7, n_pad_edges=0):
    rng = np.random.default_rng(seed)
    pos = rng.normal(size=(n_atoms, 3)) * 1.3
    s, r = neighbour_pairs(pos, 3.5)
    s = np.concatenate([s, np.full(n_pad_edges, n_atoms - 1, np.int32)])
    r = np.concatenate([r, np.full(n_pad_edges, n_atoms - 1, np.int32)])
    mask = np.arange(len(s)) < len(s) - n_pad_edges
    feats = e3nn.IrrepsArray(IRREPS_IN, rng.normal(size=(n_atoms, IRREPS_IN.dim)))  # float64
    species = rng.integers(0, 3, n_atoms).astype(np.int32)
    return pos, s, r, mask, feats, species


@pytest.fixture(scope="module")
def layer_and_params():
    layer = NequIPLayer(hidden_irreps="6x0e + 3x1o + 2x2e", n_species=3, max_ell=2, n_radial_basis=4,
                        radial_hidden=(8,), cutoff_angstrom=3.5, avg_num_neighbors=4.0)
    pos, s, r, mask, feats, species = _random_graph(0)
    vec = pos[r] - pos[s]
    params = layer.init(jax.random.PRNGKey(0), vec, mask, feats, species, s, r)
    return layer, jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float64), params)


@pytest.mark.parametrize("seed", [1, 2])
def test_layer_equivariant_under_rotation_and_inversion(layer_and_params, seed):
    layer, params = layer_and_params
    pos, s, r, mask, feats, species = _random_graph(seed)
    rot = rotation_matrix(seed + 10)  # float64, orthogonal to 1e-15
    apply = jax.jit(lambda v, f: layer.apply(params, v, mask, f, species, s, r))
    vec = pos[r] - pos[s]
    out = apply(vec, feats)
    assert out.array.dtype == jnp.float64
    for parity in (1.0, -1.0):
        g = parity * rot
        out_rot = apply(vec @ g.T, feats.transform_by_matrix(g))
        np.testing.assert_allclose(out_rot.array, out.transform_by_matrix(g).array, atol=1e-10)
    assert out.irreps.count("0e") == 6 and out.irreps.count("1o") == 3 and out.irreps.count("2e") == 2


def test_padding_edges_contribute_nothing(layer_and_params):
    layer, params = layer_and_params
    pos, s, r, mask, feats, species = _random_graph(3)
    out = layer.apply(params, pos[r] - pos[s], mask, feats, species, s, r)
    pos2, s2, r2, mask2, _, _ = _random_graph(3, n_pad_edges=5)
    vec2 = pos2[r2] - pos2[s2]
    out2 = layer.apply(params, vec2, mask2, feats, species, s2, r2)
    np.testing.assert_allclose(out2.array, out.array, atol=1e-12)


def test_radial_basis_vanishes_smoothly_at_cutoff():
    d = jnp.array([3.999999, 4.0, 4.5])
    np.testing.assert_allclose(radial_basis(d, n_basis=4, cutoff_angstrom=4.0), 0.0, atol=1e-9)
    # first and second derivatives vanish at the cutoff (continuous Hessian when a pair crosses it)
    f = lambda x: jnp.sum(radial_basis(x[None], n_basis=4, cutoff_angstrom=4.0))
    assert abs(float(jax.grad(f)(3.99999))) < 1e-6
    assert abs(float(jax.grad(jax.grad(f))(3.99999))) < 1e-3


def test_scale_irreps_equals_e3nn_scalar_weighting():
    """The broadcast per-irrep weighting equals e3nn's elementwise product with scalars (the reference), also for
    a chunk known to be zero."""
    from hessfit.model._layer import scale_irreps

    rng = np.random.default_rng(3)
    irreps = e3nn.Irreps("3x0e + 2x1o + 2x2e + 1x0e + 1x3o")
    x = e3nn.IrrepsArray(irreps, jnp.asarray(rng.normal(size=(5, irreps.dim))))
    w = jnp.asarray(rng.normal(size=(5, irreps.num_irreps)))
    np.testing.assert_allclose(scale_irreps(x, w).array, (x * w).array, atol=1e-14)
    z = e3nn.concatenate([x, e3nn.zeros("2x1e", (5,))])  # the last chunk is None (known zero)
    wz = jnp.asarray(rng.normal(size=(5, z.irreps.num_irreps)))
    out = scale_irreps(z, wz)
    assert out.irreps == z.irreps
    np.testing.assert_allclose(out.array, (z * wz).array, atol=1e-14)
