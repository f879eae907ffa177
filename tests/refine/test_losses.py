"""Refinement losses: limits, scipy agreement and finite-difference gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr, wasserstein_distance

from hessfit.refine._losses import l2_loss, peak_loss, soft_spearman, wasserstein_loss


def _fd(f, x, d, eps=1e-6):
    return (f(x + eps * d) - f(x - eps * d)) / (2 * eps)


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    e = np.linspace(50, 500, 200)
    y = np.exp(-0.5 * ((e - 200) / 20) ** 2) + 0.3 * np.exp(-0.5 * ((e - 380) / 15) ** 2) + 0.01 * rng.uniform(size=200)
    x = np.exp(-0.5 * ((e - 210) / 22) ** 2) + 0.25 * np.exp(-0.5 * ((e - 370) / 15) ** 2) + 0.01 * rng.uniform(size=200)
    return jnp.asarray(e), jnp.asarray(x), jnp.asarray(y), jnp.asarray(rng.normal(size=200))


def test_soft_spearman_tends_to_spearman(vectors):
    _, x, y, _ = vectors
    ranks = jnp.asarray(rankdata(np.asarray(y)))
    true = spearmanr(np.asarray(x), np.asarray(y)).statistic
    assert float(soft_spearman(x, ranks, 1e-9)) == pytest.approx(true, abs=1e-6)
    assert abs(float(soft_spearman(x, ranks, 0.1)) - true) > 1e-4  # soft at larger softness


def test_wasserstein_matches_scipy(vectors):
    e, x, y, _ = vectors
    ours = float(wasserstein_loss(e, x, y))
    ref = wasserstein_distance(np.asarray(e), np.asarray(e), np.asarray(x), np.asarray(y))
    assert ours == pytest.approx(ref, rel=0.02)  # trapezoid vs point masses on a 2.3 cm⁻¹ grid


@pytest.mark.parametrize("name", ["spearman", "wasserstein", "l2", "peak"])
def test_loss_gradients_match_fd(vectors, name):
    e, x, y, d = vectors
    ranks = jnp.asarray(rankdata(np.asarray(y)))
    freqs = jnp.asarray([150.0, 205.0, 377.0])
    fns = {
        "spearman": (lambda v: soft_spearman(v, ranks, 0.05), x),
        "wasserstein": (lambda v: wasserstein_loss(e, v, y), x),
        "l2": (lambda v: l2_loss(v, y), x),
        "peak": (lambda f: peak_loss(f, jnp.array([1, 2, 0]), jnp.array([200.0, 380.0, 0.0]), jnp.array([3.0, 4.0, 1.0]),
                                     jnp.array([1.0, 1.0, 0.0])), freqs),
    }
    f, x0 = fns[name]
    direction = d[: x0.size] if name != "peak" else jnp.array([0.3, -1.0, 0.5])
    g = jax.grad(f)(x0)
    assert float(jnp.sum(g * direction)) == pytest.approx(float(_fd(f, x0, direction)), rel=1e-5, abs=1e-10)


def test_peak_loss_ignores_padding():
    f = jnp.array([100.0, 210.0])
    val = peak_loss(f, jnp.array([1, 0]), jnp.array([200.0, 5000.0]), jnp.array([5.0, 1.0]), jnp.array([1.0, 0.0]))
    assert float(val) == pytest.approx(4.0)
