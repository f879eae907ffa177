"""ORCA Hessian files (.hess): the `$hessian` block (Hartree/Bohr²) and `$atoms` block (amu, Bohr)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hessfit.errors import InputFormatError
from hessfit.structures._elements import atomic_number
from hessfit.units import BOHR_A, HESSIAN_UNITS


def _block(lines: list[str], name: str, path: Path) -> int:
    for i, line in enumerate(lines):
        if line.strip().lower() == name:
            return i
    raise InputFormatError(f"{path}: no {name} block")


def read_orca_hess(path: str | Path) -> dict:
    """Return {'numbers', 'positions' (Å), 'masses' (amu), 'hessian' (eV/Å²)}."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise InputFormatError(f"{path}: not a text file") from None
    i = _block(lines, "$hessian", path)
    try:
        dim = int(lines[i + 1].split()[0])
    except (IndexError, ValueError):
        raise InputFormatError(f"{path}: $hessian block has no dimension line") from None
    h = np.full((dim, dim), np.nan)
    k = i + 2
    try:
        while k < len(lines) and not lines[k].strip().startswith("$"):
            if not lines[k].strip():
                k += 1
                continue
            cols = [int(c) for c in lines[k].split()]
            for r in range(dim):
                parts = lines[k + 1 + r].split()
                if int(parts[0]) != r or len(parts) != len(cols) + 1:
                    raise ValueError
                h[r, cols] = [float(v) for v in parts[1:]]
            k += dim + 1
    except (ValueError, IndexError):
        raise InputFormatError(f"{path}: malformed $hessian block near line {k + 1}") from None
    if np.isnan(h).any():
        raise InputFormatError(f"{path}: $hessian block incomplete")
    out = {"hessian": h * HESSIAN_UNITS["hartree/bohr^2"], "numbers": None, "positions": None, "masses": None}
    try:
        j = _block(lines, "$atoms", path)
        n = int(lines[j + 1].split()[0])
        rows = [lines[j + 2 + a].split() for a in range(n)]
        out["numbers"] = np.array([atomic_number(r[0], source=str(path)) for r in rows])
        out["masses"] = np.array([float(r[1]) for r in rows])
        out["positions"] = np.array([[float(v) for v in r[2:5]] for r in rows]) * BOHR_A
    except InputFormatError as exc:
        if "no $atoms" not in str(exc):
            raise
    except (ValueError, IndexError):
        raise InputFormatError(f"{path}: malformed $atoms block") from None
    return out


def write_orca_hess(path: Path, structure, hessian: np.ndarray) -> None:
    """Write an ORCA-style .hess file with $hessian (Hartree/Bohr²) and $atoms (amu, Bohr)."""
    h = hessian / HESSIAN_UNITS["hartree/bohr^2"]
    dim = h.shape[0]
    lines = ["", "$orca_hessian_file", "", "$hessian", str(dim)]
    for c0 in range(0, dim, 5):
        cols = range(c0, min(c0 + 5, dim))
        lines.append("      " + "".join(f"{c:19d}" for c in cols))
        for r in range(dim):
            lines.append(f"{r:6d}   " + "".join(f"{h[r, c]:19.10E}" for c in cols))
    lines += ["", "$atoms", str(structure.n_atoms)]
    for sym, m, (x, y, z) in zip(structure.symbols, structure.masses, structure.positions / BOHR_A):
        lines.append(f" {sym:2s} {m:12.5f} {x:18.12f} {y:18.12f} {z:18.12f}")
    lines += ["", "$end", ""]
    Path(path).write_text("\n".join(lines))
