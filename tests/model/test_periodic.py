"""Periodic graphs: a crystal's network Hessian is its Γ-point Hessian (edges to periodic images)."""

import numpy as np
import pytest

from hessfit.model import predict_hessian
from hessfit.structures import HessfitWarning, Structure, supercell


def _fold(h_super: np.ndarray, n_cell: int, n_images: int) -> np.ndarray:
    """Γ-point Hessian of the cell from a supercell's: H(i, j) = Σ_L H_super(i in image 0, j in image L)
    (supercell atom order: image-major, `hessfit.structures.supercell`)."""
    blocks = h_super.reshape(n_images, n_cell, 3, n_images, n_cell, 3)[0]  # rows: the atoms of image 0
    return blocks.sum(axis=2).reshape(3 * n_cell, 3 * n_cell)


@pytest.fixture(scope="module")
def cell():
    """Two CH molecules in a 3.6 × 3.8 × 4.2 Å cell: shorter than the 4 Å cutoff along a, so atoms see their own
    images and several images of each neighbour."""
    pos = np.array([[0.2, 0.3, 0.1], [1.25, 0.35, 0.2], [1.9, 2.1, 2.3], [1.95, 2.2, 3.35]])
    return Structure(np.array([6, 1, 6, 1]), pos, np.array([12.011, 1.008, 12.011, 1.008]), name="ch_cell",
                     cell=np.diag([3.6, 3.8, 4.2]))


@pytest.mark.parametrize("which", ["tiny_model", "tiny_block_model"])
def test_cell_hessian_is_the_folded_supercell_hessian(cell, which, request):
    model = request.getfixturevalue(which)
    with pytest.warns(HessfitWarning, match="intermolecular blocks come from contacts"):
        h_cell = predict_hessian(cell, model)
        h_super = predict_hessian(supercell(cell, (2, 2, 2)), model)
    np.testing.assert_allclose(h_cell, h_cell.T, atol=1e-10)
    assert np.abs(h_cell.reshape(4, 3, 4, 3).sum(axis=2)).max() < 1e-8 * np.abs(h_cell).max()  # sum rule
    np.testing.assert_allclose(h_cell, _fold(h_super, 4, 8), atol=1e-8 * np.abs(h_cell).max())


def test_a_molecule_in_a_wide_cell_is_the_molecule(tiny_model, cell):
    wide = Structure(cell.numbers[:2], cell.positions[:2], cell.masses[:2], name="ch", cell=np.eye(3) * 20.0)
    mol = Structure(cell.numbers[:2], cell.positions[:2], cell.masses[:2], name="ch")
    with pytest.warns(HessfitWarning):
        h_wide = predict_hessian(wide, tiny_model)
    np.testing.assert_allclose(h_wide, predict_hessian(mol, tiny_model), atol=1e-12)
