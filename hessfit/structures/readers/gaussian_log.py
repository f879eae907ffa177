"""Gaussian output (.log): the "Force constants in Cartesian coordinates" block (Hartree/Bohr²)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hessfit.errors import InputFormatError
from hessfit.units import HESSIAN_UNITS


def read_gaussian_log(path: str | Path) -> dict:
    """Return {'hessian' (eV/Å²)} from the last force-constant block of a Gaussian log (lower triangle, D exponents)."""
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise InputFormatError(f"{path}: {exc}") from None
    starts = [i for i, line in enumerate(lines) if "Force constants in Cartesian coordinates" in line]
    if not starts:
        raise InputFormatError(f"{path}: no 'Force constants in Cartesian coordinates' block (use freq with #p)")
    entries: dict[tuple[int, int], float] = {}
    i = starts[-1] + 1
    cols: list[int] = []
    while i < len(lines):
        parts = lines[i].split()
        if not parts:
            break
        if all(p.isdigit() for p in parts):
            cols = [int(p) - 1 for p in parts]
        elif parts[0].isdigit() and cols:
            r = int(parts[0]) - 1
            try:
                vals = [float(v.replace("D", "E")) for v in parts[1:]]
            except ValueError:
                break
            for c, v in zip(cols, vals):
                entries[(r, c)] = v
        else:
            break
        i += 1
    if not entries:
        raise InputFormatError(f"{path}: force-constant block is empty")
    dim = max(r for r, _ in entries) + 1
    h = np.zeros((dim, dim))
    for (r, c), v in entries.items():
        h[r, c] = h[c, r] = v
    if len(entries) != dim * (dim + 1) // 2:
        raise InputFormatError(f"{path}: force-constant block incomplete ({len(entries)} of {dim * (dim + 1) // 2})")
    return {"hessian": h * HESSIAN_UNITS["hartree/bohr^2"]}
