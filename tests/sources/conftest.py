"""Shared fixtures for tests/sources: small molecules, one OpenMP thread (the CI machine has 2 shared cores)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402

from hessfit.structures import Structure  # noqa: E402


def _ase_molecule(name: str, label: str) -> Structure:
    from ase.build import molecule

    a = molecule(name)
    return Structure.from_numbers(a.numbers, a.positions, name=label)


@pytest.fixture
def water() -> Structure:
    return _ase_molecule("H2O", "water")


@pytest.fixture
def ethanol() -> Structure:
    return _ase_molecule("CH3CH2OH", "ethanol")


def has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


needs_xtb = pytest.mark.skipif(not has_module("tblite"), reason="tblite not installed (pip install 'hessfit[xtb]')")
needs_rdkit = pytest.mark.skipif(not has_module("rdkit"), reason="rdkit not installed (pip install 'hessfit[mmff]')")
needs_pyscf = pytest.mark.skipif(not has_module("pyscf"), reason="pyscf not installed (pip install 'hessfit[dft]')")
needs_dask = pytest.mark.skipif(not (has_module("distributed") and has_module("rdkit")),
                                reason="dask.distributed/rdkit not installed (pip install 'hessfit[dataset]')")
