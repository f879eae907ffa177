"""Shared test setup: float64 JAX for the test process (tests call low-level factories too; that the public entry
points run in float64 without it is checked in tests/test_library_hygiene.py), XLA with most optimisations off,
paths to bundled data.

The suite is dominated by XLA compilation of small programs run once (training steps, Hessians of tiny models);
skipping XLA's optimisation passes cut two training test files from 4:09 to 3:08 on one core and changes no
result beyond rounding. Subprocesses (the CLI tests, the README command in .ci/run) run XLA as users do."""

from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_disable_most_optimizations", True)

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
