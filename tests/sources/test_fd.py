"""Finite-difference helper on an analytic model (harmonic springs + a cubic term)."""

import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.sources import DEFAULT_STEP_ANGSTROM, finite_difference_hessian

rng = np.random.default_rng(0)
A = rng.normal(size=(9, 9))
K = A @ A.T  # quadratic part, eV/Å²
C = 0.3       # cubic coefficient, eV/Å³


def grad(x):  # E = ½ xᵀKx + C Σ x³  →  g = Kx + 3C x²
    x = np.asarray(x).reshape(-1)
    return (K @ x + 3 * C * x**2).reshape(-1, 3)


def test_exact_for_quadratic_and_second_order_for_cubic():
    x0 = rng.normal(size=(3, 3)) * 0.1
    h = finite_difference_hessian(grad, x0)
    exact = K + np.diag(6 * C * x0.reshape(-1))
    np.testing.assert_allclose(h, exact, atol=1e-9)  # central differences are exact up to cubic terms
    np.testing.assert_array_equal(h, h.T)


def test_threads_give_the_same_result():
    x0 = np.zeros((3, 3))
    np.testing.assert_array_equal(finite_difference_hessian(grad, x0, n_workers=1),
                                  finite_difference_hessian(grad, x0, n_workers=3))


def test_default_step_documented_value():
    assert DEFAULT_STEP_ANGSTROM == 0.005


@pytest.mark.parametrize("kw, match", [({"step_angstrom": 0.0}, "step must be positive"),
                                       ({"n_workers": 0}, "n_workers must be at least 1")])
def test_bad_arguments(kw, match):
    with pytest.raises(ConfigError, match=match):
        finite_difference_hessian(grad, np.zeros((3, 3)), **kw)
