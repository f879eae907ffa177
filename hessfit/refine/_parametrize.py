"""Parametrisations of a refined Hessian: H = apply(params) from a seed Hessian H0 (eV/Å²).

Each builder returns a `Parametrization`: initial parameters, bounds, names and a pure JAX
``apply(params) -> H``. Scale parameters are dimensionless factors (1 = seed).

* ``global``    H = s·H0 (the classic frequency scale factor is √s).
* ``classes``   off-diagonal atom-pair blocks scaled per class (element pair, or X–H / X–Y, × topological
                distance 1-2, 1-3, 1-4, beyond), diagonal blocks rebuilt from the translational sum rule H_ii = −Σ_j H_ij.
* ``internal``  Pulay SQM: F'_kl = √(c_k c_l) F_kl in redundant internal coordinates (X–H stretch, X–Y stretch,
                X–H bend (a hydrogen at an end), bend (heavy atoms only), torsion, out-of-plane), H = H0 + Bᵀ(F' − F)B with F = B⁺ᵀ H0 B⁺ (B: Wilson matrix).
* ``free``      H = H0 + P Δ P, Δ symmetric, P the Cartesian projector removing rigid-body motion (a crystal:
                its uniform translations); a prior ‖Δ‖²/‖H0‖² keeps it near the seed (strength in the recipe).

A crystal (`crystal_parametrization`): H0 = H_intra + H_inter (`hessfit.structures.split_intermolecular`); the
recipe acts on H_intra with the molecules made whole, so each scale factor is shared by all molecules of the
cell (symmetry-equivalent or not), and one more factor scales the intermolecular part:
H = recipe(H_intra) + s_inter·H_inter.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax.numpy as jnp
import numpy as np

from hessfit.errors import ConfigError
from hessfit.modes import (group_translation_basis, interacting_groups, rigid_body_basis, sum_rule_hessian,
                           translation_basis)
from hessfit.structures import pair_classes

SQM_TYPES = ("X-H stretch", "X-Y stretch", "X-H bend", "bend", "torsion", "out-of-plane")


@dataclasses.dataclass(frozen=True, eq=False)
class Parametrization:
    """A refinement parametrisation.

    Attributes:
        kind: 'global', 'classes', 'internal' or 'free'.
        names: one label per scalar parameter (empty for 'free').
        init: initial parameters (1-D array).
        lower, upper: bounds (same shape as init), or None when unbounded.
        apply: pure function params → (3N, 3N) Hessian in eV/Å².
        prior: pure function params → dimensionless penalty (0 at the seed).
    """

    kind: str
    names: tuple[str, ...]
    init: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None
    apply: Callable
    prior: Callable


def _zero_prior(params):
    return 0.0


def global_scale(h0, *, bounds=(0.7, 1.3)) -> Parametrization:
    h0 = jnp.asarray(h0)
    return Parametrization("global", ("global scale",), np.ones(1), np.array([bounds[0]]), np.array([bounds[1]]),
                           lambda p: p[0] * h0, _zero_prior)


def class_scales(structure, h0, *, bounds=(0.5, 2.0), grouping: str = "elements") -> Parametrization:
    """Scale factors per atom-pair class; the translational sum rule rebuilds the diagonal blocks.

    ``grouping``: 'elements' (element pair × topological distance, e.g. 'C-H 1-3') or 'hydrogen' (whether a
    hydrogen takes part × distance: 'X-H 1-2' ... 'X-Y far', at most 8 classes).
    """
    if grouping not in ("elements", "hydrogen"):
        raise ConfigError(f"class grouping must be elements or hydrogen, got {grouping!r}")
    n = structure.n_atoms
    names, idx = pair_classes(structure, grouping)
    h0 = jnp.asarray(h0)
    off = 1.0 - np.kron(np.eye(n), np.ones((3, 3)))
    expand = jnp.asarray(np.kron(idx, np.ones((3, 3), dtype=int)))
    off = jnp.asarray(off)

    # the uniform translations of each group of atoms the seed couples are projected out, so molecules the seed
    # leaves uncoupled (a crystal's, made whole) stay uncoupled
    trans = jnp.asarray(group_translation_basis(interacting_groups([np.asarray(h0)])))

    def apply(p):
        return sum_rule_hessian((h0 * p[expand] * off).reshape(n, 3, n, 3), trans, jnp)

    k = len(names)
    return Parametrization("classes", names, np.ones(k), np.full(k, bounds[0]), np.full(k, bounds[1]), apply,
                           _zero_prior)


def sqm_type(coord, symbols) -> str:
    """Pulay SQM type of an internal coordinate: stretches and bends split by whether a hydrogen (H or D) is an
    end atom (Rauhut & Pulay, J. Phys. Chem. 99 (1995) 3093 scale X–H and heavy-atom stretches and bends separately),
    torsions and out-of-plane as one type each."""
    has_h = any(symbols[a] in ("H", "D") for a in coord.atoms)
    if coord.kind == "stretch":
        return "X-H stretch" if has_h else "X-Y stretch"
    if coord.kind == "bend":
        return "X-H bend" if has_h else "bend"
    return {"torsion": "torsion", "out-of-plane": "out-of-plane"}[coord.kind]


def internal_scales(structure, h0, *, bounds=(0.5, 1.5)) -> Parametrization:
    """Pulay-type scale factors per internal-coordinate type (only types present in the molecule)."""
    from hessfit.structures import internal_coordinates, wilson_b

    coords = internal_coordinates(structure)
    if not coords:
        raise ConfigError(f"{structure.name}: no internal coordinates (bonds not perceived)")
    types = [sqm_type(c, structure.symbols) for c in coords]
    names = tuple(t for t in SQM_TYPES if t in types)
    which = jnp.asarray([names.index(t) for t in types])
    b = np.asarray(wilson_b(structure, coords))
    b_pinv = np.linalg.pinv(b, rcond=1e-8)
    h0_np = np.asarray(h0)
    f0 = b_pinv.T @ h0_np @ b_pinv
    b_j, f0_j, h0_j = jnp.asarray(b), jnp.asarray(f0), jnp.asarray(h0_np)

    def apply(p):
        d = jnp.sqrt(p[which])
        return h0_j + b_j.T @ ((d[:, None] * d[None, :] - 1.0) * f0_j) @ b_j

    k = len(names)
    return Parametrization("internal", names, np.ones(k), np.full(k, bounds[0]), np.full(k, bounds[1]), apply,
                           _zero_prior)


def cartesian_rigid_projector(structure) -> np.ndarray:
    """(3N, 3N) projector onto Cartesian displacements orthogonal to translations and rotations (a crystal:
    to its uniform translations)."""
    n = structure.n_atoms
    if getattr(structure, "is_crystal", False):  # a crystal's only zero modes: the uniform translations
        q = translation_basis(np.ones(n))
    else:
        q = rigid_body_basis(structure.positions, np.ones(n))
    return np.eye(3 * n) - q @ q.T


def free_elements(structure, h0, *, prior_strength: float = 1.0) -> Parametrization:
    """Symmetric correction Δ (3N×3N, eV/Å²), projected free of rigid-body motion, prior ‖Δ‖²/‖H0‖²."""
    n3 = 3 * structure.n_atoms
    proj = jnp.asarray(cartesian_rigid_projector(structure))
    h0 = jnp.asarray(h0)
    norm2 = float(jnp.sum(h0 * h0))
    iu = np.triu_indices(n3)

    def delta(p):
        m = jnp.zeros((n3, n3)).at[iu].set(p)
        return m + m.T - jnp.diag(jnp.diag(m))

    def apply(p):
        return h0 + proj @ delta(p) @ proj

    def prior(p):
        d = proj @ delta(p) @ proj
        return prior_strength * jnp.sum(d * d) / norm2 * n3

    return Parametrization("free", (), np.zeros(len(iu[0])), None, None, apply, prior)


def crystal_parametrization(kind: str, structure, h0, *, intermolecular_bounds=(0.5, 2.0),
                            **options) -> Parametrization:
    """The recipe ``kind`` on the intramolecular part of a crystal's Hessian (molecules made whole) and one
    'intermolecular scale' on the rest (not for 'free', whose Δ already reaches the intermolecular blocks)."""
    from hessfit.structures import find_molecules, make_whole, split_intermolecular

    assignment = find_molecules(structure)
    whole = make_whole(structure, assignment=assignment)
    if kind == "free":
        return free_elements(whole, h0, **options)
    h_intra, h_inter = split_intermolecular(structure, h0, assignment=assignment)
    base = make_parametrization(kind, whole, h_intra, crystal=False, **options)
    inter = jnp.asarray(h_inter)

    def apply(p):
        return base.apply(p[:-1]) + p[-1] * inter

    def prior(p):
        return base.prior(p[:-1])

    return Parametrization(base.kind, base.names + ("intermolecular scale",), np.append(base.init, 1.0),
                           np.append(base.lower, intermolecular_bounds[0]),
                           np.append(base.upper, intermolecular_bounds[1]), apply, prior)


def make_parametrization(kind: str, structure, h0, *, crystal: bool | None = None,
                         intermolecular_bounds=(0.5, 2.0), **options) -> Parametrization:
    """The parametrisation ``kind`` of a seed Hessian ``h0`` (eV/Å²); a crystal (``structure.is_crystal``, unless
    ``crystal`` says otherwise) gets `crystal_parametrization`."""
    if crystal if crystal is not None else getattr(structure, "is_crystal", False):
        return crystal_parametrization(kind, structure, h0, intermolecular_bounds=intermolecular_bounds, **options)
    builders = {"global": lambda: global_scale(h0, **options),
                "classes": lambda: class_scales(structure, h0, **options),
                "internal": lambda: internal_scales(structure, h0, **options),
                "free": lambda: free_elements(structure, h0, **options)}
    if kind not in builders:
        raise ConfigError(f"unknown parametrisation {kind!r}; use one of {', '.join(builders)}")
    return builders[kind]()
