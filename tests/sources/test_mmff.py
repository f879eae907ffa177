"""MMFF94 source: finite differences of RDKit's analytic gradients vs second differences of MMFF energies.

Reference route: RDKit MMFF energies only (Richardson-extrapolated second differences at 0.01/0.005 Å),
at the geometry optimised with MMFF forces. Tolerance 1.0 cm⁻¹ on every mode (measured max ≈0.3 cm⁻¹,
the O(h²) error of the 0.005 Å gradient step).
"""

import numpy as np
import pytest

from hessfit.errors import ValidationError
from hessfit.sources import get_source, optimize
from hessfit.structures import Structure

from ._reference import assert_hessian_properties, energy_fd_hessian_richardson, frequencies
from .conftest import needs_rdkit

pytestmark = needs_rdkit


@pytest.mark.parametrize("mol", ["water", "ethanol"])
def test_frequencies_match_energy_finite_differences(mol, request):
    s = request.getfixturevalue(mol)
    src = get_source("mmff")
    opt = optimize(s, src, fmax_eV_A=0.001)
    assert opt.converged
    res = src.hessian(opt.structure)
    assert res.metadata["source"] == "mmff" and res.level_of_theory == "MMFF94"
    assert_hessian_properties(res.hessian, s.n_atoms)

    def energy(x):
        return src.energy_forces(Structure.from_numbers(s.numbers, x))[0]

    ref = frequencies(opt.structure, energy_fd_hessian_richardson(energy, opt.structure.positions))
    f = frequencies(opt.structure, res.hessian)
    print(mol, "mmff max |Δν| vs energy FD (cm-1):", np.max(np.abs(f - ref)), np.round(f, 1))
    np.testing.assert_allclose(f, ref, atol=1.0)
    assert f.min() > 100.0


def test_water_matches_tabulated_mmff94(water):
    """MMFF94 water frequencies computed once with this code (RDKit 2026.09.1), checked by the energy route."""
    src = get_source("mmff")
    opt = optimize(water, src, fmax_eV_A=0.0005)
    f = frequencies(opt.structure, src.hessian(opt.structure).hessian)
    np.testing.assert_allclose(f, [1581.8, 3721.4, 3781.3], atol=2.0)


def test_mmff94s_variant(ethanol):
    assert get_source("mmff", variant="mmff94s").hessian(ethanol).level_of_theory == "MMFF94s"


def test_wrong_charge_fails_bond_perception(water):
    with pytest.raises(ValidationError, match=r"water: RDKit bond perception failed .*--charge"):
        get_source("mmff", charge=1).hessian(water)


def test_exploded_geometry_fails_bond_perception(water):
    far = Structure.from_numbers(water.numbers, water.positions * 3, name="exploded")
    with pytest.raises(ValidationError, match="exploded: RDKit bond perception failed"):
        get_source("mmff").hessian(far)


def test_missing_parameters():
    with pytest.raises(ValidationError, match="MMFF has no parameters"):
        get_source("mmff").hessian(Structure.from_numbers([54], [[0.0, 0.0, 0.0]], name="xenon"))


@pytest.mark.parametrize("name, backend", [("mmff", "rdkit"), ("dft", "pyscf")])
def test_a_crystal_is_refused_in_one_line(name, backend):
    """MMFF94 (and the molecular DFT source) have no periodic boundaries: a crystal is a clear ConfigError, not an
    RDKit bond-perception failure."""
    from hessfit.errors import ConfigError
    from hessfit.sources import get_source
    from tests.ins.crystal_models import dimer_crystal

    pytest.importorskip(backend)
    s, _, _ = dimer_crystal()
    with pytest.raises(ConfigError, match="a crystal, and .* has no periodic boundaries"):
        get_source(name).hessian(s)
