"""Test helpers: analytic model molecules (spring-model Hessians) and shared property checks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from hessfit.structures import Structure


def hessian_with_frequencies(structure, freqs_cm1) -> np.ndarray:
    """(3N, 3N) Hessian, eV/Å², whose internal modes have exactly ``freqs_cm1`` (negative = imaginary): built in
    the mass-weighted internal basis B, H = M^½ B diag(λ) Bᵀ M^½ with λ = sign(ν̃) (ν̃ / FREQ_FACTOR)²."""
    from hessfit.modes import internal_basis
    from hessfit.units import FREQ_FACTOR_EV_A2

    b = internal_basis(structure.positions, structure.masses)
    f = np.asarray(freqs_cm1, float)
    assert b.shape[1] == f.size
    lam = np.sign(f) * (f / FREQ_FACTOR_EV_A2) ** 2
    sq = np.repeat(np.sqrt(structure.masses), 3)
    return sq[:, None] * (b @ np.diag(lam) @ b.T) * sq[None, :]


def spring_hessian(positions: np.ndarray, pairs, k) -> np.ndarray:
    """Hessian (eV/Å²) of central springs V = Σ k/2 (|r_ij| − r0_ij)² at equilibrium: blocks ±k r̂r̂ᵀ."""
    positions = np.asarray(positions, float)
    n = len(positions)
    h = np.zeros((3 * n, 3 * n))
    ks = np.broadcast_to(np.asarray(k, float), (len(pairs),))
    for (i, j), kk in zip(pairs, ks):
        d = positions[j] - positions[i]
        u = d / np.linalg.norm(d)
        blk = kk * np.outer(u, u)
        for a, b, s in ((i, i, 1), (j, j, 1), (i, j, -1), (j, i, -1)):
            h[3 * a:3 * a + 3, 3 * b:3 * b + 3] += s * blk
    return h


def pairs_within(positions, cutoff):
    n = len(positions)
    return [(i, j) for i in range(n) for j in range(i + 1, n)
            if np.linalg.norm(np.asarray(positions[i]) - positions[j]) < cutoff]


def methane():
    """CH4 (Td) with C–H (30 eV/Å²) and H–H (3 eV/Å²) springs: degenerate E and T2 modes."""
    d = 1.09 / np.sqrt(3)
    pos = np.array([[0, 0, 0], [d, d, d], [-d, -d, d], [-d, d, -d], [d, -d, -d]])
    s = Structure.from_numbers([6, 1, 1, 1, 1], pos, name="methane")
    pairs = pairs_within(pos, 2.0)
    k = [30.0 if 0 in p else 3.0 for p in pairs]
    return s, spring_hessian(pos, pairs, k)


def sf6():
    """SF6 (Oh) with S–F (25 eV/Å²) and cis F–F (3 eV/Å²) springs."""
    r = 1.56
    pos = np.array([[0, 0, 0], [r, 0, 0], [-r, 0, 0], [0, r, 0], [0, -r, 0], [0, 0, r], [0, 0, -r]])
    s = Structure.from_numbers([16, 9, 9, 9, 9, 9, 9], pos, name="SF6")
    pairs = pairs_within(pos, 2.3)
    k = [25.0 if 0 in p else 3.0 for p in pairs]
    return s, spring_hessian(pos, pairs, k)


def rotation_matrix(seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def rotate_hessian(h: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Hessian of the rotated structure r' = R r: H' = (I⊗R) H (I⊗R)ᵀ."""
    n = h.shape[0] // 3
    big = np.kron(np.eye(n), rot)
    return big @ h @ big.T


def assert_sum_rule(h: np.ndarray, rtol: float = 1e-8) -> None:
    """Translational sum rule Σ_j H_(i,a)(j,b) = 0."""
    n = h.shape[0] // 3
    sums = h.reshape(3 * n, n, 3).sum(axis=1)
    assert np.max(np.abs(sums)) <= rtol * np.max(np.abs(h))


SCRIPTS_DIR = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    """Import ``scripts/<name>.py`` (release tools, not part of the package) as a module."""
    if str(SCRIPTS_DIR) not in sys.path:
        sys.path.insert(0, str(SCRIPTS_DIR))  # scripts import their siblings
    spec = importlib.util.spec_from_file_location(name, SCRIPTS_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
