"""Describe normal modes in words via an internal-coordinate decomposition (a potential-energy distribution).

    ped = potential_energy_distribution(structure, hessian, modes, coords)   # (M, K) shares, rows sum to 1
    text = describe_modes(structure, hessian, modes)    # list of M one-line descriptions

PED (Pulay/VEDA-style, diagonal terms): with the Wilson matrix B (K, 3N) = ∂q/∂x of the (redundant) internal
coordinates and the internal force constants F = B⁺ᵀ H B⁺ (B⁺ = pseudo-inverse), mode ν with Cartesian
displacement x_ν = e_ν/√m changes coordinate k by Δq_k = (B x_ν)_k and stores the energy F_kk Δq_k²/2 in it;
the shares are these energies normalised over k (negative F_kk clipped to 0).
"""

from __future__ import annotations

import numpy as np

from hessfit.structures import atom_groups, internal_coordinates, wilson_b


def potential_energy_distribution(structure, hessian, modes, coords=None) -> np.ndarray:
    """(M, K) diagonal PED: share of each mode's potential energy in each internal coordinate (rows sum to 1).

    Args:
        structure: Structure. hessian: (3N, 3N) eV/Å². modes: hessfit.modes.Modes of them.
        coords: list of InternalCoordinate (default `internal_coordinates(structure)`).
    """
    coords = internal_coordinates(structure) if coords is None else coords
    bmat = wilson_b(structure, coords)
    if bmat.shape[0] == 0:
        return np.zeros((np.asarray(modes.frequencies_cm1).shape[0], 0))
    h = np.asarray(hessian, float)
    b_pinv = np.linalg.pinv(bmat, rcond=1e-8)
    f_diag = np.clip(np.einsum("ik,ij,jk->k", b_pinv, h, b_pinv), 0.0, None)
    x = np.asarray(modes.vectors) / np.sqrt(np.asarray(modes.masses))[None, :, None]
    dq = x.reshape(x.shape[0], -1) @ bmat.T
    energy = f_diag[None, :] * dq * dq
    norm = energy.sum(axis=1, keepdims=True)
    return np.divide(energy, norm, out=np.zeros_like(energy), where=norm > 0)


def group_motion(structure, modes, groups=None) -> np.ndarray:
    """(M, G) share of each mode's kinetic energy carried by each group (mass-weighted |e_νi|² summed over it)."""
    groups = atom_groups(structure) if groups is None else groups
    p = np.sum(np.asarray(modes.vectors) ** 2, axis=-1)
    return np.stack([p[:, list(members)].sum(1) for _, members in groups], axis=1)


def describe_modes(structure, hessian, modes, *, coords=None, max_terms: int = 3, min_share: float = 0.1,
                   max_groups: int = 4) -> list[str]:
    """One plain-language line per mode, e.g. 'CH3 torsion 61%, C–C–C bend 18%; moving: CH3(C1) 44%, CH3(C6) 44%'.

    Terms are PED shares summed over equivalent coordinates (same category), largest first; groups are
    those carrying ≥ ``min_share`` of the mode's kinetic energy. A crystal's molecules are made whole first, and
    its lattice modes (over half rigid-molecule motion, `hessfit.modes.lattice_character`) start with
    'lattice: librational 83%' or 'lattice: translational 91%'.
    """
    lattice = None
    if getattr(structure, "is_crystal", False):
        from hessfit.modes import lattice_character
        from hessfit.structures import find_molecules, make_whole

        assignment = find_molecules(structure)
        lattice = lattice_character(structure, modes, assignment=assignment)
        structure = make_whole(structure, assignment=assignment)
    coords = internal_coordinates(structure) if coords is None else coords
    ped = potential_energy_distribution(structure, hessian, modes, coords)
    groups = atom_groups(structure)
    motion = group_motion(structure, modes, groups)
    cats = sorted({c.category for c in coords})
    cat_index = {c: k for k, c in enumerate(cats)}
    member = np.zeros((len(coords), len(cats)))
    for k, c in enumerate(coords):
        member[k, cat_index[c.category]] = 1.0
    by_cat = ped @ member if len(coords) else np.zeros((ped.shape[0], 0))
    out = []
    for nu in range(ped.shape[0]):
        order = np.argsort(-by_cat[nu])
        terms = [f"{cats[k]} {100 * by_cat[nu, k]:.0f}%" for k in order[:max_terms]
                 if by_cat[nu, k] >= min_share] or ([f"{cats[order[0]]} {100 * by_cat[nu, order[0]]:.0f}%"]
                                                    if len(cats) else ["no internal coordinates"])
        g_order = np.argsort(-motion[nu])
        moving = [f"{groups[g][0]} {100 * motion[nu, g]:.0f}%" for g in g_order[:max_groups] if motion[nu, g] >= min_share]
        text = ", ".join(terms) + ("; moving: " + ", ".join(moving) if moving else "")
        if lattice is not None and lattice["label"][nu] != "internal":
            part = lattice["translation" if lattice["label"][nu] == "translational" else "rotation"][nu]
            text = f"lattice: {lattice['label'][nu]} {100 * part:.0f}%; {text}"
        out.append(text)
    return out
