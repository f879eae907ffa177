"""Directory layout of published Hessian datasets: ``raw/<name>.xyz`` + ``raw/hessian_<name>.npy``.

Used by Han et al.'s INS_molecule repository (the origin of the bundled QM9 B3LYP Hessians):

    ROOT/data_list.txt          optional, one name per line (the dataset order)
    ROOT/raw/<name>.xyz         structure, Å
    ROOT/raw/hessian_<name>.npy (3N, 3N) Cartesian Hessian in Hartree/Bohr², rows 3*atom + {x,y,z}

``path`` may be ROOT or ROOT/raw. Readers return Å and eV/Å².
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hessfit.errors import InputFormatError
from hessfit.units import HESSIAN_UNITS

#: unit of the .npy files in this layout
RAW_HESSIAN_UNIT = "hartree/bohr^2"


def raw_dir(path: str | Path) -> Path:
    """The directory holding the ``hessian_<name>.npy`` files (``path/raw`` or ``path`` itself)."""
    path = Path(path)
    if not path.is_dir():
        raise InputFormatError(f"{path}: not a directory (expected ROOT with raw/<name>.xyz + raw/hessian_<name>.npy)")
    if (path / "raw").is_dir():
        return path / "raw"
    if any(path.glob("hessian_*.npy")):
        return path
    raise InputFormatError(f"{path}: no raw/ folder and no hessian_<name>.npy files "
                           "(expected ROOT/raw/<name>.xyz + ROOT/raw/hessian_<name>.npy)")


def raw_dir_names(path: str | Path) -> list[str]:
    """Molecule names in dataset order: ``data_list.txt`` if present, else sorted names with both files."""
    raw = raw_dir(path)
    listing = raw.parent / "data_list.txt"
    if raw.name == "raw" and listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        if names:
            return names
    names = sorted(p.name[len("hessian_"):-len(".npy")] for p in raw.glob("hessian_*.npy"))
    return [n for n in names if (raw / f"{n}.xyz").is_file()]


def read_raw_entry(path: str | Path, name: str) -> dict:
    """Return {'name', 'numbers', 'positions' (Å), 'masses' (amu), 'hessian' (eV/Å², unvalidated)} for one name."""
    from hessfit.structures._structure import read_structure

    raw = raw_dir(path)
    xyz, npy = raw / f"{name}.xyz", raw / f"hessian_{name}.npy"
    for f in (xyz, npy):
        if not f.is_file():
            raise InputFormatError(f"{f}: file not found (raw layout needs {name}.xyz and hessian_{name}.npy)")
    s = read_structure(xyz)
    try:
        h = np.load(npy, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError / OSError / pickle errors for bad files
        raise InputFormatError(f"{npy}: cannot read .npy ({type(exc).__name__})") from None
    if not np.issubdtype(h.dtype, np.number):
        raise InputFormatError(f"{npy}: array is not numeric (dtype {h.dtype})")
    if h.shape != (3 * s.n_atoms, 3 * s.n_atoms):
        raise InputFormatError(f"{npy}: Hessian has shape {h.shape}, but {xyz.name} has {s.n_atoms} atoms "
                               f"(expected {(3 * s.n_atoms, 3 * s.n_atoms)})")
    return {"name": name, "numbers": s.numbers, "positions": s.positions, "masses": s.masses,
            "hessian": np.asarray(h, float) * HESSIAN_UNITS[RAW_HESSIAN_UNIT]}


def write_raw_entry(path: str | Path, name: str, structure, hessian_eV_A2: np.ndarray, *,
                    overwrite: bool = False) -> Path:
    """Write ``ROOT/raw/<name>.xyz`` and ``ROOT/raw/hessian_<name>.npy`` (Hartree/Bohr²); returns ROOT/raw."""
    from hessfit.structures._files import check_writable
    from hessfit.structures._structure import write_xyz

    raw = Path(path) / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    write_xyz(raw / f"{name}.xyz", structure, overwrite=overwrite)
    npy = check_writable(raw / f"hessian_{name}.npy", overwrite)
    np.save(npy, np.asarray(hessian_eV_A2, float) / HESSIAN_UNITS[RAW_HESSIAN_UNIT])
    return raw
