"""Model crystals with closed-form phonons, for the crystal tests.

Scalar nearest-neighbour springs: every Cartesian component of atom i is coupled to the same component
of each neighbour j with spring constant k (eV/Å²), H_ii += k·1, H_ij −= k·1 per bond. Translations are
exact zero modes (acoustic sum rule) and the three polarisations are degenerate, so the phonons are
those of a scalar lattice.
"""

from __future__ import annotations

import itertools

import numpy as np

from hessfit.structures import Structure
from hessfit.units import FREQ_FACTOR_EV_A2


def spring_hessian(n_atoms: int, bonds, k) -> np.ndarray:
    """(3N, 3N) Hessian of scalar springs; ``bonds`` (i, j) may repeat (periodic images), k scalar or per bond."""
    h = np.zeros((n_atoms, n_atoms))
    ks = np.broadcast_to(np.asarray(k, float), (len(bonds),))
    for (i, j), kk in zip(bonds, ks):
        h[i, i] += kk
        h[j, j] += kk
        h[i, j] -= kk
        h[j, i] -= kk
    return np.kron(h, np.eye(3))


def simple_cubic(n: int, *, a: float = 3.0, k: float = 0.05, z: int = 1):
    """n×n×n supercell of a simple-cubic crystal (one atom per cell). Returns (structure, hessian, freqs_cm1).

    freqs: analytic ν̃(q) = C·√((2k/m) Σ_d (1 − cos 2πn_d/n)) at the n³−1 non-zero commensurate q, each ×3.
    """
    idx = list(itertools.product(range(n), repeat=3))
    where = {c: i for i, c in enumerate(idx)}
    pos = np.array(idx, float) * a
    s = Structure.from_numbers([z] * len(idx), pos, name=f"sc{n}")
    s = Structure(s.numbers, s.positions, s.masses, name=s.name, cell=np.eye(3) * a * n)
    bonds = []
    for c in idx:
        for d in range(3):
            nb = list(c)
            nb[d] = (nb[d] + 1) % n
            bonds.append((where[c], where[tuple(nb)]))
    h = spring_hessian(len(idx), bonds, k)
    m = s.masses[0]
    freqs = []
    for c in idx:
        if c == (0, 0, 0):
            continue
        lam = 2 * k / m * sum(1 - np.cos(2 * np.pi * x / n) for x in c)
        freqs += [FREQ_FACTOR_EV_A2 * np.sqrt(lam)] * 3
    return s, h, np.sort(np.array(freqs))


def diatomic_chain(n_cells: int, *, m1: float, m2: float, k: float = 0.2, a: float = 3.0):
    """Chain of n_cells cells with two atoms (masses m1, m2 amu) along x, springs k between neighbours.

    Returns (structure, hessian, freqs_cm1): analytic optical and acoustic branches at the commensurate
    q = 2πj/(n_cells·a), ω² = k(1/m1+1/m2) ± k√((1/m1+1/m2)² − 4 sin²(qa/2)/(m1 m2)), each ×3, minus the
    three q = 0 acoustic modes.
    """
    n = 2 * n_cells
    pos = np.zeros((n, 3))
    pos[:, 0] = np.arange(n) * a / 2
    masses = np.tile([m1, m2], n_cells)
    s = Structure(np.ones(n, int), pos, masses, name="chain", cell=np.diag([n_cells * a, 12.0, 12.0]))
    bonds = [(i, (i + 1) % n) for i in range(n)]
    h = spring_hessian(n, bonds, k)
    inv = 1 / m1 + 1 / m2
    freqs = []
    for j in range(n_cells):
        q_a = 2 * np.pi * j / n_cells
        root = np.sqrt(max(inv**2 - 4 * np.sin(q_a / 2) ** 2 / (m1 * m2), 0.0))
        for lam in (k * (inv + root), k * (inv - root)):
            if j == 0 and lam < 1e-12:
                continue
            freqs += [FREQ_FACTOR_EV_A2 * np.sqrt(lam)] * 3
    return s, h, np.sort(np.array(freqs))


def dimer_crystal(k_inter: float = 0.02, *, shift_atom1: bool = False):
    """Two C2 dimers per 5 Å cubic cell: (structure, H_intra, H_inter), eV/Å².

    Each dimer: 30 eV/Å² along its bond, 20 across it (one stretch, two stiff librations); scalar springs
    ``k_inter`` couple atoms of different dimers (3 soft relative translations). ``shift_atom1`` puts atom 1 a
    lattice vector away (the dimer then crosses the cell boundary; the Γ Hessian is the same).
    """
    from hessfit.structures import Structure

    pos = np.array([[0, 0, 0], [1.3, 0, 0], [2.5, 2.5, 2.5], [2.5, 3.8, 2.5]], float)
    if shift_atom1:
        pos[1] -= [5.0, 0.0, 0.0]
    s = Structure(np.full(4, 6), pos, np.full(4, 12.011), name="dimers", cell=np.eye(3) * 5.0)
    h_intra = np.zeros((12, 12))
    for i, j, axis in ((0, 1, 0), (2, 3, 1)):
        k = np.eye(3) * 20.0
        k[axis, axis] = 30.0
        for a, b, sign in ((i, i, 1), (j, j, 1), (i, j, -1), (j, i, -1)):
            h_intra[3 * a:3 * a + 3, 3 * b:3 * b + 3] += sign * k
    return s, h_intra, spring_hessian(4, [(0, 2), (1, 3), (0, 3), (1, 2)], k_inter)
