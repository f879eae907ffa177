"""Shared fixtures for tests/compare: the bundled n-hexane data (data/hexane/, see its README for provenance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

HEXANE_DIR = Path(__file__).resolve().parents[2] / "data" / "hexane"


@pytest.fixture(scope="session")
def hexane():
    """(Structure, MMFF94 Hessian in eV/Å²) of all-trans n-hexane (bundled)."""
    from hessfit.structures import read_hessian, read_structure

    s = read_structure(HEXANE_DIR / "hexane_rdkit_mmff.xyz")
    h = read_hessian(HEXANE_DIR / "hexane_rdkit_mmff_hessian_mmff94.npy", n_atoms=s.n_atoms)
    return s, h


@pytest.fixture(scope="session")
def hexane_modes(hexane):
    from hessfit.modes import normal_modes

    s, h = hexane
    return normal_modes(s, h)


@pytest.fixture(scope="session")
def hexane_tfxa():
    from hessfit.compare import read_spectrum

    return read_spectrum(HEXANE_DIR / "hexane_tfxa.dat")


@pytest.fixture(scope="session")
def tosca_order1(hexane):
    """Order-1 TOSCA (two banks) simulation of hexane, 10 K, 1 cm⁻¹ bins up to 3600 cm⁻¹."""
    from hessfit.ins import InsConfig, simulate

    s, h = hexane
    cfg = InsConfig(instrument="tosca", max_order=1, e_max_cm1=3600.0)
    return cfg, simulate(s, h, cfg)


@pytest.fixture(scope="session")
def hexane_result(hexane, hexane_tfxa):
    """The real comparison: bundled TFXA spectrum vs the MMFF94 Hessian, TFXA resolution, orders 1–2, 10 K."""
    from hessfit.compare import assign_spectrum
    from hessfit.ins import InsConfig

    s, h = hexane
    return assign_spectrum(s, h, hexane_tfxa, ins_config=InsConfig(instrument="tfxa", max_order=2))
