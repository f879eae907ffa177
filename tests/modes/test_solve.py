"""Normal modes against analytic cases, invariances and the degeneracy-safe derivative."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.modes import internal_basis, normal_modes, rigid_body_basis, safe_eigh
from hessfit.structures import Structure
from hessfit.units import FREQ_FACTOR_EV_A2
from tests.helpers import methane, rotate_hessian, rotation_matrix, spring_hessian


def test_freq_factor_matches_reference():
    assert FREQ_FACTOR_EV_A2 == pytest.approx(521.4709, abs=1e-4)


def test_diatomic_textbook_frequency():
    """HCl-like spring: ν̃ = C √(k/μ)."""
    k = 32.0
    s = Structure.from_numbers([1, 17], [[0, 0, 0], [0, 0, 1.27]], name="HCl")
    m = normal_modes(s, spring_hessian(s.positions, [(0, 1)], k))
    mu = s.masses[0] * s.masses[1] / s.masses.sum()
    assert m.n_modes == 1
    assert float(m.frequencies_cm1[0]) == pytest.approx(FREQ_FACTOR_EV_A2 * np.sqrt(k / mu), rel=1e-10)


def test_linear_triatomic_stretches():
    """CO2-like linear molecule with bond springs: 3N−5 = 4 modes, symmetric √(k/m_O), antisymmetric √(k(1/m_O+2/m_C))."""
    k = 100.0
    s = Structure.from_numbers([8, 6, 8], [[-1.16, 0, 0], [0, 0, 0], [1.16, 0, 0]], name="CO2")
    assert rigid_body_basis(s.positions, s.masses).shape[1] == 5
    m = normal_modes(s, spring_hessian(s.positions, [(0, 1), (1, 2)], k))
    f = np.sort(np.asarray(m.frequencies_cm1))
    mo, mc = s.masses[0], s.masses[1]
    assert m.n_modes == 4
    assert np.allclose(f[:2], 0.0, atol=1e-3)  # bends have no restoring force with central springs
    assert f[2] == pytest.approx(FREQ_FACTOR_EV_A2 * np.sqrt(k / mo), rel=1e-10)
    assert f[3] == pytest.approx(FREQ_FACTOR_EV_A2 * np.sqrt(k * (1 / mo + 2 / mc)), rel=1e-10)


def test_isotope_shift_xh_stretch():
    """C–H → C–D stretch ratio √(μ_CH/μ_CD) ≈ 0.73."""
    s = Structure.from_numbers([6, 1], [[0, 0, 0], [0, 0, 1.09]], name="CH")
    h = spring_hessian(s.positions, [(0, 1)], 30.0)
    f_h = float(normal_modes(s, h).frequencies_cm1[0])
    sd = s.deuterated()
    f_d = float(normal_modes(sd, h).frequencies_cm1[0])
    mu = lambda a, b: a * b / (a + b)  # noqa: E731
    assert f_d / f_h == pytest.approx(np.sqrt(mu(*s.masses) / mu(*sd.masses)), rel=1e-10)
    assert 0.72 < f_d / f_h < 0.74


def test_real_molecule_counts_and_invariance(qm9_molecule):
    s, h = qm9_molecule
    m = normal_modes(s, h)
    assert m.n_modes == 3 * s.n_atoms - 6
    v = np.asarray(m.vectors).reshape(m.n_modes, -1)
    assert np.allclose(v @ v.T, np.eye(m.n_modes), atol=1e-10)
    rb = rigid_body_basis(s.positions, s.masses)
    assert np.max(np.abs(v @ rb)) < 1e-10  # modes free of rigid-body motion
    rot = rotation_matrix(1)
    s2 = Structure(s.numbers, s.positions @ rot.T + np.array([3.0, -1.0, 2.0]), s.masses)
    m2 = normal_modes(s2, rotate_hessian(h, rot))
    assert np.allclose(m.frequencies_cm1, m2.frequencies_cm1, atol=1e-8)
    # QM9 reference frequencies for this molecule are typical organic values
    assert 3000 < float(m.frequencies_cm1[-1]) < 3200


def test_internal_basis_is_orthonormal_complement(qm9_molecule):
    s, _ = qm9_molecule
    c = internal_basis(s.positions, s.masses)
    rb = rigid_body_basis(s.positions, s.masses)
    assert c.shape == (3 * s.n_atoms, 3 * s.n_atoms - 6)
    assert np.allclose(c.T @ c, np.eye(c.shape[1]), atol=1e-12)
    assert np.max(np.abs(c.T @ rb)) < 1e-12


def test_safe_eigh_gradient_finite_on_degenerate_matrix():
    """Naive eigh gives NaN/inf gradients at degeneracy; safe_eigh gives the exact derivative of invariants."""
    a = jnp.diag(jnp.array([1.0, 1.0, 2.0, 3.0]))

    def invariant(fn, x):  # trace of a spectral function: invariant under rotations in degenerate subspaces
        w, v = fn(x)
        return jnp.sum((v * v) @ jnp.sqrt(w))

    g_safe = jax.grad(lambda x: invariant(safe_eigh, x))(a)
    g_naive = jax.grad(lambda x: invariant(jnp.linalg.eigh, x))(a)
    assert np.all(np.isfinite(g_safe))
    assert not np.all(np.isfinite(g_naive))
    # exact: d/dA tr f(A) = f'(A) = diag(1/(2√λ))
    assert np.allclose(np.diag(g_safe), 0.5 / np.sqrt([1.0, 1.0, 2.0, 3.0]), atol=1e-12)


def test_frequency_gradient_degenerate_methane_matches_fd():
    s, h = methane()
    m = normal_modes(s, h)
    f = np.asarray(m.frequencies_cm1)
    assert np.sum(np.isclose(f, f[-2], rtol=1e-8)) == 3  # triply degenerate T2 stretch
    basis = jnp.asarray(internal_basis(s.positions, s.masses))
    from hessfit.modes import modes_from_hessian

    def loss(hh):
        freqs = modes_from_hessian(hh, jnp.asarray(s.masses), basis).frequencies_cm1
        return jnp.sum(freqs**1.5)

    rng = np.random.default_rng(0)
    d = rng.normal(size=h.shape)
    d = d + d.T
    g = jax.grad(loss)(jnp.asarray(h))
    eps = 1e-5
    fd = (loss(jnp.asarray(h + eps * d)) - loss(jnp.asarray(h - eps * d))) / (2 * eps)
    assert np.isfinite(np.asarray(g)).all()
    assert float(jnp.sum(g * d)) == pytest.approx(float(fd), rel=1e-6)


def test_without_rigid_body_motion_keeps_the_internal_modes_and_zeroes_the_rigid_ones():
    """A non-stationary-looking Hessian (springs plus curvature along rotations and translations plus noise):
    after projection the rigid-body displacements (Cartesian translations, rotations ω × r about any point) give
    zero force, the internal frequencies are unchanged, it is symmetric and idempotent, and curvature added only
    along rigid-body motion is removed exactly."""
    from hessfit.modes import without_rigid_body_motion

    s, h_springs = methane()
    rng = np.random.default_rng(0)
    noise = rng.normal(size=h_springs.shape)
    b = rigid_body_basis(s.positions, s.masses)
    sqm = np.repeat(np.sqrt(s.masses), 3)
    c = rng.normal(size=(b.shape[1],) * 2)
    rigid_curvature = np.outer(sqm, sqm) * (b @ (c @ c.T) @ b.T)  # only along rigid-body motion
    h = h_springs + 0.05 * (noise + noise.T) + rigid_curvature
    p = without_rigid_body_motion(s.positions, s.masses, h)
    np.testing.assert_allclose(p, p.T, atol=1e-12)
    for k in range(3):
        t = np.zeros_like(s.positions)
        t[:, k] = 1.0
        axis = np.eye(3)[k]
        rotation = np.cross(axis, s.positions - np.array([0.3, -0.2, 0.5]))  # about a point off the centre
        for d in (t, rotation):
            assert np.abs(p @ d.ravel()).max() < 1e-10
    np.testing.assert_allclose(np.asarray(normal_modes(s, p).frequencies_cm1),
                               np.asarray(normal_modes(s, h).frequencies_cm1), atol=1e-8)
    np.testing.assert_allclose(without_rigid_body_motion(s.positions, s.masses, p), p, atol=1e-10)
    np.testing.assert_allclose(without_rigid_body_motion(s.positions, s.masses, h - rigid_curvature), p, atol=1e-10)
    assert np.abs(h @ rotation.ravel()).max() > 1.0  # the unprojected one had rotational curvature
