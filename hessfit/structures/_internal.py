"""Internal coordinates of a structure: bonds from covalent radii, bends, torsions, out-of-plane wags, chemical
groups, and the Wilson matrix B = ∂q/∂x (lengths Å, angles rad).

    coords = internal_coordinates(structure)   # bonds, bends, torsions, out-of-plane (from covalent radii)
    b = wilson_b(structure, coords)            # (K, 3N)
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

import numpy as np

#: atoms i, j are bonded when |r_ij| < BOND_SCALE · (r_cov,i + r_cov,j).
BOND_SCALE = 1.2
#: bond drawn as double ('=') / triple ('≡') when |r_ij| / (r_cov,i + r_cov,j) is below these ratios
#: (C=O 0.85, C=C 0.88, C=N 0.87, C≡C and C≡N 0.79–0.81; single bonds and aromatic C–C 0.91–1.02).
DOUBLE_BOND_RATIO = 0.895
TRIPLE_BOND_RATIO = 0.83
#: bends closer than this to 180° (degrees) are skipped (ill-defined derivative); torsions over them too.
LINEAR_DEG = 175.0


@dataclasses.dataclass(frozen=True)
class InternalCoordinate:
    """One internal coordinate.

    Attributes:
        kind: 'stretch' (i, j), 'bend' (i, centre j, k), 'torsion' (j, k: the bond it twists about),
            'out-of-plane' (centre i; j out of the plane of i, k, l).
        atoms: 0-based atom indices.
        terms: for 'torsion', the dihedrals (i, j, k, l) it averages: one torsion per bond, the mean of all its
            dihedrals (a natural internal coordinate, so H scissoring that twists single dihedrals in opposite
            senses does not count as torsion); empty for other kinds.
        category: plain-language class shared by equivalent coordinates, e.g. 'C–H stretch (CH3)', 'CH3 torsion'.
        label: this coordinate with 1-based atom numbers, e.g. 'C1–H7 stretch'.
    """

    kind: str
    atoms: tuple[int, ...]
    category: str
    label: str
    terms: tuple[tuple[int, ...], ...] = ()


def bonds_from_radii(structure, *, scale: float = BOND_SCALE) -> list[tuple[int, int]]:
    """Pairs (i < j) closer than ``scale`` × the sum of covalent radii (ase.data.covalent_radii)."""
    from ase.data import covalent_radii

    pos = np.asarray(structure.positions)
    r = covalent_radii[np.asarray(structure.numbers)]
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    i, j = np.nonzero(np.triu(d < scale * (r[:, None] + r[None, :]), k=1))
    return list(zip(i.tolist(), j.tolist()))


def atom_environments(structure) -> list[str]:
    """Each atom's bonding environment: its element and its bonded neighbours' elements, heaviest first, e.g.
    'N(O,O,C)' for a nitro nitrogen, 'H(C)' (bonds from covalent radii, `bonds_from_radii`: within the given
    coordinates, no periodic images)."""
    from ase.data import chemical_symbols

    numbers = [int(z) for z in structure.numbers]
    neighbours: list[list[int]] = [[] for _ in numbers]
    for i, j in bonds_from_radii(structure):
        neighbours[i].append(numbers[j])
        neighbours[j].append(numbers[i])
    return [f"{chemical_symbols[z]}({','.join(chemical_symbols[x] for x in sorted(nb, reverse=True))})"
            for z, nb in zip(numbers, neighbours)]


def topological_distance(structure) -> np.ndarray:
    """(N, N) number of bonds on the shortest path (inf if disconnected); bonds from covalent radii, across
    periodic boundaries for a crystal (to any image)."""
    from scipy.sparse.csgraph import shortest_path

    n = structure.n_atoms
    adj = np.zeros((n, n))
    if getattr(structure, "is_crystal", False):
        from ase.data import covalent_radii
        from ase.neighborlist import neighbor_list

        radii = covalent_radii[np.asarray(structure.numbers)] * BOND_SCALE
        bonds = zip(*neighbor_list("ij", structure.to_ase(), radii.tolist(), self_interaction=False))
    else:
        bonds = bonds_from_radii(structure)
    for i, j in bonds:
        adj[i, j] = adj[j, i] = 1
    return shortest_path(adj, unweighted=True, directed=False)


def pair_class_label(si: str, sj: str, dist: float, grouping: str = "elements") -> str:
    """Class of an atom pair: 'elements' (element pair × topological distance, e.g. 'C-H 1-3') or 'hydrogen'
    (whether an H or D takes part, 'X-H' or 'X-Y', × distance 1-2, 1-3, 1-4 or far)."""
    if grouping == "hydrogen":
        pair = "X-H" if "H" in (si, sj) or "D" in (si, sj) else "X-Y"
    else:
        pair = "-".join(sorted((si, sj)))
    topo = {1: "1-2", 2: "1-3", 3: "1-4"}.get(int(dist) if np.isfinite(dist) else 0, "far")
    return f"{pair} {topo}"


def pair_classes(structure, grouping: str = "elements") -> tuple[tuple[str, ...], np.ndarray]:
    """(labels, index): the classes of the off-diagonal atom pairs in order of first appearance, and the (N, N)
    class index of every pair (0 on the diagonal, which has no class)."""
    n = structure.n_atoms
    dist = topological_distance(structure)
    sym = structure.symbols
    labels: dict[str, int] = {}
    idx = np.zeros((n, n), dtype=int)
    for i in range(n):
        for j in range(n):
            if i != j:
                idx[i, j] = labels.setdefault(pair_class_label(sym[i], sym[j], dist[i, j], grouping), len(labels))
    return tuple(sorted(labels, key=labels.get)), idx


def atom_groups(structure, bonds=None) -> list[tuple[str, tuple[int, ...]]]:
    """Chemical groups: each heavy atom with its hydrogens, e.g. ('CH3(C1)', (0, 6, 7, 8)); lone H on their own."""
    sym = structure.symbols
    bonds = bonds_from_radii(structure) if bonds is None else bonds
    neigh = defaultdict(set)
    for i, j in bonds:
        neigh[i].add(j)
        neigh[j].add(i)
    groups, used = [], set()
    for i, s in enumerate(sym):
        if s in ("H", "D"):
            continue
        hs = sorted(j for j in neigh[i] if sym[j] in ("H", "D") and j not in used)
        used.update(hs)
        counts = Counter(sym[j] for j in hs)
        formula = s + "".join(f"{h}{counts[h] if counts[h] > 1 else ''}" for h in ("H", "D") if counts[h])
        groups.append((f"{formula}({s}{i + 1})", tuple([i] + hs)))
    for i, s in enumerate(sym):
        if s in ("H", "D") and i not in used:
            groups.append((f"{s}{i + 1}", (i,)))
    return groups


def _norm(v):
    return np.linalg.norm(v, axis=-1)


def _dot(u, v):
    return np.sum(u * v, axis=-1)


def _angle(a, b, c):
    """Bend angle at b (rad); arrays (..., 3)."""
    u, v = a - b, c - b
    return np.arccos(np.clip(_dot(u, v) / (_norm(u) * _norm(v)), -1.0, 1.0))


def _dihedral(a, b, c, d):
    """Dihedral a–b–c–d (rad, −π..π)."""
    b0, b1, b2 = a - b, c - b, d - c
    n1 = np.cross(b0, b1)
    n2 = np.cross(b1, b2)
    m1 = np.cross(n1, b1 / _norm(b1)[..., None])
    return np.arctan2(_dot(m1, n2), _dot(n1, n2))


def _oop(c, j, k, l):
    """Angle (rad) of bond c→j out of the plane (c, k, l)."""
    n = np.cross(k - c, l - c)
    u = j - c
    return np.arcsin(np.clip(_dot(n, u) / (_norm(n) * _norm(u)), -1.0, 1.0))


_KIND_FN = {
    "stretch": lambda p: _norm(p[:, 1] - p[:, 0]),
    "bend": lambda p: _angle(p[:, 0], p[:, 1], p[:, 2]),
    "torsion": lambda p: _dihedral(p[:, 0], p[:, 1], p[:, 2], p[:, 3]),
    "out-of-plane": lambda p: _oop(p[:, 0], p[:, 1], p[:, 2], p[:, 3]),
}
#: central-difference step for the Wilson B matrix, Å (errors ~ step² ≈ 1e-10 relative).
_FD_STEP = 1e-5


def internal_coordinates(structure, *, bonds=None) -> list[InternalCoordinate]:
    """All stretches, bends, proper torsions and out-of-plane coordinates of planar 3-coordinate centres."""
    sym = structure.symbols
    pos = np.asarray(structure.positions)
    bonds = bonds_from_radii(structure) if bonds is None else bonds
    neigh = defaultdict(set)
    for i, j in bonds:
        neigh[i].add(j)
        neigh[j].add(i)
    group_of = {}
    for name, members in atom_groups(structure, bonds):
        for a in members:
            group_of[a] = name.split("(")[0]

    def lab(i):
        return f"{sym[i]}{i + 1}"

    def angle_deg(i, j, k):
        return float(np.degrees(_angle(pos[i], pos[j], pos[k])))

    coords = []
    from ase.data import covalent_radii

    radii = covalent_radii[np.asarray(structure.numbers)]
    for i, j in bonds:
        ratio = np.linalg.norm(pos[i] - pos[j]) / (radii[i] + radii[j])
        link = "≡" if ratio < TRIPLE_BOND_RATIO else "=" if ratio < DOUBLE_BOND_RATIO else "–"
        pair = link.join(sorted((sym[i], sym[j]), key=lambda s: (s in ("H", "D"), s)))
        heavy = i if sym[i] not in ("H", "D") else j
        where = f" ({group_of[heavy]})" if ("H" in pair or "D" in pair) and group_of.get(heavy, "") != sym[heavy] else ""
        coords.append(InternalCoordinate("stretch", (i, j), f"{pair} stretch{where}", f"{lab(i)}–{lab(j)} stretch"))
    for j in range(len(sym)):
        nb = sorted(neigh[j])
        for a in range(len(nb)):
            for b in range(a + 1, len(nb)):
                i, k = nb[a], nb[b]
                if angle_deg(i, j, k) > LINEAR_DEG:
                    continue
                ends = sorted((sym[i], sym[k]), key=lambda s: (s in ("H", "D"), s))
                where = f" ({group_of[j]})" if group_of.get(j, sym[j]) != sym[j] else ""
                coords.append(InternalCoordinate("bend", (i, j, k), f"{ends[0]}–{sym[j]}–{ends[1]} bend{where}",
                                                 f"{lab(i)}–{lab(j)}–{lab(k)} bend"))
    for j, k in bonds:
        terms = tuple((i, j, k, l) for i in sorted(neigh[j] - {k}) for l in sorted(neigh[k] - {j})
                      if i != l and angle_deg(i, j, k) <= LINEAR_DEG - 5 and angle_deg(j, k, l) <= LINEAR_DEG - 5)
        if not terms:
            continue
        rotor = [g for g in (group_of.get(j), group_of.get(k)) if g and g[1:] in ("H3", "D3")]
        central = "–".join(sorted((sym[j], sym[k])))
        cat = f"{rotor[0]} torsion" if rotor else f"{central} torsion"
        coords.append(InternalCoordinate("torsion", (j, k), cat, f"torsion about {lab(j)}–{lab(k)}", terms))
    for c in range(len(sym)):
        nb = sorted(neigh[c])
        if len(nb) != 3:
            continue
        total = angle_deg(nb[0], c, nb[1]) + angle_deg(nb[0], c, nb[2]) + angle_deg(nb[1], c, nb[2])
        if total < 350.0:
            continue
        for o in nb:
            k, l = [a for a in nb if a != o]
            coords.append(InternalCoordinate("out-of-plane", (c, o, k, l), f"out-of-plane at {sym[c]}",
                                             f"{lab(o)} out of plane at {lab(c)}"))
    return coords


def wilson_b(structure, coords) -> np.ndarray:
    """Wilson B matrix (K, 3N): derivatives of each coordinate (Å or rad) with respect to Cartesians (Å).

    Central differences of the closed-form coordinates (vectorised per kind; torsion differences are wrapped).
    """
    pos = np.asarray(structure.positions, float)
    bmat = np.zeros((len(coords), 3 * structure.n_atoms))
    for kind, fn in _KIND_FN.items():
        prim = [(k, t, 1.0 / len(c.terms)) for k, c in enumerate(coords) if c.kind == kind and kind == "torsion"
                for t in c.terms]
        prim += [(k, c.atoms, 1.0) for k, c in enumerate(coords) if c.kind == kind and kind != "torsion"]
        if not prim:
            continue
        rows = np.array([p[0] for p in prim])
        atoms = np.array([p[1] for p in prim])                       # (P, n_atoms_of_kind)
        weight = np.array([p[2] for p in prim])
        base = pos[atoms]                                            # (P, n_atoms_of_kind, 3)
        for a in range(atoms.shape[1]):
            for x in range(3):
                plus, minus = base.copy(), base.copy()
                plus[:, a, x] += _FD_STEP
                minus[:, a, x] -= _FD_STEP
                diff = fn(plus) - fn(minus)
                if kind == "torsion":
                    diff = (diff + np.pi) % (2.0 * np.pi) - np.pi
                np.add.at(bmat, (rows, 3 * atoms[:, a] + x), weight * diff / (2.0 * _FD_STEP))
    return bmat
