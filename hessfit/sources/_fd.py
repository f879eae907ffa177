"""Hessians by central finite differences of analytic gradients.

For Cartesian coordinate k (3N of them) and step h,

    H[k, :] = (g(x + h e_k) − g(x − h e_k)) / (2h),      then  H ← (H + Hᵀ) / 2,

with g the gradient (= −forces) in eV/Å. That is 6N gradient evaluations. The truncation error is
O(h²) — relative h²·E⁗/(6·E″), about 1e-5 for bond stretches at the default step
h = 0.005 Å — and the noise is (gradient noise)/h, so the step should be no smaller than
needed: 0.005 Å keeps both below 0.1 cm⁻¹ for converged xTB/MMFF gradients (checked in
tests/sources against finite differences of energies). Displacements are independent and can run
in a thread pool; backends whose calls release the GIL (tblite) then run them in parallel.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from hessfit.errors import ConfigError

#: default finite-difference step in Å (documented above and in docs/sources.md)
DEFAULT_STEP_ANGSTROM = 0.005


def finite_difference_hessian(gradient_fn: Callable[[np.ndarray], np.ndarray], positions: np.ndarray, *,
                              step_angstrom: float = DEFAULT_STEP_ANGSTROM, n_workers: int = 1) -> np.ndarray:
    """Symmetrised central-difference Hessian from a gradient function.

    Args:
        gradient_fn: positions (N, 3) Å → gradient dE/dx (N, 3) eV/Å. Must be thread-safe when ``n_workers > 1``.
        positions: (N, 3) float, Å, the reference geometry.
        step_angstrom: displacement h in Å (each coordinate moved by ±h).
        n_workers: displacements evaluated concurrently in this many threads.

    Returns:
        (3N, 3N) float64 Hessian in eV/Å², symmetric.
    """
    if not step_angstrom > 0:
        raise ConfigError(f"finite-difference step must be positive, got {step_angstrom} Å")
    if n_workers < 1:
        raise ConfigError(f"n_workers must be at least 1, got {n_workers}")
    x0 = np.asarray(positions, float)
    n3 = x0.size
    displaced = []
    for k in range(n3):
        for sign in (1.0, -1.0):
            x = x0.copy().reshape(-1)
            x[k] += sign * step_angstrom
            displaced.append(x.reshape(x0.shape))

    def grad(x):
        return np.asarray(gradient_fn(x), float).reshape(-1)

    if n_workers == 1:
        grads = [grad(x) for x in displaced]
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            grads = list(pool.map(grad, displaced))
    g = np.asarray(grads).reshape(n3, 2, n3)
    h = (g[:, 0] - g[:, 1]) / (2.0 * step_angstrom)
    return 0.5 * (h + h.T)
