"""A tiny dataset of the three bundled QM9 molecules and a tiny model config for fast training tests."""

import jax
import jax.numpy as jnp
import numpy as np
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


def directional_derivatives(f, params, seed: int, eps: float = 1e-5) -> tuple[float, float]:
    """(autodiff, central finite difference) derivatives of the scalar ``f(params)`` along a random normal
    direction in parameter space (``f`` jitted: one compiled program for both finite-difference points)."""
    grad = jax.jit(jax.grad(f))(params)
    leaves, tree = jax.tree_util.tree_flatten(params)
    rng = np.random.default_rng(seed)
    direction = jax.tree_util.tree_unflatten(tree, [rng.normal(size=np.shape(x)) for x in leaves])
    shifted = [jax.tree_util.tree_map(lambda p, d, s=s: p + s * eps * d, params, direction) for s in (1, -1)]
    fd = (float(f(shifted[0])) - float(f(shifted[1]))) / (2 * eps)
    analytic = sum(float(jnp.vdot(g, d)) for g, d in zip(jax.tree_util.tree_leaves(grad),
                                                         jax.tree_util.tree_leaves(direction)))
    return analytic, fd
