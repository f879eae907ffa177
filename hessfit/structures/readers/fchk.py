"""Gaussian formatted checkpoint (.fchk): structure and "Cartesian Force Constants".

The file stores the lower triangle of the Cartesian Hessian in Hartree/Bohr² and
coordinates in Bohr; the reader returns Å and eV/Å².
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hessfit.errors import InputFormatError
from hessfit.units import BOHR_A, HESSIAN_UNITS


def _sections(path: Path) -> dict[str, np.ndarray]:
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise InputFormatError(f"{path}: not a text file") from None
    out: dict[str, np.ndarray] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if len(line) > 43 and line[43:46].strip() in ("R", "I") and "N=" in line[44:]:
            name, kind = line[:40].strip(), line[43]
            try:
                count = int(line.split("N=")[1])
            except ValueError:
                raise InputFormatError(f"{path}: line {i + 1}: bad array header {line!r}") from None
            values: list[str] = []
            i += 1
            while len(values) < count and i < len(lines):
                values.extend(lines[i].split())
                i += 1
            if len(values) < count:
                raise InputFormatError(f"{path}: array {name!r} truncated ({len(values)} of {count} values)")
            try:
                out[name] = np.array(values[:count], dtype=float if kind == "R" else int)
            except ValueError:
                raise InputFormatError(f"{path}: array {name!r} has non-numeric values") from None
            continue
        i += 1
    return out


def read_fchk(path: str | Path) -> dict:
    """Return {'numbers', 'positions' (Å), 'masses' (amu or None), 'hessian' (eV/Å²)}."""
    path = Path(path)
    sec = _sections(path)
    if "Cartesian Force Constants" not in sec:
        raise InputFormatError(f"{path}: no 'Cartesian Force Constants' section (run Gaussian with freq)")
    numbers = sec.get("Atomic numbers")
    if numbers is None:
        raise InputFormatError(f"{path}: no 'Atomic numbers' section")
    n = numbers.size
    tri = sec["Cartesian Force Constants"]
    if tri.size != 3 * n * (3 * n + 1) // 2:
        raise InputFormatError(f"{path}: force constants have {tri.size} values, expected {3 * n * (3 * n + 1) // 2} "
                               f"for {n} atoms")
    h = np.zeros((3 * n, 3 * n))
    h[np.tril_indices(3 * n)] = tri
    h = h + h.T - np.diag(np.diag(h))
    coords = sec.get("Current cartesian coordinates")
    positions = None if coords is None else coords.reshape(n, 3) * BOHR_A
    return {"numbers": numbers, "positions": positions, "masses": sec.get("Real atomic weights"),
            "hessian": h * HESSIAN_UNITS["hartree/bohr^2"]}


def _write_array(lines: list[str], name: str, values: np.ndarray, kind: str) -> None:
    values = np.asarray(values).ravel()
    lines.append(f"{name:<40s}   {kind}   N={values.size:12d}")
    per = 5 if kind == "R" else 6
    fmt = "{:16.8E}" if kind == "R" else "{:12d}"
    for k in range(0, values.size, per):
        lines.append("".join(fmt.format(v) for v in values[k:k + per]))


def write_fchk(path: Path, structure, hessian: np.ndarray) -> None:
    """Write a minimal .fchk (atoms, coordinates, weights, lower-triangle Hessian in Hartree/Bohr²)."""
    n = structure.n_atoms
    lines = [f"{structure.name} written by hessfit", "Freq      RB3LYP                                                      gen"]
    lines.append(f"{'Number of atoms':<40s}   I     {n:12d}")
    _write_array(lines, "Atomic numbers", structure.numbers.astype(int), "I")
    _write_array(lines, "Current cartesian coordinates", structure.positions / BOHR_A, "R")
    _write_array(lines, "Real atomic weights", structure.masses, "R")
    h = hessian / HESSIAN_UNITS["hartree/bohr^2"]
    _write_array(lines, "Cartesian Force Constants", h[np.tril_indices(3 * n)], "R")
    Path(path).write_text("\n".join(lines) + "\n")
