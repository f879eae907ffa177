"""A tiny dataset of the three bundled QM9 molecules and a tiny model config for fast training tests."""

import pytest

from hessfit.model import ModelConfig

TINY32 = dict(n_layers=2, n_scalars=8, n_vectors=4, n_tensors=4, max_ell=2, n_radial_basis=4, radial_hidden=(8,),
              cutoff_angstrom=4.0, avg_num_neighbors=14.0, dtype="float32")


@pytest.fixture(scope="session")
def tiny_dataset(data_dir):
    from hessfit.structures import read_hessian, read_structure
    from hessfit.structures._dataset import from_arrays

    structures, hessians = [], []
    for name in ("qm9_100001", "qm9_100003", "qm9_100100"):
        s = read_structure(data_dir / "qm9" / f"{name}.xyz")
        structures.append(s)
        hessians.append(read_hessian(data_dir / "qm9" / f"{name}_hessian.npy", n_atoms=s.n_atoms))
    return from_arrays([s.numbers for s in structures], [s.positions for s in structures], hessians)


@pytest.fixture(scope="session")
def tiny32():
    return ModelConfig(**TINY32)
