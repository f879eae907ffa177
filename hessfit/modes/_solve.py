"""Normal-mode analysis: mass weighting, Eckart projection, frequencies and displacement vectors.

Conventions (as Abins, abinslib and OCLIMAX): mass-weighted eigenvectors e_ν are orthonormal,
Σ_i |e_νi|² = 1; the Cartesian displacement pattern of atom i is e_νi/√m_i. Frequencies are
ν̃ = 521.4709·√λ cm⁻¹ for λ in eV Å⁻² amu⁻¹; imaginary modes are reported as negative ν̃.
Translations and rotations are removed exactly by diagonalising in the orthonormal complement of
the rigid-body vectors (3N−6 modes, 3N−5 for linear molecules), which makes the result invariant
to rigid motions of the input and free of spurious near-zero modes.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from hessfit.modes._eigh import safe_eigh
from hessfit.structures import validate_hessian
from hessfit.units import FREQ_FACTOR_EV_A2


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Modes:
    """Internal normal modes of a molecule (a JAX pytree).

    Attributes:
        frequencies_cm1: (M,) float, cm⁻¹, ascending; imaginary modes negative.
        vectors: (M, N, 3) float, orthonormal mass-weighted eigenvectors (dimensionless).
        masses: (N,) float, amu.
    """

    frequencies_cm1: jax.Array
    vectors: jax.Array
    masses: jax.Array

    @property
    def n_modes(self) -> int:
        return int(self.frequencies_cm1.shape[0])

    @property
    def cartesian_displacements(self) -> jax.Array:
        """(M, N, 3) Cartesian displacement patterns e_νi/√m_i, each normalised to unit length (Å per unit)."""
        u = self.vectors / jnp.sqrt(self.masses)[None, :, None]
        return u / jnp.linalg.norm(u.reshape(u.shape[0], -1), axis=1)[:, None, None]

    @property
    def frequencies_mev(self) -> jax.Array:
        from hessfit.units import CM1_PER_MEV

        return self.frequencies_cm1 / CM1_PER_MEV


def rigid_body_basis(positions: np.ndarray, masses: np.ndarray, *, rel_tol: float = 1e-6) -> np.ndarray:
    """Orthonormal mass-weighted translation/rotation vectors, (3N, k) with k = 6 (5 if linear, 3 for an atom)."""
    positions = np.asarray(positions, float)
    masses = np.asarray(masses, float)
    n = len(masses)
    sqm = np.sqrt(masses)
    com = (masses[:, None] * positions).sum(0) / masses.sum()
    r = positions - com
    vecs = []
    for k in range(3):
        t = np.zeros((n, 3))
        t[:, k] = sqm
        vecs.append(t.ravel())
    for k in range(3):
        axis = np.zeros(3)
        axis[k] = 1.0
        vecs.append((np.cross(axis, r) * sqm[:, None]).ravel())
    u, s, _ = np.linalg.svd(np.array(vecs).T, full_matrices=False)
    return u[:, s > rel_tol * s.max()]


def without_rigid_body_motion(positions: np.ndarray, masses: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """A molecule's Cartesian Hessian (3N, 3N) eV/Å² with its rigid-body motion projected out (Eckart):
    M^½ P M^-½ H M^-½ P M^½, P the projector off `rigid_body_basis`. Its internal modes are those of ``hessian``;
    translations and rotations of the molecule have zero curvature, which an isolated molecule's force field
    should have but a network or a non-stationary geometry does not give exactly. NumPy."""
    b = rigid_body_basis(positions, masses)
    sqm = np.repeat(np.sqrt(np.asarray(masses, float)), 3)
    h = np.asarray(hessian, float)
    mw = 0.5 * (h + h.T) / np.outer(sqm, sqm)
    mw = mw - b @ (b.T @ mw)
    mw = mw - (mw @ b) @ b.T
    return 0.5 * (mw + mw.T) * np.outer(sqm, sqm)


def orthogonal_complement(vectors: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n, n−k) of the space orthogonal to the orthonormal columns of ``vectors`` (n, k)."""
    q, _ = np.linalg.qr(np.concatenate([vectors, np.eye(vectors.shape[0])], axis=1))
    return q[:, vectors.shape[1]:]


def internal_basis(positions: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Orthonormal basis (3N, 3N−k) of the mass-weighted space orthogonal to rigid-body motion."""
    return orthogonal_complement(rigid_body_basis(positions, masses))


def vibrational_basis(structure) -> np.ndarray:
    """Basis of the vibrations: without the 6 (5) rigid-body motions for a molecule, without the 3 uniform
    translations (acoustic modes at Γ) for a crystal (``structure.is_crystal``; hessfit.modes._crystal)."""
    if getattr(structure, "is_crystal", False):
        from hessfit.modes._crystal import crystal_basis

        return crystal_basis(structure.masses)
    return internal_basis(structure.positions, structure.masses)


def modes_from_hessian(hessian: jax.Array, masses: jax.Array, basis: jax.Array) -> Modes:
    """Differentiable core: (3N, 3N) Hessian (eV/Å²), masses (N,) amu, internal basis (3N, M) → Modes."""
    inv_sqrt_m = jnp.repeat(1.0 / jnp.sqrt(masses), 3)
    h = 0.5 * (hessian + hessian.T)
    d = h * inv_sqrt_m[:, None] * inv_sqrt_m[None, :]
    w, v = safe_eigh(basis.T @ d @ basis)
    freqs = FREQ_FACTOR_EV_A2 * jnp.sign(w) * jnp.sqrt(jnp.maximum(jnp.abs(w), 1e-30))
    vectors = (basis @ v).T.reshape(w.shape[0], -1, 3)
    return Modes(frequencies_cm1=freqs, vectors=vectors, masses=jnp.asarray(masses))


_modes_jitted = jax.jit(modes_from_hessian)


def normal_modes(structure, hessian) -> Modes:
    """Normal modes of ``structure`` (hessfit.structures.Structure) with ``hessian`` (3N, 3N) in eV/Å².

    The Hessian is validated (shape, atom count, finiteness, symmetry) unless it is a JAX tracer.
    A crystal (``structure.is_crystal``) gives its 3N−3 Γ modes (only the acoustic translations removed).
    """
    basis = jnp.asarray(vibrational_basis(structure))
    if isinstance(hessian, jax.core.Tracer):
        return modes_from_hessian(hessian, jnp.asarray(structure.masses), basis)
    hessian = validate_hessian(hessian, n_atoms=structure.n_atoms, source=f"Hessian of {structure.name}")
    # concrete input: one compiled program (found in the persistent compilation cache) instead of ~30 op dispatches
    return _modes_jitted(jnp.asarray(hessian), jnp.asarray(structure.masses), basis)
