"""Independent reference routes for the backend tests.

`energy_fd_hessian` builds the Hessian from *energies only* (second differences), so it shares
nothing with the sources' gradient-based finite differences or analytic Hessians except the
backend's energy function:

    H_ii = (E(+h_i) − 2E₀ + E(−h_i)) / h²
    H_ij = (E(+h_i+h_j) − E(+h_i−h_j) − E(−h_i+h_j) + E(−h_i−h_j)) / (4h²)

Both have an O(h²) error (about 1.5 cm⁻¹ on O–H stretches at h = 0.01 Å), so
`energy_fd_hessian_richardson` combines h and h/2: (4·H(h/2) − H(h)) / 3, error O(h⁴).
"""

from __future__ import annotations

import numpy as np


def energy_fd_hessian(energy_fn, positions, *, step_angstrom: float = 0.01) -> np.ndarray:
    """(3N, 3N) Hessian (eV/Å²) from an energy function positions (N, 3) Å → eV."""
    x0 = np.asarray(positions, float).reshape(-1)
    n = x0.size
    h = step_angstrom

    def e(*disp):
        x = x0.copy()
        for k, s in disp:
            x[k] += s * h
        return energy_fn(x.reshape(-1, 3))

    e0 = e()
    plus = [e((i, 1)) for i in range(n)]
    minus = [e((i, -1)) for i in range(n)]
    hess = np.zeros((n, n))
    for i in range(n):
        hess[i, i] = (plus[i] - 2 * e0 + minus[i]) / h**2
        for j in range(i + 1, n):
            v = (e((i, 1), (j, 1)) - e((i, 1), (j, -1)) - e((i, -1), (j, 1)) + e((i, -1), (j, -1))) / (4 * h**2)
            hess[i, j] = hess[j, i] = v
    return hess


def frequencies(structure, hessian) -> np.ndarray:
    """Sorted 3N−6 (3N−5) harmonic frequencies in cm⁻¹ via hessfit.modes."""
    from hessfit.modes import normal_modes

    return np.asarray(normal_modes(structure, hessian).frequencies_cm1)


def assert_hessian_properties(h: np.ndarray, n_atoms: int, *, sum_rule_rel: float = 1e-3) -> None:
    """Shape, symmetry, finiteness and the translational sum rule Σ_j H_(i, 3j+a) ≈ 0."""
    assert h.shape == (3 * n_atoms, 3 * n_atoms)
    assert np.all(np.isfinite(h))
    np.testing.assert_array_equal(h, h.T)
    sums = h.reshape(3 * n_atoms, n_atoms, 3).sum(axis=1)
    assert np.max(np.abs(sums)) <= sum_rule_rel * np.max(np.abs(h)), np.max(np.abs(sums)) / np.max(np.abs(h))


def energy_fd_hessian_richardson(energy_fn, positions, *, step_angstrom: float = 0.01) -> np.ndarray:
    """Richardson-extrapolated energy Hessian (4·H(h/2) − H(h)) / 3, eV/Å²."""
    h1 = energy_fd_hessian(energy_fn, positions, step_angstrom=step_angstrom)
    h2 = energy_fd_hessian(energy_fn, positions, step_angstrom=step_angstrom / 2)
    return (4 * h2 - h1) / 3
