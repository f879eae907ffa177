"""Geometry optimisation with backend forces and the max-force warning."""

import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.sources import MAX_FORCE_WARN_EV_A, check_max_force, get_source, max_force, optimize
from hessfit.structures import HessfitWarning, Structure

from .conftest import needs_rdkit, needs_xtb


def _distorted(s: Structure, amount=0.08, seed=1) -> Structure:
    rng = np.random.default_rng(seed)
    return Structure.from_numbers(s.numbers, s.positions + rng.normal(scale=amount, size=s.positions.shape),
                                  name=s.name)


@needs_xtb
@pytest.mark.parametrize("optimizer", ["BFGS", "LBFGS"])
def test_optimize_reaches_fmax_and_lowers_energy(ethanol, optimizer):
    start = _distorted(ethanol)
    e0, _ = get_source("xtb").energy_forces(start)
    res = optimize(start, "xtb", fmax_eV_A=0.01, optimizer=optimizer)
    assert res.converged and res.max_force_eV_A <= 0.01 and res.n_steps > 0
    assert res.energy_eV < e0
    assert res.level_of_theory == "GFN2-xTB" and res.optimizer == optimizer
    assert max_force(res.structure, "xtb") == pytest.approx(res.max_force_eV_A, abs=1e-6)
    assert res.structure.name == "ethanol" and np.array_equal(res.structure.numbers, ethanol.numbers)


@needs_rdkit
def test_not_converged_is_reported_not_raised(ethanol):
    res = optimize(_distorted(ethanol, 0.05), "mmff", fmax_eV_A=1e-4, max_steps=2)
    assert not res.converged and res.n_steps == 2 and res.max_force_eV_A > 1e-4


@needs_rdkit
def test_check_max_force_warns_only_off_equilibrium(water):
    opt = optimize(water, "mmff", fmax_eV_A=0.005).structure
    with pytest.warns(HessfitWarning, match=r"maximum force .* \(MMFF94\) is above 0.05 eV/Å.*--optimize"):
        f = check_max_force(_distorted(water, 0.1), "mmff")
    assert f > MAX_FORCE_WARN_EV_A
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_max_force(opt, "mmff") <= 0.005


def test_bad_options(water):
    with pytest.raises(ConfigError, match="unknown optimiser 'Newton'"):
        optimize(water, "mmff", optimizer="Newton")
    with pytest.raises(ConfigError, match="source 'file' gives no forces"):
        optimize(water, get_source("file", path="h.npy"))
