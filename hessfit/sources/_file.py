"""Hessians read from files (``--source file``).

``file`` wraps the readers in `hessfit.structures`: .npy/.txt matrices (unit option, default
eV/Å²), Gaussian .fchk and .log ("Force constants in Cartesian coordinates"), ORCA .hess, and a
directory in the ``raw/<name>.xyz`` + ``raw/hessian_<name>.npy`` (Hartree/Bohr²) layout, where
the molecule is looked up by the structure's name. Formats that carry a geometry (.fchk, .hess,
raw directories) return that geometry in the result, since the Hessian belongs to its frame.

"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np

from hessfit.errors import ConfigError, ValidationError
from hessfit.sources._base import HessianResult, HessianSource, register_source
from hessfit.structures import HessfitWarning, Structure, read_hessian

#: max |Δposition| (Å) between the given structure and a file's geometry before warning
GEOMETRY_MISMATCH_WARN_ANGSTROM = 1e-3


@register_source("file")
@dataclasses.dataclass(frozen=True)
class FileSource(HessianSource):
    """A Hessian stored in a file or a raw/ directory.

    Attributes:
        path: .npy, .txt, .fchk, .hess, .log file, or a directory in the raw/ layout.
        units: unit of .npy/.txt matrices (``hessfit.units.HESSIAN_UNITS`` names; default eV/Å²).
        format: force a reader ("npy", "text", "fchk", "orca", "gaussian-log") instead of the suffix.
        level: level-of-theory label to record (files rarely state it in a readable way).
    """

    path: str = ""
    units: str | None = None
    format: str | None = None
    level: str = "unknown (read from file)"

    def __post_init__(self):
        if not str(self.path):
            raise ConfigError("the file source needs a path: get_source('file', path=...) or --hessian FILE")
        object.__setattr__(self, "path", str(self.path))

    @property
    def level_of_theory(self) -> str:
        return self.level

    def _file_geometry(self, structure: Structure | None) -> Structure | None:
        p = Path(self.path)
        fmt = self.format or {".fchk": "fchk", ".fch": "fchk", ".hess": "orca"}.get(p.suffix.lower())
        if p.is_dir():
            from hessfit.structures.readers.raw_dir import raw_dir_names, read_raw_entry

            if structure is None:
                names = raw_dir_names(p)
                if len(names) != 1:
                    raise ConfigError(f"{p}: holds {len(names)} molecules; give a structure whose name selects one")
                name = names[0]
            else:
                name = structure.name
            d = read_raw_entry(p, name)
        elif fmt == "fchk":
            from hessfit.structures.readers.fchk import read_fchk

            d = read_fchk(p)
        elif fmt == "orca":
            from hessfit.structures.readers.orca import read_orca_hess

            d = read_orca_hess(p)
        else:
            return None
        masses = d.get("masses")
        if structure is not None and np.array_equal(np.asarray(d["numbers"]), structure.numbers):
            masses = structure.masses  # the caller's isotopes win over the file's
        return Structure.from_numbers(d["numbers"], d["positions"], masses=masses,
                                      name=d.get("name") or (structure.name if structure is not None else p.stem))

    def load(self, structure: Structure | None = None) -> HessianResult:
        """Read the Hessian; ``structure`` may be omitted for formats that carry a geometry."""
        p = Path(self.path)
        geometry = self._file_geometry(structure)
        if geometry is None and structure is None:
            raise ConfigError(f"{p}: this format holds no geometry; pass the structure too")
        if geometry is not None and structure is not None:
            if not np.array_equal(geometry.numbers, structure.numbers):
                raise ValidationError(f"{p}: the file's atoms ({geometry.formula}) differ from {structure.name} "
                                      f"({structure.formula}) or are in another order")
            shift = float(np.max(np.abs(geometry.positions - structure.positions)))
            if shift > GEOMETRY_MISMATCH_WARN_ANGSTROM:
                warnings.warn(f"{p}: the Hessian's geometry differs from {structure.name} by up to {shift:.3g} Å "
                              "(another frame or geometry); using the file's geometry", HessfitWarning, stacklevel=3)
        target = geometry if geometry is not None else structure
        if p.is_dir():
            from hessfit.structures import validate_hessian
            from hessfit.structures.readers.raw_dir import read_raw_entry

            h = validate_hessian(read_raw_entry(p, target.name)["hessian"], n_atoms=target.n_atoms,
                                 source=f"{p}/hessian_{target.name}.npy")
        else:
            h = read_hessian(p, n_atoms=target.n_atoms, units=self.units, format=self.format)
        return self._result(h, target, method="read from file", path=str(p))

    def hessian(self, structure: Structure) -> HessianResult:
        return self.load(structure)
