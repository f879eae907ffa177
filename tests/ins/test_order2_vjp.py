"""The hand-written reverse-mode rule of the order-2 pair intensities equals autodiff of the plain formula."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hessfit  # noqa: F401  (enables float64)
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


@pytest.mark.parametrize("block_elements", [7, 40, 10_000_000])  # many padded blocks, a few, one
def test_values_and_gradients_match_autodiff(monkeypatch, block_elements):
    monkeypatch.setattr(_order2, "BLOCK_ELEMENTS", block_elements)
    rng = np.random.default_rng(3)
    m, n = 7, 4
    w = jnp.asarray(rng.uniform(50, 3000, m))
    b = jnp.asarray(rng.uniform(0, 0.05, (m, n)))
    e = jnp.asarray(rng.normal(size=(m, n, 3)))
    p = jnp.sum(e * e, -1)
    a = jnp.asarray(rng.uniform(0.005, 0.05, n))
    sigma = jnp.asarray(rng.uniform(1, 80, n))
    fns = tuple(partial(q2_indirect, final_energy_cm1=32.0, angle_deg=t) for t in (45.0, 135.0))
    g = jnp.asarray(rng.normal(size=(2, m, m)))
    args = (w, b, p, e, a, sigma)
    np.testing.assert_allclose(_order2.pair_intensities(fns, *args), naive(fns, *args), rtol=1e-12)
    got = jax.grad(lambda *x: jnp.sum(g * _order2.pair_intensities(fns, *x)), argnums=range(6))(*args)
    want = jax.grad(lambda *x: jnp.sum(g * naive(fns, *x)), argnums=range(6))(*args)
    for name, x, y in zip("w b p e a sigma".split(), got, want):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-14 * float(jnp.max(jnp.abs(y))), err_msg=name)
