"""Molecules with harmonic frequencies but no Hessian (e.g. QM9's B3LYP/6-31G(2df,p) frequencies), one .npz.

Arrays: natoms int32 [M]; Z int8 [ΣN]; R float64 [ΣN, 3] (Å, the geometry the frequencies belong to);
freqs_cm1 float32 [Σ(3N−6)] (ascending, cm⁻¹, non-linear molecules only); F_offsets int64 [M+1]; plus optional
per-molecule metadata (``smiles``, ``qm9_index``, ...). See docs/dataset_format.md. Training uses them through
a loss on the predicted Hessian's eigenvalues (`hessfit.train`, ``frequency_dataset``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np

from hessfit.errors import InputFormatError
from hessfit.structures._dataset import MoleculeArrays, read_arrays

_REQUIRED = ("natoms", "Z", "R", "freqs_cm1", "F_offsets")


@dataclasses.dataclass(frozen=True, eq=False)
class FrequencyDataset(MoleculeArrays):
    """Many molecules with their ascending harmonic frequencies (cm⁻¹), stored concatenated."""

    freqs_cm1: np.ndarray
    F_offsets: np.ndarray
    extra: dict = dataclasses.field(default_factory=dict)

    def frequencies(self, i: int) -> np.ndarray:
        """(3N−6,) ascending frequencies of molecule i, cm⁻¹."""
        return np.asarray(self.freqs_cm1[self.F_offsets[i]:self.F_offsets[i + 1]], float)


def frequency_dataset_from_arrays(numbers: Sequence[np.ndarray], positions: Sequence[np.ndarray],
                                  frequencies: Sequence[np.ndarray], extra: dict | None = None) -> FrequencyDataset:
    """Pack per-molecule arrays (frequencies in cm⁻¹, 3N−6 per molecule; sorted here) into a FrequencyDataset."""
    natoms = np.array([len(z) for z in numbers], dtype=np.int32)
    freqs = [np.sort(np.asarray(f, np.float32)) for f in frequencies]
    for k, (n, f) in enumerate(zip(natoms, freqs)):
        if len(f) != 3 * n - 6:
            raise ValueError(f"molecule {k}: {len(f)} frequencies for {n} atoms (need 3N-6 = {3 * n - 6})")
    return FrequencyDataset(
        natoms=natoms, Z=np.concatenate(numbers).astype(np.int8), R=np.concatenate(positions).astype(np.float64),
        freqs_cm1=np.concatenate(freqs), F_offsets=np.concatenate([[0], np.cumsum([len(f) for f in freqs])]
                                                                  ).astype(np.int64),
        extra=dict(extra or {}))


def load_frequency_dataset(path: str | Path) -> FrequencyDataset:
    """Load a frequency dataset .npz, checking that the required arrays exist and are consistent."""
    path = Path(path)
    data = read_arrays(path, _REQUIRED, "frequency dataset")
    ds = FrequencyDataset(**{k: data.pop(k) for k in _REQUIRED}, extra=data)
    n_modes = 3 * ds.natoms.astype(np.int64) - 6
    if ds.F_offsets.shape[0] != len(ds) + 1 or np.any(np.diff(ds.F_offsets) != n_modes):
        raise InputFormatError(f"{path}: F_offsets inconsistent with natoms (3N-6 frequencies per molecule)")
    if ds.Z.shape[0] != int(ds.natoms.sum()) or ds.R.shape != (ds.Z.shape[0], 3):
        raise InputFormatError(f"{path}: Z/R sizes inconsistent with natoms")
    if not np.all(np.isfinite(ds.freqs_cm1)):
        raise InputFormatError(f"{path}: non-finite frequencies")
    return ds


def save_frequency_dataset(path: str | Path, ds: FrequencyDataset, *, overwrite: bool = False) -> Path:
    """Write a frequency dataset .npz (compressed); refuses to overwrite unless asked."""
    from hessfit.structures._files import check_writable

    path = check_writable(path, overwrite)
    np.savez_compressed(path, natoms=ds.natoms, Z=ds.Z, R=ds.R, freqs_cm1=ds.freqs_cm1, F_offsets=ds.F_offsets,
                        **ds.extra)
    return path
