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


def _nnls_problem(seed, k=3, n=60):
    rng = np.random.default_rng(seed)
    basis = np.abs(rng.normal(size=(n, k)))
    y = basis @ rng.normal(size=k) + 0.1 * rng.normal(size=n)  # true coefficients of both signs
    return basis, y


@pytest.mark.parametrize("seed", range(8))
def test_positive_nuisance_fit_matches_scipy_nnls(seed):
    from scipy.optimize import nnls

    from hessfit.refine._losses import positive_nuisance_fit

    basis, y = _nnls_problem(seed)
    lower = np.array([0.2, 0.0, 0.0])
    w = np.random.default_rng(100 + seed).integers(0, 2, size=y.size).astype(float)  # 0/1 weights (a hold-out)
    ours = np.asarray(positive_nuisance_fit(jnp.asarray(basis), jnp.asarray(y), lower, weights=jnp.asarray(w)))
    # c = lower + d, d = NNLS(w·basis, w·(y − basis·lower))
    d, _ = nnls(basis * w[:, None], w * (y - basis @ lower))
    np.testing.assert_allclose(ours, lower + d, rtol=1e-8, atol=1e-10)
    assert np.all(ours >= lower)


def test_positive_nuisance_fit_never_negative_where_least_squares_is():
    """An anti-correlated simulation: unconstrained least squares gives a negative scale, the bounded fit the floor."""
    from hessfit.refine._losses import linear_nuisance_fit, positive_nuisance_fit

    e = np.linspace(0.0, 1.0, 200)
    s = np.exp(-0.5 * ((e - 0.5) / 0.05) ** 2)
    y = 1.0 - s + 0.01 * np.sin(40 * e)
    cols = jnp.asarray(np.stack([s, np.ones_like(e)], axis=1))
    assert float(linear_nuisance_fit(cols, jnp.asarray(y))[0]) < -0.9
    c = np.asarray(positive_nuisance_fit(cols, jnp.asarray(y), np.array([1e-3, 0.0])))
    assert c[0] == pytest.approx(1e-3) and c[1] == pytest.approx(np.mean(y - 1e-3 * s), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 3])
def test_positive_nuisance_fit_gradient_matches_fd(seed):
    from hessfit.refine._losses import positive_nuisance_fit

    basis, y = _nnls_problem(seed)
    lower = np.array([0.05, 0.0, 0.0])
    d = np.random.default_rng(7).normal(size=y.size)

    def f(yv):  # one coefficient bound, others free: differentiable away from active-set changes
        c = positive_nuisance_fit(jnp.asarray(basis), yv, lower)
        return jnp.sum(c * jnp.array([1.0, -2.0, 0.5]))

    y = jnp.asarray(y)
    g = jax.grad(f)(y)
    assert float(jnp.sum(g * d)) == pytest.approx(float(_fd(f, y, jnp.asarray(d), eps=1e-6)), rel=1e-6, abs=1e-9)
    # and with respect to the basis (the simulated spectrum is a column)
    db = np.random.default_rng(8).normal(size=basis.shape)

    def fb(bv):
        return jnp.sum(positive_nuisance_fit(bv, y, lower) * jnp.array([1.0, -2.0, 0.5]))

    gb = jax.grad(fb)(jnp.asarray(basis))
    assert float(jnp.sum(gb * db)) == pytest.approx(float(_fd(fb, jnp.asarray(basis), jnp.asarray(db))), rel=1e-6,
                                                    abs=1e-9)
