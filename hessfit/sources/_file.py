"""Hessians read from files (``--source file``) and the network (``--source nequip``).

``file`` wraps the readers in `hessfit.structures`: .npy/.txt matrices (unit option, default
eV/Å²), Gaussian .fchk and .log ("Force constants in Cartesian coordinates"), ORCA .hess, and a
directory in the ``raw/<name>.xyz`` + ``raw/hessian_<name>.npy`` (Hartree/Bohr²) layout, where
the molecule is looked up by the structure's name. Formats that carry a geometry (.fchk, .hess,
raw directories) return that geometry in the result, since the Hessian belongs to its frame.

The ``nequip`` source runs a guard on every network Hessian (`network_guard`): it counts internal modes
below ``GUARD_IMAGINARY_CM1`` (−50 cm⁻¹; a sound model has none at a minimum of a nearby surface) and, for
an ensemble, the members' disagreement (RMS difference of their sorted frequencies, cm⁻¹). Both go into the
result's metadata; when the guard fails a `NetworkGuardWarning` says so in one line, naming the lowest
modes and suggesting ``--source xtb``. ``--source auto`` (`hessfit.sources._auto`) acts on it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
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


@functools.lru_cache(maxsize=4)
def _load_model(path: str | None):
    from hessfit.model import load_model

    return load_model(path)


# ----------------------------------------------------------------------------- the network guard

#: the guard fails when an internal mode lies below this, cm⁻¹ (imaginary modes are negative)
GUARD_IMAGINARY_CM1 = -50.0
#: the guard fails when ensemble members' sorted frequencies differ by more than this RMS, cm⁻¹: the 99th
#: percentile (65 cm⁻¹; median 32, max 76) of nequip_qm9 vs blocks_qm9 on the 412 QM9 validation molecules
#: (benchmarks/out_of_domain.py; docs/out_of_domain.md)
GUARD_DISAGREEMENT_CM1 = 65.0


class NetworkGuardWarning(HessfitWarning):
    """A network Hessian failed the guard (modes below −50 cm⁻¹ or ensemble members disagreeing)."""


@dataclasses.dataclass(frozen=True)
class GuardReport:
    """Outcome of `network_guard`.

    Attributes:
        passed: no internal mode below ``threshold_cm1`` and member disagreement at most ``max_disagreement_cm1``.
        modes_below: ((1-based mode number in ascending order, frequency cm⁻¹), ...) of the modes below threshold.
        lowest_cm1: lowest internal-mode frequency, cm⁻¹ (negative = imaginary).
        disagreement_cm1: RMS difference of the members' sorted internal frequencies, cm⁻¹, averaged over member
            pairs; ``None`` for a single network.
        threshold_cm1, max_disagreement_cm1: the limits used, cm⁻¹.
    """

    passed: bool
    modes_below: tuple
    lowest_cm1: float
    disagreement_cm1: float | None
    threshold_cm1: float
    max_disagreement_cm1: float

    def metadata(self) -> dict:
        """The entries the nequip source adds to ``HessianResult.metadata``."""
        return {"guard_passed": self.passed, "n_modes_below_guard": len(self.modes_below),
                "guard_modes_below_cm1": [f for _, f in self.modes_below], "lowest_frequency_cm1": self.lowest_cm1,
                "member_disagreement_cm1": self.disagreement_cm1, "guard_threshold_cm1": self.threshold_cm1}

    def message(self, name: str) -> str:
        """One line saying why the guard failed (empty when it passed)."""
        if self.passed:
            return ""
        why = []
        if self.modes_below:
            shown = ", ".join(f"mode {k} at {f:.0f}" for k, f in self.modes_below[:3])
            more = f" and {len(self.modes_below) - 3} more" if len(self.modes_below) > 3 else ""
            why.append(f"{len(self.modes_below)} mode(s) below {self.threshold_cm1:.0f} cm⁻¹ ({shown}{more} cm⁻¹)")
        if self.disagreement_cm1 is not None and self.disagreement_cm1 > self.max_disagreement_cm1:
            why.append(f"ensemble members disagree by {self.disagreement_cm1:.0f} cm⁻¹ RMS "
                       f"(limit {self.max_disagreement_cm1:.0f})")
        return (f"{name}: the network Hessian fails the guard: {' and '.join(why)}; its low modes are not to be "
                "trusted (the molecule may lie outside what the network learned); use --source xtb (or --source auto)")


def _internal_frequencies(structure: Structure, hessian: np.ndarray) -> np.ndarray:
    from hessfit.modes import normal_modes

    return np.sort(np.asarray(normal_modes(structure, hessian).frequencies_cm1, float))


def network_guard(structure: Structure, hessian: np.ndarray, members: list | None = None, *,
                  threshold_cm1: float = GUARD_IMAGINARY_CM1,
                  max_disagreement_cm1: float = GUARD_DISAGREEMENT_CM1) -> GuardReport:
    """Check a network Hessian (eV/Å²) of ``structure``: modes below ``threshold_cm1`` and member disagreement.

    Args:
        structure: the geometry (Å) and masses (amu).
        hessian: the (ensemble) Hessian, (3N, 3N) eV/Å².
        members: the ensemble members' Hessians (eV/Å²), or None for a single network.
        threshold_cm1: internal modes below this frequency (cm⁻¹, imaginary = negative) fail the guard.
        max_disagreement_cm1: member disagreement (RMS cm⁻¹) above this fails the guard.
    """
    freqs = _internal_frequencies(structure, hessian)
    below = tuple((int(k) + 1, float(freqs[k])) for k in np.flatnonzero(freqs < threshold_cm1))
    spread = None
    if members is not None and len(members) > 1:
        fm = [_internal_frequencies(structure, h) for h in members]
        pairs = [(a, b) for a in range(len(fm)) for b in range(a + 1, len(fm))]
        spread = float(np.mean([np.sqrt(np.mean((fm[a] - fm[b]) ** 2)) for a, b in pairs]))
    passed = not below and (spread is None or spread <= max_disagreement_cm1)
    return GuardReport(passed=passed, modes_below=below, lowest_cm1=float(freqs[0]) if freqs.size else float("nan"),
                       disagreement_cm1=spread, threshold_cm1=float(threshold_cm1),
                       max_disagreement_cm1=float(max_disagreement_cm1))


@register_source("nequip")
@dataclasses.dataclass(frozen=True)
class NequipSource(HessianSource):
    """The hessfit network (``hessfit.model.predict_hessian``), imported when first used, with the guard.

    Attributes:
        model: path to trained weights (loaded with ``hessfit.model.load_model``), a loaded model, or
            ``None`` for the shipped default (the ``ensemble_qm9`` mean of the energy and block networks).
        guard: run `network_guard` on the Hessian, record it in the metadata and warn when it fails.
    """

    model: object = None
    guard: bool = True

    @property
    def level_of_theory(self) -> str:
        return "NequIP network (trained on B3LYP/6-311++G(d,p))"

    def _predict(self, structure: Structure) -> tuple[object, list | None]:
        """(prediction, member Hessians or None): an ensemble is predicted member by member, so the guard sees them."""
        try:
            hm = importlib.import_module("hessfit.model")
            predict_hessian = hm.predict_hessian
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"the nequip source needs hessfit.model.predict_hessian, which this installation "
                              f"does not provide ({exc}); use --source xtb|mmff|dft|file") from None
        model = self.model
        if isinstance(model, (str, Path)):
            model = _load_model(str(model))
        ensemble_cls = getattr(hm, "Ensemble", None)
        if model is None and ensemble_cls is not None and self.guard:
            model = _load_model(None)  # the shipped default, loaded here so an ensemble's members are seen
        if ensemble_cls is not None and isinstance(model, ensemble_cls):
            widest = max(model.members, key=lambda m: m.config.cutoff_angstrom)  # as predict_hessians checks
            members = [np.asarray(hm.predict_hessians([structure], m, check=m is widest)[0], float)
                       for m in model.members]
            return sum(w * h for w, h in zip(model.weights, members)), members
        return predict_hessian(structure, model=model), None

    def hessian_and_guard(self, structure: Structure, *, warn: bool = True) -> tuple[HessianResult, GuardReport | None]:
        """The network Hessian (eV/Å²) and its `GuardReport` (None when ``guard`` is off); ``warn``: warn on failure."""
        out, members = self._predict(structure)
        h = getattr(out, "hessian", out)
        extra = dict(getattr(out, "metadata", {}) or {})
        extra.pop("source", None)
        level = extra.pop("level_of_theory", None)
        name = str(self.model) if self.model is not None else "shipped default"
        result = self._result(np.asarray(h, float), structure, method="network", model=name, **extra)
        meta = dict(result.metadata)
        if level:
            meta["level_of_theory"] = level
        report = None
        if self.guard:
            report = network_guard(structure, result.hessian, members)
            meta.update(report.metadata())
            if warn and not report.passed:
                warnings.warn(report.message(structure.name), NetworkGuardWarning, stacklevel=3)
        return dataclasses.replace(result, metadata=meta), report

    def hessian(self, structure: Structure) -> HessianResult:
        return self.hessian_and_guard(structure)[0]
