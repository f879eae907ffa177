"""The order-2 pair sticks (unordered pairs ν ≤ μ, weighted 2/1) and their hand-written reverse-mode rule equal
autodiff of the plain formula over all ordered pairs."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.ins import _order2
from hessfit.ins._kinematics import q2_indirect


def naive(q2_fns, w, b, p, e, a, sigma):
    energy = w[:, None] + w[None, :]
    d = jnp.einsum("mnk,lnk->mln", e, e)
    poly = b[:, None, :] * b[None, :, :] * sigma * (p[:, None, :] * p[None, :, :] + 2 * d * d)
    out = []
    for f in q2_fns:
        q2 = f(energy)
        out.append(q2**2 / 30 * jnp.sum(poly * jnp.exp(-q2[..., None] * a), -1))
    return jnp.stack(out)


def _inputs(m, n, seed=3):
    rng = np.random.default_rng(seed)
    w = jnp.asarray(rng.uniform(50, 3000, m))
    b = jnp.asarray(rng.uniform(0, 0.05, (m, n)))
    e = jnp.asarray(rng.normal(size=(m, n, 3)))
    p = jnp.sum(e * e, -1)
    a = jnp.asarray(rng.uniform(0.005, 0.05, n))
    sigma = jnp.asarray(rng.uniform(1, 80, n))
    return (w, b, p, e, a, sigma), rng


FNS = tuple(partial(q2_indirect, final_energy_cm1=32.0, angle_deg=t) for t in (45.0, 135.0))
#: (TILE_ELEMENTS, BLOCK_ELEMENTS) with n = 4 atoms: R = 1 and one tile per step (many blocks); R = 1 and
#: 10 tiles per step (dummy tiles); R = 3 (padded modes) with 2 tiles per step; a single tile
LAYOUTS = [(4, 4), (4, 40), (40, 100), (10_000_000, 10_000_000)]


def _spectrum(energies, intensities, centres, width=40.0):
    """A smooth function of the stick list that does not depend on stick order."""
    kern = jnp.exp(-0.5 * ((centres[:, None] - energies[None, :]) / width) ** 2)
    return intensities @ kern.T


@pytest.mark.parametrize("m", [7, 8])
@pytest.mark.parametrize("tile,block", LAYOUTS)
def test_values_and_gradients_match_autodiff(monkeypatch, tile, block, m):
    monkeypatch.setattr(_order2, "TILE_ELEMENTS", tile)
    monkeypatch.setattr(_order2, "BLOCK_ELEMENTS", block)
    args, rng = _inputs(m, 4)
    w = args[0]
    full = naive(FNS, *args)  # (banks, M, M) over ordered pairs

    # the weighted unordered sticks: Σ over sticks at each (ν, μ) recovers the full matrix
    i2 = _order2.pair_intensities(FNS, *args)
    e2 = _order2.pair_energies(w, 4)
    assert i2.shape == (2, e2.size)
    rows, n_blocks, _, kk, ll = _order2._layout(m, 4)
    r = np.arange(rows)
    nu = (kk.reshape(-1)[:, None, None] * rows + r[None, :, None] + 0 * r[None, None, :]).reshape(-1)
    mu = (ll.reshape(-1)[:, None, None] * rows + 0 * r[None, :, None] + r[None, None, :]).reshape(-1)
    real = (nu <= mu) & (mu < m)
    assert real.sum() == m * (m + 1) // 2 and len(set(zip(nu[real], mu[real]))) == real.sum()
    np.testing.assert_array_equal(np.asarray(i2)[:, ~real], 0.0)
    want = np.asarray(full)[:, nu[real], mu[real]] * np.where(nu[real] < mu[real], 2.0, 1.0)
    np.testing.assert_allclose(np.asarray(i2)[:, real], want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(e2)[real], np.asarray(w)[nu[real]] + np.asarray(w)[mu[real]], rtol=1e-15)

    # a stick-order-independent functional of (energies, intensities): identical to the ordered-pair one
    centres = jnp.linspace(0.0, 6500.0, 37)
    gk = jnp.asarray(rng.normal(size=(2, 37)))

    def new(*x):
        return jnp.sum(gk * _spectrum(_order2.pair_energies(x[0], 4), _order2.pair_intensities(FNS, *x), centres))

    def old(*x):
        e_all = (x[0][:, None] + x[0][None, :]).reshape(-1)
        return jnp.sum(gk * _spectrum(e_all, naive(FNS, *x).reshape(2, -1), centres))

    np.testing.assert_allclose(new(*args), old(*args), rtol=1e-12)
    got = jax.grad(new, argnums=range(6))(*args)
    want = jax.grad(old, argnums=range(6))(*args)
    for name, x, y in zip("w b p e a sigma".split(), got, want):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-13 * float(jnp.max(jnp.abs(y))), err_msg=name)

    # the intensities alone, with an arbitrary cotangent on every stick (padding and duplicates included)
    g = jnp.asarray(rng.normal(size=i2.shape))
    got = jax.grad(lambda *x: jnp.sum(g * _order2.pair_intensities(FNS, *x)), argnums=range(6))(*args)
    want = jax.grad(lambda *x: jnp.sum(g * jax.lax.stop_gradient(1.0) * _order2._forward(FNS, *x)),
                    argnums=range(6))(*args)
    for name, x, y in zip("w b p e a sigma".split(), got, want):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-13 * float(jnp.max(jnp.abs(y))), err_msg=name)
