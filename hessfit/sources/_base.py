"""The `HessianSource` interface, its result type, and the registry behind ``--source``.

A source turns a `Structure` (positions in Å) into a Hessian in eV/Å²:

    source = get_source("xtb")                 # or "mmff", "dft", "file", "nequip"
    result = source.hessian(structure)         # HessianResult
    result.hessian                             # (3N, 3N) float64, eV/Å², rows/cols 3*atom + {x,y,z}
    result.metadata["level_of_theory"]         # e.g. "GFN2-xTB"

Sources that have forces (xtb, mmff, dft) also implement ``energy_forces(structure) -> (eV, (N, 3) eV/Å)``,
which `optimize` and `check_max_force` use. Optional backends are imported lazily, when a source is
created, and a missing one raises `MissingDependencyError` naming the pip extra to install.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from hessfit.errors import ConfigError, MissingDependencyError
from hessfit.structures import Structure, validate_hessian


# ----------------------------------------------------------------------------- types

@dataclasses.dataclass(frozen=True, eq=False)
class HessianResult:
    """A Hessian and where it came from.

    Attributes:
        hessian: (3N, 3N) float64, eV/Å², symmetric; rows/columns ordered 3*atom + {x, y, z}.
        structure: the structure (positions in Å) the Hessian belongs to.
        metadata: read-only mapping with at least ``source`` (registry name) and ``level_of_theory``;
            sources add details such as ``method`` ("analytic" / "finite differences of analytic
            gradients"), ``step_angstrom``, ``n_gradients``, ``wall_time_s``, ``backend``.
    """

    hessian: np.ndarray
    structure: Structure
    metadata: Mapping[str, Any]

    def __post_init__(self):
        h = validate_hessian(self.hessian, n_atoms=self.structure.n_atoms,
                             source=f"{self.metadata.get('source', 'source')} Hessian of {self.structure.name}")
        object.__setattr__(self, "hessian", h)
        missing = {"source", "level_of_theory"} - set(self.metadata)
        if missing:
            raise ConfigError(f"HessianResult metadata lacks {sorted(missing)}")
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def source(self) -> str:
        return str(self.metadata["source"])

    @property
    def level_of_theory(self) -> str:
        return str(self.metadata["level_of_theory"])


class HessianSource(abc.ABC):
    """Structure in, Hessian (eV/Å²) out. Subclasses are frozen dataclasses whose fields are the options."""

    #: registry name (``--source`` value)
    name: ClassVar[str] = ""
    #: whether ``energy_forces`` is implemented (needed for optimisation and the max-force check)
    has_forces: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def level_of_theory(self) -> str:
        """Human-readable method, e.g. ``"GFN2-xTB"`` or ``"B3LYP/6-31G*"``."""

    @abc.abstractmethod
    def hessian(self, structure: Structure) -> HessianResult:
        """Return the Hessian of ``structure`` (eV/Å²) with metadata."""

    def energy_forces(self, structure: Structure) -> tuple[float, np.ndarray]:
        """Return (energy in eV, forces (N, 3) in eV/Å). Only sources with ``has_forces``."""
        raise ConfigError(f"source {self.name!r} gives no forces, so it cannot optimise or check a geometry; "
                          "use one of: xtb, mmff, dft")

    def __call__(self, structure: Structure) -> HessianResult:
        return self.hessian(structure)

    def _result(self, h: np.ndarray, structure: Structure, **metadata) -> HessianResult:
        meta = {"source": self.name, "level_of_theory": self.level_of_theory}
        meta.update(metadata)
        return HessianResult(hessian=h, structure=structure, metadata=meta)


def refuse_crystal(structure: Structure, what: str) -> None:
    """One-line ConfigError when a molecular-only backend (``what``) is given a crystal."""
    if getattr(structure, "is_crystal", False):
        raise ConfigError(f"{structure.name}: a crystal, and {what} has no periodic boundaries; use --source xtb "
                          "(periodic GFN2-xTB), a phonopy file, or --hessian; or give the molecule (.xyz)")


# ----------------------------------------------------------------------------- optional dependencies

def require(module: str, *, extra: str, what: str):
    """Import ``module`` or raise MissingDependencyError naming the pip extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(f"{what} needs the optional package {module.split('.')[0]!r} "
                                     f"({exc.__class__.__name__}: {exc}); install it with "
                                     f"pip install 'hessfit[{extra}]'") from None


# ----------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[..., HessianSource]] = {}


def register_source(name: str):
    """Class decorator: make a HessianSource subclass available as ``get_source(name, ...)``."""

    def deco(cls):
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def source_names() -> list[str]:
    """Names accepted by `get_source` (installed or not)."""
    return sorted(_REGISTRY)


def get_source(name: str, **options) -> HessianSource:
    """Create a Hessian source by name.

    Args:
        name: one of ``source_names()``: ``xtb``, ``mmff``, ``dft``, ``file``, ``nequip``.
        **options: keyword options of that source (e.g. ``functional``, ``basis`` for dft; ``path`` for file).
            ``None`` values are dropped, so CLI defaults pass through.

    Raises:
        ConfigError: unknown name or option. MissingDependencyError: the backend is not installed.
    """
    key = name.strip().lower()
    if key not in _REGISTRY:
        raise ConfigError(f"unknown Hessian source {name!r}; use one of {', '.join(source_names())}")
    cls = _REGISTRY[key]
    options = {k: v for k, v in options.items() if v is not None}
    if dataclasses.is_dataclass(cls):
        fields = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise ConfigError(f"source {key!r} has no option(s) {', '.join(unknown)}; "
                              f"valid options: {', '.join(sorted(fields))}")
    return cls(**options)
