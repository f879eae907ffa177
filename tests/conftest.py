"""Shared test setup: float64 JAX (set once by importing hessfit), paths to bundled data."""

from pathlib import Path

import pytest

import hessfit  # noqa: F401  (enables jax x64 before any array is created)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def qm9_molecule():
    """(Structure, Hessian eV/Å²) of the bundled C8H16O molecule."""
    from hessfit.structures import read_hessian, read_structure

    s = read_structure(DATA / "qm9" / "qm9_100001.xyz")
    return s, read_hessian(DATA / "qm9" / "qm9_100001_hessian.npy", n_atoms=s.n_atoms)
