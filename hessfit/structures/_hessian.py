"""Hessian validation, reading and writing (.npy, Gaussian .fchk, ORCA .hess).

Internally a Hessian is a (3N, 3N) float64 numpy array in eV/Å², rows and columns
ordered 3*atom + {x, y, z}. Readers convert from file units; every check names the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from hessfit.errors import InputFormatError, ValidationError
from hessfit.units import HESSIAN_UNITS, normalize_hessian_unit

#: relative asymmetry max|H−Hᵀ|/max|H| above which a Hessian is symmetrised with a warning
SYMMETRY_WARN_TOL = 1e-6
#: relative asymmetry above which a Hessian is refused
SYMMETRY_FAIL_TOL = 1e-2


class HessfitWarning(UserWarning):
    """Warnings about questionable but usable input (printed as one line by the CLI)."""


def validate_hessian(h, *, n_atoms: int | None = None, source: str = "Hessian",
                     warn_tol: float = SYMMETRY_WARN_TOL, fail_tol: float = SYMMETRY_FAIL_TOL) -> np.ndarray:
    """Check shape, finiteness, atom count and symmetry; return the symmetrised float64 Hessian.

    Raises ValidationError naming ``source`` for a non-square, NaN/inf, wrong-size or
    strongly asymmetric matrix; warns (HessfitWarning) and symmetrises a slightly asymmetric one.
    """
    h = np.asarray(h, dtype=float)
    if h.ndim == 4 and h.shape[0] == h.shape[1] and h.shape[2:] == (3, 3):  # (N, N, 3, 3) layout
        n = h.shape[0]
        h = h.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    if h.ndim != 2 or h.shape[0] != h.shape[1]:
        raise ValidationError(f"{source}: Hessian must be a square 2-D matrix, got shape {h.shape}")
    if h.shape[0] == 0 or h.shape[0] % 3:
        raise ValidationError(f"{source}: Hessian size {h.shape[0]} is not a positive multiple of 3")
    if n_atoms is not None and h.shape[0] != 3 * n_atoms:
        raise ValidationError(f"{source}: Hessian is {h.shape[0]}×{h.shape[1]} but the structure has {n_atoms} atoms "
                              f"(expected {3 * n_atoms}×{3 * n_atoms})")
    if not np.all(np.isfinite(h)):
        raise ValidationError(f"{source}: Hessian contains {int(np.sum(~np.isfinite(h)))} NaN or inf values")
    scale = np.max(np.abs(h))
    if scale == 0:
        raise ValidationError(f"{source}: Hessian is all zeros")
    asym = np.max(np.abs(h - h.T)) / scale
    if asym > fail_tol:
        raise ValidationError(f"{source}: Hessian is asymmetric (max|H−Hᵀ|/max|H| = {asym:.2g} > {fail_tol:g}); "
                              "check the file's layout and units")
    if asym > warn_tol:
        warnings.warn(f"{source}: Hessian asymmetry {asym:.2g} relative; symmetrised", HessfitWarning, stacklevel=2)
    return 0.5 * (h + h.T)


def _detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".npy", ".txt", ".dat", ".csv"):
        return "npy" if suffix == ".npy" else "text"
    if suffix in (".fchk", ".fch"):
        return "fchk"
    if suffix == ".hess":
        return "orca"
    if suffix in (".log", ".out"):
        return "gaussian-log"
    raise InputFormatError(f"{path}: unknown Hessian format {suffix!r}; use .npy, .txt, .fchk, .hess or .log")


def read_hessian(path: str | Path, *, n_atoms: int | None = None, units: str | None = None,
                 format: str | None = None) -> np.ndarray:
    """Read a Hessian and return it validated, symmetrised, in eV/Å².

    Args:
        path: .npy / text matrix (units given by ``units``, default eV/Å²), Gaussian .fchk and
            ORCA .hess (always Hartree/Bohr² in the file), Gaussian .log.
        n_atoms: expected atom count (checked).
        units: unit of .npy/text matrices, one of ``hessfit.units.HESSIAN_UNITS`` (aliases accepted).
    """
    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"{path}: file not found")
    fmt = format or _detect_format(path)
    if fmt in ("npy", "text"):
        factor = HESSIAN_UNITS[normalize_hessian_unit(units or "eV/A^2")]
        try:
            h = np.load(path, allow_pickle=False) if fmt == "npy" else np.loadtxt(path, delimiter=None, ndmin=2)
        except Exception as exc:
            raise InputFormatError(f"{path}: cannot read matrix ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        if not np.issubdtype(np.asarray(h).dtype, np.number):
            raise InputFormatError(f"{path}: array is not numeric (dtype {np.asarray(h).dtype})")
        h = np.asarray(h, float) * factor
    elif fmt == "fchk":
        from hessfit.structures.readers.fchk import read_fchk

        h = read_fchk(path)["hessian"]
    elif fmt == "orca":
        from hessfit.structures.readers.orca import read_orca_hess

        h = read_orca_hess(path)["hessian"]
    elif fmt == "gaussian-log":
        from hessfit.structures.readers.gaussian_log import read_gaussian_log

        h = read_gaussian_log(path)["hessian"]
    else:
        raise InputFormatError(f"{path}: unknown Hessian format {fmt!r}")
    return validate_hessian(h, n_atoms=n_atoms, source=str(path))


def write_hessian(path: str | Path, hessian: np.ndarray, *, structure=None, units: str = "eV/A^2",
                  overwrite: bool = False) -> Path:
    """Write a Hessian (eV/Å²) as .npy (in ``units``), .fchk or .hess (these need ``structure``)."""
    from hessfit.structures._files import check_writable

    path = check_writable(path, overwrite)
    h = validate_hessian(hessian, source="hessian to write")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, h / HESSIAN_UNITS[normalize_hessian_unit(units)])
    elif suffix in (".fchk", ".hess"):
        if structure is None:
            raise ValidationError(f"{path}: writing {suffix} needs the structure")
        if suffix == ".fchk":
            from hessfit.structures.readers.fchk import write_fchk

            write_fchk(path, structure, h)
        else:
            from hessfit.structures.readers.orca import write_orca_hess

            write_orca_hess(path, structure, h)
    else:
        raise ValidationError(f"{path}: cannot write Hessians as {suffix!r}; use .npy, .fchk or .hess")
    return path
