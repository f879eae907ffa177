"""GFN2-xTB source: Hessian from finite differences of analytic gradients vs second differences of energies.

Reference route: tblite energies only (tests/sources/_reference.py: second differences at 0.01 and
0.005 Å, Richardson-extrapolated), at the geometry optimised with GFN2-xTB forces. Tolerance:
1.0 cm⁻¹ on every mode. Measured max deviation ≈0.3 cm⁻¹ for water and ethanol, the O(h²) error of
the 0.005 Å gradient step (steps 0.005 vs 0.01 Å differ by 0.7–0.8 cm⁻¹). tblite's default
accuracy 1.0 adds ~1–2 cm⁻¹ of SCF noise, hence the source's default accuracy 0.01.
"""

import numpy as np
import pytest

from hessfit.sources import get_source, optimize

from ._reference import assert_hessian_properties, energy_fd_hessian_richardson, frequencies
from .conftest import needs_xtb

pytestmark = needs_xtb


@pytest.mark.parametrize("mol", ["water", "ethanol"])
def test_frequencies_match_energy_finite_differences(mol, request):
    s = request.getfixturevalue(mol)
    src = get_source("xtb", n_workers=1)
    opt = optimize(s, src, fmax_eV_A=0.005)
    assert opt.converged and opt.max_force_eV_A <= 0.005
    res = src.hessian(opt.structure)
    assert res.metadata["source"] == "xtb" and res.level_of_theory == "GFN2-xTB"
    assert res.metadata["method"] == "finite differences of analytic gradients"
    assert_hessian_properties(res.hessian, s.n_atoms)

    energy_gradient = src._make_gradient_fn(opt.structure)  # one calculator, SCF restarted from the last one

    def energy(x):
        return energy_gradient(x)[0]

    ref = frequencies(opt.structure, energy_fd_hessian_richardson(energy, opt.structure.positions))
    f = frequencies(opt.structure, res.hessian)
    print(mol, "xtb max |Δν| vs energy FD (cm-1):", np.max(np.abs(f - ref)), np.round(f, 1))
    np.testing.assert_allclose(f, ref, atol=1.0)
    assert f.min() > 100.0  # a minimum: no imaginary or soft spurious modes


def test_water_matches_tabulated_gfn2(water):
    """GFN2-xTB water frequencies computed once with this code (tblite 0.8.0) and checked against the energy route."""
    src = get_source("xtb", n_workers=1)
    opt = optimize(water, src, fmax_eV_A=0.001)
    f = frequencies(opt.structure, src.hessian(opt.structure).hessian)
    np.testing.assert_allclose(f, [1539.4, 3642.5, 3650.6], atol=2.0)


def test_threads_match_serial(ethanol):
    """Threads restart SCFs from different previous wavefunctions, so results agree to SCF accuracy, not bitwise."""
    h1 = get_source("xtb", n_workers=1).hessian(ethanol).hessian
    h2 = get_source("xtb", n_workers=2).hessian(ethanol).hessian
    np.testing.assert_allclose(h1, h2, atol=1e-4 * np.abs(h1).max())
    np.testing.assert_allclose(frequencies(ethanol, h1), frequencies(ethanol, h2), atol=0.1)


def test_forces_are_minus_gradient_of_energy(water):
    src = get_source("xtb")
    e0, f = src.energy_forces(water)
    d = 1e-4
    x = water.positions.copy()
    x[1, 0] += d
    ep = src.energy_forces(type(water).from_numbers(water.numbers, x))[0]
    x[1, 0] -= 2 * d
    em = src.energy_forces(type(water).from_numbers(water.numbers, x))[0]
    assert abs(-(ep - em) / (2 * d) - f[1, 0]) < 1e-4
