"""The compact Hessian dataset format of ``shared/data/hessians`` (one .npz for many molecules).

Arrays: natoms int32 [M]; Z int8 [ΣN]; R float64 [ΣN, 3] (Å); H_triu float32 [Σ 3N(3N+1)/2]
(upper triangle of the symmetric Hessian, eV/Å², ``np.triu_indices(3N)`` order);
H_offsets int64 [M+1]; optional qm9_index int32 [M], smiles str [M], plus free-form
metadata arrays (``meta_*``, e.g. level of theory). See docs/dataset_format.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np

from hessfit.errors import ConfigError, InputFormatError
from hessfit.structures._structure import Structure

_REQUIRED = ("natoms", "Z", "R", "H_triu", "H_offsets")


@dataclasses.dataclass(frozen=True, eq=False)
class MoleculeArrays:
    """Molecules stored concatenated: atoms per molecule, atomic numbers and positions (Å); the base of the
    Hessian and frequency dataset formats."""

    natoms: np.ndarray
    Z: np.ndarray
    R: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "atom_offsets", np.concatenate([[0], np.cumsum(self.natoms)]).astype(np.int64))

    def __len__(self) -> int:
        return int(self.natoms.shape[0])

    def numbers(self, i: int) -> np.ndarray:
        a, b = self.atom_offsets[i], self.atom_offsets[i + 1]
        return self.Z[a:b].astype(int)

    def positions(self, i: int) -> np.ndarray:
        a, b = self.atom_offsets[i], self.atom_offsets[i + 1]
        return np.asarray(self.R[a:b], float)

    def structure(self, i: int) -> Structure:
        name = f"mol{i}"
        if "qm9_index" in self.extra:
            name = f"qm9_{int(self.extra['qm9_index'][i])}"
        return Structure.from_numbers(self.numbers(i), self.positions(i), name=name)


@dataclasses.dataclass(frozen=True, eq=False)
class HessianDataset(MoleculeArrays):
    """Many molecules with Hessians, stored concatenated (see module docstring for shapes and units)."""

    H_triu: np.ndarray
    H_offsets: np.ndarray
    extra: dict = dataclasses.field(default_factory=dict)

    def hessian(self, i: int) -> np.ndarray:
        """(3N, 3N) float64 Hessian of molecule i in eV/Å²."""
        n3 = 3 * int(self.natoms[i])
        h = np.zeros((n3, n3))
        h[np.triu_indices(n3)] = self.H_triu[self.H_offsets[i]:self.H_offsets[i + 1]]
        return h + h.T - np.diag(np.diag(h))

    def subset(self, indices: Sequence[int]) -> "HessianDataset":
        idx = [int(i) for i in indices]
        return from_arrays([self.numbers(i) for i in idx], [self.positions(i) for i in idx],
                           [self.hessian(i) for i in idx],
                           extra={k: np.asarray(v)[idx] for k, v in self.extra.items()
                                  if np.ndim(v) and len(v) == len(self)})


def from_arrays(numbers: Sequence[np.ndarray], positions: Sequence[np.ndarray], hessians: Sequence[np.ndarray],
                extra: dict | None = None) -> HessianDataset:
    """Pack per-molecule arrays (Hessians in eV/Å²) into a HessianDataset."""
    natoms = np.array([len(z) for z in numbers], dtype=np.int32)
    tri = [np.asarray(0.5 * (h + h.T))[np.triu_indices(h.shape[0])].astype(np.float32) for h in hessians]
    offsets = np.concatenate([[0], np.cumsum([t.size for t in tri])]).astype(np.int64)
    return HessianDataset(
        natoms=natoms,
        Z=np.concatenate(numbers).astype(np.int8) if len(numbers) else np.zeros(0, np.int8),
        R=np.concatenate(positions).astype(np.float64) if len(positions) else np.zeros((0, 3)),
        H_triu=np.concatenate(tri) if tri else np.zeros(0, np.float32),
        H_offsets=offsets,
        extra=dict(extra or {}),
    )


def read_arrays(path: str | Path, required: Sequence[str], what: str) -> dict:
    """The arrays of a dataset .npz, with one-line errors for a missing or unreadable file and missing arrays."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"{path}: file not found")
    try:
        data = dict(np.load(path, allow_pickle=False))
    except Exception as exc:
        raise InputFormatError(f"{path}: not a {what} .npz ({type(exc).__name__})") from None
    missing = [k for k in required if k not in data]
    if missing:
        raise InputFormatError(f"{path}: missing arrays {missing}"
                               + (f" of a {what}" if what != "Hessian dataset" else "")
                               + " (see docs/dataset_format.md)")
    return data


def load_dataset(path: str | Path) -> HessianDataset:
    """Load a dataset .npz, checking that the required arrays exist and are consistent."""
    path = Path(path)
    data = read_arrays(path, _REQUIRED, "Hessian dataset")
    ds = HessianDataset(**{k: data.pop(k) for k in _REQUIRED}, extra=data)
    n3 = 3 * ds.natoms.astype(np.int64)
    if ds.H_offsets.shape[0] != len(ds) + 1 or np.any(np.diff(ds.H_offsets) != n3 * (n3 + 1) // 2):
        raise InputFormatError(f"{path}: H_offsets inconsistent with natoms")
    if ds.Z.shape[0] != int(ds.natoms.sum()) or ds.R.shape != (ds.Z.shape[0], 3):
        raise InputFormatError(f"{path}: Z/R sizes inconsistent with natoms")
    return ds


def save_dataset(path: str | Path, ds: HessianDataset, *, overwrite: bool = False) -> Path:
    """Write a dataset .npz (compressed); refuses to overwrite unless asked."""
    from hessfit.structures._files import check_writable

    path = check_writable(path, overwrite)
    np.savez_compressed(path, natoms=ds.natoms, Z=ds.Z, R=ds.R, H_triu=ds.H_triu, H_offsets=ds.H_offsets,
                        **ds.extra)
    return path


def _fill_value(arr: np.ndarray):
    if arr.dtype.kind in "US":
        return ""
    if arr.dtype.kind == "f":
        return np.nan
    return -1


def concat_datasets(datasets: list[HessianDataset]) -> HessianDataset:
    """Concatenate datasets; per-molecule extra arrays missing in some are filled ("" / NaN / -1)."""
    datasets = [d for d in datasets if len(d)]
    if not datasets:
        raise ConfigError("nothing to concatenate")
    sizes = [np.diff(d.H_offsets) for d in datasets]
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(sizes))]).astype(np.int64)
    per_mol, scalars = {}, {}
    for d in datasets:
        for k, v in d.extra.items():
            v = np.asarray(v)
            if v.ndim and v.shape[0] == len(d):
                per_mol.setdefault(k, v)
            else:
                scalars.setdefault(k, v)
    extra = dict(scalars)
    for k, proto in per_mol.items():
        cols = []
        for d in datasets:
            v = d.extra.get(k)
            cols.append(np.asarray(v) if v is not None and np.ndim(v) and len(v) == len(d)
                        else np.full(len(d), _fill_value(proto), dtype=proto.dtype if proto.dtype.kind not in "US"
                                     else "U1"))
        extra[k] = np.concatenate(cols)
    return HessianDataset(natoms=np.concatenate([d.natoms for d in datasets]).astype(np.int32),
                          Z=np.concatenate([d.Z for d in datasets]).astype(np.int8),
                          R=np.concatenate([d.R for d in datasets]).astype(np.float64),
                          H_triu=np.concatenate([d.H_triu for d in datasets]).astype(np.float32),
                          H_offsets=offsets, extra=extra)
