"""Measured INS spectra: plain text (2/3 columns), Mantid ASCII exports and multi-bank files.

Contract::

    spec = read_spectrum("exp.dat", energy_units="cm-1", bank=None)   # -> MeasuredSpectrum
    spec.energy_cm1   # (n,) float, cm⁻¹, strictly increasing
    spec.intensity    # (n,) float, arbitrary units
    spec.error        # (n,) float one-sigma error, or None

Accepted layouts (``#`` and ``!`` start comments; columns separated by spaces, tabs, commas or semicolons):

* ``energy intensity`` or ``energy intensity error`` (extra columns after the third are ignored only
  when the header names them, e.g. Mantid's ``# X , Y , E , DX``).
* Mantid ``SaveAscii`` (v1) side by side: ``# X , Y0 , E0 , Y1 , E1 ...`` → one bank per (Y, E) pair.
* Mantid ``SaveAscii2`` blocks: a header ``# X , Y , E`` and, before each spectrum, a line holding only the
  spectrum number; or blocks separated by blank lines. Each block is one bank.

With several banks, ``bank`` picks one (0-based index) or ``"sum"`` adds them (errors in quadrature;
banks on different grids are interpolated onto the first bank's grid inside the common range).

Energies are converted to cm⁻¹ here (1 meV = ``hessfit.units.CM1_PER_MEV`` cm⁻¹) and nowhere else.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from hessfit.errors import ConfigError, InputFormatError, ValidationError
from hessfit.structures._hessian import HessfitWarning
from hessfit.units import CM1_PER_MEV

#: Energy units accepted by `read_spectrum` → factor to cm⁻¹.
ENERGY_UNITS = {"cm-1": 1.0, "mev": CM1_PER_MEV}
_UNIT_ALIASES = {"cm-1": "cm-1", "cm^-1": "cm-1", "cm1": "cm-1", "1/cm": "cm-1", "wavenumber": "cm-1",
                 "mev": "meV"}
#: A spectrum said to be in cm⁻¹ whose largest energy is below this (cm⁻¹) looks like meV.
CM1_LOOKS_LIKE_MEV_BELOW = 700.0
#: A spectrum said to be in meV whose largest energy is above this (meV, = 8065 cm⁻¹) looks like cm⁻¹.
MEV_LOOKS_LIKE_CM1_ABOVE = 1000.0

_SPLIT = re.compile(r"[\s,;]+")


@dataclasses.dataclass(frozen=True, eq=False)
class MeasuredSpectrum:
    """A measured (experimental) 1-D INS spectrum in internal units.

    Attributes:
        energy_cm1: (n,) float, energy transfer in cm⁻¹, strictly increasing.
        intensity: (n,) float, arbitrary units (as in the file).
        error: (n,) float one-standard-deviation error in the intensity's units, or None.
        source: path of the file it was read from ("" if built in memory).
        metadata: read-only mapping: ``energy_units_in_file``, ``format``, ``n_banks``, ``bank``,
            ``n_dropped_nan``, ``header`` (the comment lines) and anything else the reader learned.
    """

    energy_cm1: np.ndarray
    intensity: np.ndarray
    error: np.ndarray | None = None
    source: str = ""
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        where = self.source or "measured spectrum"
        e = np.asarray(self.energy_cm1, float).reshape(-1)
        y = np.asarray(self.intensity, float).reshape(-1)
        if e.shape != y.shape:
            raise ValidationError(f"{where}: {e.size} energies but {y.size} intensities")
        err = None if self.error is None else np.asarray(self.error, float).reshape(-1)
        if err is not None and err.shape != e.shape:
            raise ValidationError(f"{where}: {err.size} errors for {e.size} points")
        if e.size < 3:
            raise ValidationError(f"{where}: spectrum has {e.size} point(s); need at least 3")
        if not (np.all(np.isfinite(e)) and np.all(np.isfinite(y))):
            raise ValidationError(f"{where}: energies or intensities contain NaN/inf (read with read_spectrum to drop them)")
        if np.any(np.diff(e) <= 0):
            raise ValidationError(f"{where}: energies must be strictly increasing")
        if np.ptp(y) == 0:
            raise ValidationError(f"{where}: intensity is constant ({y[0]:g}) — not a spectrum")
        for name, value in (("energy_cm1", e), ("intensity", y), ("error", err)):
            if value is not None:
                value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def n_points(self) -> int:
        return int(self.energy_cm1.shape[0])

    def window(self, e_min_cm1: float, e_max_cm1: float) -> "MeasuredSpectrum":
        """The points with e_min_cm1 ≤ E ≤ e_max_cm1 (a new object)."""
        keep = (self.energy_cm1 >= e_min_cm1) & (self.energy_cm1 <= e_max_cm1)
        return dataclasses.replace(self, energy_cm1=self.energy_cm1[keep], intensity=self.intensity[keep],
                                   error=None if self.error is None else self.error[keep])


# ----------------------------------------------------------------------------- parsing

def _normalize_units(energy_units: str) -> str:
    key = str(energy_units).strip().lower().replace("⁻¹", "-1").replace(" ", "")
    if key not in _UNIT_ALIASES:
        raise ConfigError(f"unknown energy unit {energy_units!r}; use 'cm-1' or 'meV'")
    return _UNIT_ALIASES[key]


def _parse_numbers(line: str) -> list[float] | None:
    parts = [p for p in _SPLIT.split(line.strip()) if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def _tokens(header_line: str) -> list[str]:
    return [t for t in _SPLIT.split(header_line.lstrip("#!").strip()) if t]


def _split_blocks(path: Path, lines: list[str]):
    """Return (header comment lines, column names or None, list of blocks (list of (lineno, values)))."""
    header, names = [], None
    blocks: list[list[tuple[int, list[float]]]] = [[]]
    seen_data = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            if blocks[-1]:
                blocks.append([])
            continue
        if line[0] in "#!":
            header.append(line)
            toks = [t.upper() for t in _tokens(line)]
            if toks and toks[0] == "X" and len(toks) >= 2 and toks[1].startswith("Y"):
                names = toks
            continue
        values = _parse_numbers(line)
        if values is None:
            if not seen_data:  # a column-name line such as "energy intensity error"
                header.append(line)
                continue
            raise InputFormatError(f"{path}: line {lineno}: not numbers: {raw.strip()[:60]!r}")
        seen_data = True
        if len(values) == 1 and float(values[0]).is_integer():  # SaveAscii2 spectrum-number line
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append((lineno, values))
    blocks = [b for b in blocks if b]
    return header, names, blocks


def _block_arrays(path: Path, block, names) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Arrays (energy, intensity, error|None) of each bank in one block of rows."""
    ncols = {len(v) for _, v in block}
    if len(ncols) != 1:
        first_bad = next(lineno for lineno, v in block if len(v) != len(block[0][1]))
        raise InputFormatError(f"{path}: line {first_bad}: {len(next(v for ln, v in block if ln == first_bad))} "
                               f"columns, but earlier lines have {len(block[0][1])} (truncated or ragged file)")
    n = ncols.pop()
    data = np.array([v for _, v in block], float)
    if n < 2:
        raise InputFormatError(f"{path}: one column only; expected energy and intensity (and optional error)")
    if names is not None and len(names) == n and n > 3 and sum(t.startswith("Y") for t in names) > 1:
        # SaveAscii v1: X, Y0, E0, Y1, E1, ...
        banks = []
        for k, t in enumerate(names):
            if t.startswith("Y"):
                err = data[:, k + 1] if k + 1 < n and names[k + 1].startswith("E") else None
                banks.append((data[:, 0], data[:, k], err))
        return banks
    if n == 2:
        return [(data[:, 0], data[:, 1], None)]
    if n == 3 or (names is not None and len(names) == n and names[:3] == ["X", "Y", "E"]):
        return [(data[:, 0], data[:, 1], data[:, 2])]
    if n % 2 == 1:  # X, Y0, E0, Y1, E1 ... without a header naming them
        return [(data[:, 0], data[:, k], data[:, k + 1]) for k in range(1, n, 2)]
    raise InputFormatError(f"{path}: {n} columns; expected 2 (energy, intensity), 3 (+ error) or "
                           "X, Y0, E0, Y1, E1, ... (multi-bank)")


def _sum_banks(path: Path, banks):
    e0 = banks[0][0]
    lo = max(float(np.nanmin(b[0])) for b in banks)
    hi = min(float(np.nanmax(b[0])) for b in banks)
    same = all(b[0].shape == e0.shape and np.allclose(b[0], e0, rtol=1e-9, atol=1e-12, equal_nan=True) for b in banks)
    if same:
        y = np.sum([b[1] for b in banks], axis=0)
        has_err = all(b[2] is not None for b in banks)
        err = np.sqrt(np.sum([b[2] ** 2 for b in banks], axis=0)) if has_err else None
        return e0, y, err
    if hi <= lo:
        raise InputFormatError(f"{path}: banks do not overlap in energy; choose one with bank=<index>")
    warnings.warn(f"{path}: banks are on different energy grids; summed on bank 0's grid within "
                  f"{lo:g}–{hi:g} (linear interpolation)", HessfitWarning, stacklevel=3)
    keep = (e0 >= lo) & (e0 <= hi) & np.isfinite(e0)
    e = e0[keep]
    y = np.zeros_like(e)
    var = np.zeros_like(e)
    has_err = all(b[2] is not None for b in banks)
    for be, by, berr in banks:
        ok = np.isfinite(be) & np.isfinite(by)
        order = np.argsort(be[ok])
        y += np.interp(e, be[ok][order], by[ok][order])
        if has_err:
            var += np.interp(e, be[ok][order], berr[ok][order]) ** 2
    return e, y, (np.sqrt(var) if has_err else None)


def read_spectrum(path: str | Path, *, energy_units: str = "cm-1", bank: int | str | None = None,
                  check_units: bool = True) -> MeasuredSpectrum:
    """Read a measured INS spectrum.

    Args:
        path: text file (see the module docstring for the accepted layouts).
        energy_units: unit of the file's energy column, ``'cm-1'`` or ``'meV'``.
        bank: for files with several banks/spectra: 0-based index, or ``'sum'``; ``None`` is fine for one bank
            and an error (listing the banks) for several.
        check_units: refuse an energy range that looks like the other unit (max < 700 for cm⁻¹,
            max > 1000 for meV). Switch off for genuinely low-energy cm⁻¹ data.

    Returns:
        MeasuredSpectrum with energies in cm⁻¹, sorted, NaN/inf rows dropped (with a HessfitWarning).

    Raises:
        InputFormatError: missing/binary/malformed/truncated file, no data, wrong number of columns.
        ValidationError: fewer than 3 finite points, duplicate energies, constant intensity.
        ConfigError: unknown unit, bad bank choice, or an energy range that looks like the other unit.
    """
    path = Path(path)
    unit = _normalize_units(energy_units)
    if not path.exists():
        raise InputFormatError(f"{path}: file not found")
    if path.is_dir():
        raise InputFormatError(f"{path}: is a directory, expected a spectrum file")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise InputFormatError(f"{path}: binary file; expected a text spectrum (energy, intensity[, error])")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    header, names, blocks = _split_blocks(path, text.splitlines())
    if not blocks:
        raise InputFormatError(f"{path}: no data rows (only comments or empty); expected columns energy, intensity[, error]")
    banks = []
    for block in blocks:
        banks.extend(_block_arrays(path, block, names))
    fmt = ("mantid-ascii-v1" if len(blocks) == 1 and len(banks) > 1 else
           "blocks" if len(blocks) > 1 else "columns")
    if names is not None and fmt == "columns":
        fmt = "mantid-ascii"
    n_banks = len(banks)
    if n_banks > 1:
        if bank is None:
            raise ConfigError(f"{path}: file holds {n_banks} banks/spectra; choose one with bank=0..{n_banks - 1} "
                              "(--bank) or add them with bank='sum'")
        if isinstance(bank, str) and bank.strip().lower() == "sum":
            e, y, err = _sum_banks(path, banks)
        else:
            try:
                k = int(bank)
            except (TypeError, ValueError):
                raise ConfigError(f"{path}: bank must be an index 0..{n_banks - 1} or 'sum', got {bank!r}") from None
            if not 0 <= k < n_banks:
                raise ConfigError(f"{path}: bank {k} requested, file has {n_banks} (0..{n_banks - 1})")
            e, y, err = banks[k]
    else:
        if bank not in (None, 0, "0", "sum"):
            raise ConfigError(f"{path}: bank {bank!r} requested, but the file holds a single spectrum")
        e, y, err = banks[0]

    finite = np.isfinite(e) & np.isfinite(y)
    if err is not None:
        finite &= np.isfinite(err)
    n_bad = int(np.sum(~finite))
    if n_bad:
        warnings.warn(f"{path}: dropped {n_bad} row(s) with NaN/inf values", HessfitWarning, stacklevel=2)
        e, y = e[finite], y[finite]
        err = None if err is None else err[finite]
    if e.size == 0:
        raise ValidationError(f"{path}: no finite data points")
    if err is not None and np.any(err < 0):
        raise ValidationError(f"{path}: negative errors in column 3; expected one-sigma errors ≥ 0")
    order = np.argsort(e, kind="stable")
    e, y = e[order], y[order]
    err = None if err is None else err[order]
    if np.any(np.diff(e) == 0):
        dup = float(e[1:][np.diff(e) == 0][0])
        raise ValidationError(f"{path}: duplicate energy {dup:g}; one value per energy expected")
    if e.size < 3:
        raise ValidationError(f"{path}: only {e.size} data point(s); need at least 3")
    if np.ptp(y) == 0:
        raise ValidationError(f"{path}: intensity is constant ({y[0]:g}); not a spectrum")
    e_max = float(e[-1])
    if check_units and unit == "cm-1" and e_max < CM1_LOOKS_LIKE_MEV_BELOW:
        raise ConfigError(f"{path}: energies {e[0]:g}–{e_max:g} look like meV, not cm-1; pass energy_units='meV' "
                          "(--energy-units meV), or check_units=False for low-energy cm-1 data")
    if check_units and unit == "meV" and e_max > MEV_LOOKS_LIKE_CM1_ABOVE:
        raise ConfigError(f"{path}: energies {e[0]:g}–{e_max:g} look like cm-1, not meV; pass energy_units='cm-1' "
                          "(--energy-units cm-1)")
    factor = 1.0 if unit == "cm-1" else CM1_PER_MEV
    metadata = dict(energy_units_in_file=unit, format=fmt, n_banks=n_banks,
                    bank=("sum" if n_banks > 1 and str(bank).lower() == "sum" else (int(bank) if n_banks > 1 else 0)),
                    n_dropped_nan=n_bad, header="\n".join(header))
    return MeasuredSpectrum(energy_cm1=e * factor, intensity=y, error=err, source=str(path), metadata=metadata)


#: the per-format reader entry point (``hessfit.structures.readers.<format>.read``).
read = read_spectrum
