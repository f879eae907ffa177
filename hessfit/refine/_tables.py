"""Force-constant tables before and after refinement (eV/Å², mdyn/Å, eV/rad²)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from hessfit.units import MDYN_A_EV_A2


def pair_blocks_dataset(structure, h_before, h_after) -> xr.Dataset:
    """(N, N, 3, 3) Cartesian blocks before/after, eV/Å², with element labels and topological distance."""
    from hessfit.structures import topological_distance

    n = structure.n_atoms
    blocks = lambda h: np.asarray(h).reshape(n, 3, n, 3).transpose(0, 2, 1, 3)  # noqa: E731
    dist = topological_distance(structure)
    return xr.Dataset(
        {"block_before": (("atom_i", "atom_j", "xyz_i", "xyz_j"), blocks(h_before), {"units": "eV/Å^2"}),
         "block_after": (("atom_i", "atom_j", "xyz_i", "xyz_j"), blocks(h_after), {"units": "eV/Å^2"}),
         "bond_distance": (("atom_i", "atom_j"), np.where(np.isfinite(dist), dist, -1).astype(int),
                           {"long_name": "topological distance (bonds); -1 disconnected"})},
        coords={"atom_i": np.arange(1, n + 1), "atom_j": np.arange(1, n + 1), "xyz_i": list("xyz"),
                "xyz_j": list("xyz"), "element": ("atom_i", structure.symbols)})


def pair_rows(structure, h_before, h_after, *, max_distance: int = 3) -> list[dict]:
    """One row per atom pair (i < j, topological distance ≤ max_distance) and Cartesian component."""
    ds = pair_blocks_dataset(structure, h_before, h_after)
    sym = structure.symbols
    rows = []
    for i in range(structure.n_atoms):
        for j in range(i + 1, structure.n_atoms):
            d = int(ds["bond_distance"].values[i, j])
            if d < 1 or d > max_distance:
                continue
            for a, ca in enumerate("xyz"):
                for b, cb in enumerate("xyz"):
                    rows.append(dict(atom_i=i + 1, atom_j=j + 1, elements=f"{sym[i]}{i + 1}-{sym[j]}{j + 1}",
                                     bond_distance=d, component=ca + cb,
                                     before_eV_A2=float(ds["block_before"].values[i, j, a, b]),
                                     after_eV_A2=float(ds["block_after"].values[i, j, a, b])))
    return rows


def internal_rows(structure, h_before, h_after) -> tuple[list[dict], list[dict]]:
    """Diagonal internal-coordinate force constants F_kk = (B⁺ᵀ H B⁺)_kk for stretches (eV/Å², mdyn/Å) and
    bends (eV/rad²), plus the Cartesian projection k = −r̂ᵀ H_ij r̂ for each bond."""
    from hessfit.structures import internal_coordinates, wilson_b

    coords = internal_coordinates(structure)
    if not coords:
        return [], []
    b = np.asarray(wilson_b(structure, coords))
    bp = np.linalg.pinv(b, rcond=1e-8)
    f0 = np.diag(bp.T @ h_before @ bp)
    f1 = np.diag(bp.T @ h_after @ bp)
    pos = structure.positions
    bonds, angles = [], []
    for k, c in enumerate(coords):
        if c.kind == "stretch":
            i, j = c.atoms
            u = (pos[j] - pos[i]) / np.linalg.norm(pos[j] - pos[i])
            proj = lambda h: float(-u @ h[3 * i:3 * i + 3, 3 * j:3 * j + 3] @ u)  # noqa: E731
            bonds.append(dict(bond=c.label, type=c.category, length_A=float(np.linalg.norm(pos[j] - pos[i])),
                              k_internal_before_eV_A2=float(f0[k]), k_internal_after_eV_A2=float(f1[k]),
                              k_internal_before_mdyn_A=float(f0[k] / MDYN_A_EV_A2),
                              k_internal_after_mdyn_A=float(f1[k] / MDYN_A_EV_A2),
                              k_cartesian_before_eV_A2=proj(h_before), k_cartesian_after_eV_A2=proj(h_after)))
        elif c.kind == "bend":
            angles.append(dict(angle=c.label, type=c.category, k_before_eV_rad2=float(f0[k]),
                               k_after_eV_rad2=float(f1[k]), ratio=float(f1[k] / f0[k]) if f0[k] else np.nan))
    return bonds, angles
