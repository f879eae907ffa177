"""The `Structure` type and reading molecules from files (xyz/extxyz and every format ase reads)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from hessfit.errors import InputFormatError, ValidationError
from hessfit.structures._elements import DEUTERIUM_MASS, atomic_number, standard_mass


@dataclasses.dataclass(frozen=True, eq=False)
class Structure:
    """A molecule, or a crystal when it has a periodic cell.

    Attributes:
        numbers: (N,) int, atomic numbers.
        positions: (N, 3) float, Cartesian coordinates in Å.
        masses: (N,) float, masses in amu (standard atomic weights unless overridden).
        name: label, usually the file stem.
        cell: (3, 3) float, lattice vectors as rows in Å, or None for a molecule.
        pbc: (3,) bool, periodic directions (all False without a cell).
    """

    numbers: np.ndarray
    positions: np.ndarray
    masses: np.ndarray
    name: str = "molecule"
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None

    def __post_init__(self):
        numbers = np.asarray(self.numbers, dtype=int).reshape(-1)
        positions = np.asarray(self.positions, dtype=float)
        masses = np.asarray(self.masses, dtype=float).reshape(-1)
        n = numbers.shape[0]
        if n == 0:
            raise ValidationError(f"{self.name}: structure has no atoms")
        if positions.shape != (n, 3):
            raise ValidationError(f"{self.name}: positions have shape {positions.shape}, expected ({n}, 3)")
        if masses.shape != (n,):
            raise ValidationError(f"{self.name}: {masses.shape[0]} masses for {n} atoms")
        if not np.all(np.isfinite(positions)):
            raise ValidationError(f"{self.name}: positions contain NaN or inf")
        if np.any(masses <= 0) or not np.all(np.isfinite(masses)):
            raise ValidationError(f"{self.name}: masses must be positive and finite")
        object.__setattr__(self, "numbers", numbers)
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "masses", masses)
        if self.cell is not None:
            from hessfit.structures._crystal import check_cell

            cell, pbc = check_cell(self.cell, self.pbc, self.name)
            object.__setattr__(self, "cell", cell)
            object.__setattr__(self, "pbc", pbc)
        else:
            object.__setattr__(self, "pbc", np.zeros(3, bool))

    @property
    def is_crystal(self) -> bool:
        """True when the structure has a cell that is periodic in at least one direction."""
        return self.cell is not None and bool(np.any(self.pbc))

    @property
    def n_atoms(self) -> int:
        return int(self.numbers.shape[0])

    @property
    def symbols(self) -> list[str]:
        """Element symbols; hydrogen heavier than 1.5 amu is written 'D'."""
        from ase.data import chemical_symbols

        return ["D" if z == 1 and m >= 1.5 else chemical_symbols[z] for z, m in zip(self.numbers, self.masses)]

    @property
    def formula(self) -> str:
        from collections import Counter

        counts = Counter(self.symbols)
        order = [s for s in ("C", "H", "D") if s in counts] + sorted(s for s in counts if s not in ("C", "H", "D"))
        return "".join(f"{s}{counts[s] if counts[s] > 1 else ''}" for s in order)

    @classmethod
    def from_numbers(cls, numbers: Sequence[int], positions, *, masses=None, name: str = "molecule") -> "Structure":
        """Build from atomic numbers and positions (Å); standard atomic weights unless ``masses`` (amu) given."""
        numbers = np.asarray(numbers, dtype=int)
        if masses is None:
            masses = np.array([standard_mass(int(z)) for z in numbers])
        return cls(numbers=numbers, positions=np.asarray(positions, float), masses=masses, name=name)

    def with_masses(self, masses) -> "Structure":
        return dataclasses.replace(self, masses=np.asarray(masses, float))

    def deuterated(self, atoms: Iterable[int] | None = None) -> "Structure":
        """Replace H by D on all hydrogens (``atoms=None``) or on the given 0-based atom indices."""
        masses = self.masses.copy()
        idx = np.flatnonzero(self.numbers == 1) if atoms is None else np.asarray(list(atoms), int)
        for i in idx:
            if not 0 <= i < self.n_atoms or self.numbers[i] != 1:
                raise ValidationError(f"{self.name}: atom {i} is not a hydrogen, cannot deuterate")
            masses[i] = DEUTERIUM_MASS
        return self.with_masses(masses)

    def with_isotopes(self, overrides: Mapping[int, float]) -> "Structure":
        """Override masses (amu) of selected atoms by 0-based index."""
        masses = self.masses.copy()
        for i, m in overrides.items():
            if not 0 <= int(i) < self.n_atoms:
                raise ValidationError(f"{self.name}: isotope override for atom {i}, but it has {self.n_atoms} atoms")
            masses[int(i)] = float(m)
        return self.with_masses(masses)

    def to_ase(self):
        import ase

        if self.cell is not None:
            return ase.Atoms(numbers=self.numbers, positions=self.positions, masses=self.masses, cell=self.cell,
                             pbc=self.pbc)
        return ase.Atoms(numbers=self.numbers, positions=self.positions, masses=self.masses)


def _parse_xyz_text(text: str, source: str) -> list[Structure]:
    """Strict reader for plain xyz (possibly multi-frame); clear errors on malformed input."""
    lines = text.splitlines()
    frames = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        try:
            n = int(lines[i].split()[0])
        except (ValueError, IndexError):
            raise InputFormatError(f"{source}: line {i + 1}: expected the atom count, got {lines[i][:40]!r}") from None
        if n <= 0:
            raise InputFormatError(f"{source}: line {i + 1}: atom count must be positive, got {n}")
        if i + 2 + n > len(lines):
            raise InputFormatError(f"{source}: truncated: header says {n} atoms but the file ends after "
                                   f"{max(0, len(lines) - i - 2)}")
        numbers, pos = [], []
        for k in range(i + 2, i + 2 + n):
            parts = lines[k].split()
            if len(parts) < 4:
                raise InputFormatError(f"{source}: line {k + 1}: expected 'element x y z', got {lines[k][:60]!r}")
            sym = parts[0]
            z = int(sym) if sym.isdigit() else atomic_number(sym, source=f"{source}: line {k + 1}")
            try:
                xyz = [float(v) for v in parts[1:4]]
            except ValueError:
                raise InputFormatError(f"{source}: line {k + 1}: coordinates are not numbers: {lines[k][:60]!r}") from None
            if not np.all(np.isfinite(xyz)):
                raise InputFormatError(f"{source}: line {k + 1}: coordinate is NaN or inf")
            numbers.append(z)
            pos.append(xyz)
        masses = [DEUTERIUM_MASS if lines[k].split()[0].upper() == "D" else standard_mass(z)
                  for k, z in zip(range(i + 2, i + 2 + n), numbers)]
        frames.append(Structure(np.array(numbers), np.array(pos), np.array(masses), name=Path(source).stem))
        i += 2 + n
    if not frames:
        raise InputFormatError(f"{source}: file is empty")
    return frames


def read_structures(path: str | Path, *, format: str | None = None) -> list[Structure]:
    """Read all frames of a structure file. Plain .xyz uses a strict reader; other formats go through ase.io."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"{path}: file not found")
    if path.is_dir():
        raise InputFormatError(f"{path}: is a directory, expected a structure file")
    fmt = format or ("xyz" if path.suffix.lower() == ".xyz" else None)
    if fmt == "xyz":
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise InputFormatError(f"{path}: not a text file") from None
        first = text.splitlines()[1] if len(text.splitlines()) > 1 else ""
        if "Properties=" not in first and "Lattice=" not in first:
            return _parse_xyz_text(text, str(path))
        fmt = "extxyz"
    import ase.io

    try:
        atoms_list = ase.io.read(str(path), index=":", format=fmt)
    except Exception as exc:  # ase raises many types; report as one format error
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFormatError(f"{path}: cannot read structure ({msg})") from None
    if not atoms_list:
        raise InputFormatError(f"{path}: file contains no structures")
    out = []
    for atoms in atoms_list:
        if len(atoms) == 0:
            raise InputFormatError(f"{path}: structure with no atoms")
        numbers = atoms.get_atomic_numbers()
        if np.any(numbers <= 0):
            raise InputFormatError(f"{path}: unknown element (atomic number {int(numbers.min())})")
        _refuse_partial_occupancy(atoms, path)
        periodic = bool(np.any(atoms.pbc)) and atoms.cell.rank == 3
        out.append(Structure(numbers, atoms.get_positions(), atoms.get_masses(), name=path.stem,
                             cell=np.array(atoms.cell) if periodic else None,
                             pbc=np.array(atoms.pbc) if periodic else None))
    return out


def _refuse_partial_occupancy(atoms, path: Path) -> None:
    """A disordered crystal (sites with occupancy < 1, as ase's CIF reader records them) has every alternative
    position as a full atom: overlapping or surplus atoms, so any Hessian of it is wrong. One-line error."""
    partial = [(el, float(v)) for site in (atoms.info.get("occupancy") or {}).values() for el, v in site.items()
               if float(v) < 0.999]
    if partial:
        shown = ", ".join(f"{el} {v:g}" for el, v in partial[:4]) + (" …" if len(partial) > 4 else "")
        raise InputFormatError(f"{path}: {len(partial)} site(s) with partial occupancy ({shown}): the structure is "
                               "disordered; keep one component and delete the others (e.g. in Mercury or Olex2)")


def read_structure(path: str | Path, *, format: str | None = None, frame: int = 0) -> Structure:
    """Read one structure (the first frame by default)."""
    frames = read_structures(path, format=format)
    try:
        return frames[frame]
    except IndexError:
        raise InputFormatError(f"{path}: frame {frame} requested, file has {len(frames)}") from None


def write_xyz(path: str | Path, structures: Structure | Sequence[Structure], *, comments: Sequence[str] | None = None,
              overwrite: bool = False) -> None:
    """Write one or several structures as (multi-frame) xyz; refuses to overwrite unless asked. A crystal's frame
    is extended XYZ (``Lattice=``, ``pbc=``, the comment as ``comment=``), which `read_structure` reads back
    with its cell."""
    from hessfit.structures._files import check_writable

    path = check_writable(path, overwrite)
    if isinstance(structures, Structure):
        structures = [structures]
    lines = []
    for k, s in enumerate(structures):
        lines.append(str(s.n_atoms))
        comment = comments[k] if comments else s.name
        if s.is_crystal:
            lattice = " ".join(f"{v:.10f}" for v in np.asarray(s.cell, float).ravel())
            pbc = " ".join("T" if p else "F" for p in s.pbc)
            comment = (f'Lattice="{lattice}" Properties=species:S:1:pos:R:3 pbc="{pbc}" '
                       f'comment="{comment.replace(chr(34), chr(39))}"')
        lines.append(comment)
        for sym, (x, y, z) in zip(s.symbols, s.positions):
            lines.append(f"{sym:2s} {x:15.8f} {y:15.8f} {z:15.8f}")
    path.write_text("\n".join(lines) + "\n")
