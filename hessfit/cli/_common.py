"""What the CLI commands share: each common option defined once (typer ``Annotated`` aliases, the same name and
meaning in modes, spectrum, compare, refine and predict) and one resolver from (structure file, --hessian /
--source / --model, --deuterate / --isotope) to (structure with masses, Hessian in eV/Å²).

Imports only typer and hessfit.errors at module level: ``hessfit --help`` must not load the scientific stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hessfit.errors import ConfigError

#: the default of --source (the shipped network)
DEFAULT_SOURCE = "nequip"
#: the default of --temperature, K
DEFAULT_TEMPERATURE_K = 10.0
#: the default of --instrument where no measured spectrum names one
DEFAULT_INSTRUMENT = "tosca"

HessianOpt = Annotated[Optional[Path], typer.Option(
    "--hessian", help="Hessian file (.npy/.txt in --hessian-units, Gaussian .fchk/.log, ORCA .hess); "
    "instead of --source")]
SourceOpt = Annotated[Optional[str], typer.Option(
    "--source", help="Hessian source by name (hessfit.sources registry): nequip = the network (default), xtb, "
    "mmff, dft, ...")]
ModelOpt = Annotated[Optional[Path], typer.Option(
    "--model", help="network of --source nequip: a shipped name (cascade_pairclass = default, ensemble_pairclass, "
    "cascade_stacked, ensemble_stacked, cascade_pooled, ensemble_pooled, cascade_mf, ensemble_mf, nequip_mf, blocks_mf, ensemble_hinge_mf, "
    "blocks_hinge_mf, ensemble_qm9, nequip_qm9, blocks_qm9) or a model folder (hessfit train/finetune output)")]
HessianUnitsOpt = Annotated[str, typer.Option(
    "--hessian-units", help="units of .npy/.txt Hessians: eV/A^2, hartree/bohr^2, kcal/mol/A^2, kJ/mol/A^2, mdyn/A")]
DeuterateOpt = Annotated[Optional[str], typer.Option(
    "--deuterate", help="'all' or comma-separated 0-based H indices to replace by D")]
IsotopeOpt = Annotated[Optional[list[str]], typer.Option(
    "--isotope", help="INDEX=MASS_AMU mass override, 0-based atom index (repeatable)")]
TemperatureOpt = Annotated[Optional[float], typer.Option(
    "--temperature", help=f"sample temperature, K (default {DEFAULT_TEMPERATURE_K:g}; refine: the recipe's)")]
InstrumentOpt = Annotated[Optional[str], typer.Option(
    "--instrument", help="tosca, tosca_back, vision, tfxa, ideal or a .toml (default: the one a measured "
    f"spectrum's header names, else {DEFAULT_INSTRUMENT})")]
OptimizeOpt = Annotated[bool, typer.Option(
    "--optimize", help="relax the geometry with the --source's forces first")]
NormalizeHOpt = Annotated[bool, typer.Option(
    "--normalize-h", help="set C-H, N-H, O-H bonds to neutron lengths (1.089, 1.015, 0.993 Å) first, moving each H "
    "along its bond: for X-ray structures, whose H positions give spurious imaginary modes")]


def load_structure(path: Path, *, deuterate: str | None = None, isotopes: list[str] | None = None):
    """Read a structure; ``deuterate`` = 'all' or comma-separated 0-based indices; ``isotopes`` = ['i=mass', ...]."""
    from hessfit.structures import read_structure

    s = _read_phonopy(path).structure if _is_phonopy(path) else read_structure(path)
    if deuterate:
        atoms = None if deuterate.strip().lower() == "all" else _parse_indices(deuterate, "--deuterate")
        s = s.deuterated(atoms)
    if isotopes:
        overrides = {}
        for item in isotopes:
            try:
                i, m = item.split("=")
                overrides[int(i)] = float(m)
            except ValueError:
                raise ConfigError(f"--isotope {item!r}: expected INDEX=MASS_AMU, e.g. 3=2.014") from None
        s = s.with_isotopes(overrides)
    return s


def _is_phonopy(path: Path) -> bool:
    from hessfit.sources import is_phonopy_file

    return is_phonopy_file(path)


def _read_phonopy(path: Path):
    """A phonopy file as a crystal: its supercell and force constants (hessfit.sources._phonopy), read once."""
    from hessfit.sources import read_phonopy

    key = str(Path(path).resolve())
    if key not in _PHONOPY_CACHE:
        _PHONOPY_CACHE[key] = read_phonopy(path)
    return _PHONOPY_CACHE[key]


_PHONOPY_CACHE: dict = {}


def _parse_indices(text: str, option: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected 'all' or comma-separated atom indices") from None


_HEADER_INSTRUMENTS = ("tosca", "vision", "tfxa")


def instrument_from_header(measured) -> str | None:
    """The instrument a measured spectrum's header comments name: an ``instrument: NAME`` line, else the only one
    of tosca, vision, tfxa the header mentions; None if unclear."""
    import re

    header = measured.metadata.get("header", "")
    lines = header.splitlines() if isinstance(header, str) else [str(h) for h in header]
    for line in lines:
        m = re.match(r"[#\s]*instrument\s*[:=]\s*([a-z_]+)", line, re.IGNORECASE)
        if m and m.group(1).lower() in _HEADER_INSTRUMENTS:
            return m.group(1).lower()
    text = " ".join(lines).lower()
    hits = [name for name in _HEADER_INSTRUMENTS if re.search(rf"\b{name}\b", text)]
    return hits[0] if len(hits) == 1 else None


def make_source(source: str | None, model: Path | str | None = None):
    """The Hessian source named by --source (any name the registry has; default the network) with --model."""
    from hessfit.sources import get_source

    name = (source or DEFAULT_SOURCE).strip().lower()
    options = {} if model is None else {"model": str(model)}
    try:
        return get_source(name, **options)
    except ConfigError as exc:
        if model is not None and "has no option" in str(exc):
            raise ConfigError(f"--model chooses the network's weights; --source {name} has none (leave out --source "
                              "or use --source nequip)") from None
        raise


def get_hessian(structure, *, hessian: Path | None, source: str | None, hessian_units: str = "eV/A^2",
                model: Path | str | None = None, optimize: bool = False, normalize_h: bool = False):
    """Return (structure, Hessian eV/Å², label) from a file (``hessian``) or a named source (default: the network).

    With ``normalize_h`` the X–H bonds are first set to neutron lengths; otherwise X-ray-like ones are warned about.
    For sources with forces, the input geometry's maximum force is checked (a warning suggests --optimize);
    with ``optimize`` the structure is first relaxed with the source's forces and the relaxed one is returned.
    """
    from hessfit.structures import normalize_hydrogens, read_hessian, warn_hydrogen_positions

    if hessian is not None and source is not None:
        raise ConfigError("give either --hessian FILE or --source NAME, not both")
    if hessian is not None and model is not None:
        raise ConfigError("give either --hessian FILE or --model (the network that computes one), not both")
    if hessian is not None:
        if optimize or normalize_h:
            raise ConfigError(f"--{'optimize' if optimize else 'normalize-h'} needs --source (a Hessian file belongs "
                              "to its own geometry)")
        return structure, read_hessian(hessian, n_atoms=structure.n_atoms, units=hessian_units), f"file {hessian}"
    from hessfit.sources import check_max_force
    from hessfit.sources import optimize as relax

    src = make_source(source, model)
    name = src.name
    if normalize_h:
        structure = normalize_hydrogens(structure)
    elif not optimize:
        warn_hydrogen_positions(structure)
    if src.has_forces:
        if optimize:
            structure = relax(structure, src).structure
        else:
            check_max_force(structure, src)
    elif optimize:
        raise ConfigError(f"--source {name} has no forces to optimise with; use hessfit optimize -m xtb|mmff|dft")
    result = src.hessian(structure)
    return structure, result.hessian, f"source {name} ({result.level_of_theory})"


def resolve_molecule(structure: Path, *, hessian: Path | None = None, source: str | None = None,
                     model: Path | str | None = None, hessian_units: str = "eV/A^2", deuterate: str | None = None,
                     isotopes: list[str] | None = None, optimize: bool = False, normalize_h: bool = False):
    """The shared options → (Structure with the requested masses (amu), Hessian (3N, 3N) eV/Å², label of its origin).

    The structure file is read and its masses set by --deuterate/--isotope; the Hessian comes from --hessian, or
    from --source (default the network, whose weights --model picks), optionally at the --optimize'd geometry
    (masses kept), with --normalize-h after setting the X–H bonds to neutron lengths. Masses do not change a
    Hessian, only the modes computed from it; the one exception is the network's Hessian of a crystal, whose
    molecules' rigid-body motion is projected out with these masses (`NequipSource._predict_crystal`).
    """
    s = load_structure(structure, deuterate=deuterate, isotopes=isotopes)
    check_normalize_h(structure, normalize_h)
    if _is_phonopy(structure) and hessian is None and source is None and model is None:  # crystal force constants
        fc = _read_phonopy(structure)
        return s, fc.hessian, f"phonopy force constants ({fc.n_cells} cells) in {structure}"
    if _is_phonopy(structure) and hessian is None and source in (None, "nequip") and not optimize:
        return _network_in_phonopy_crystal(structure, s, model)
    return get_hessian(s, hessian=hessian, source=source, hessian_units=hessian_units, model=model,
                       optimize=optimize, normalize_h=normalize_h)


def check_normalize_h(path: Path, normalize_h: bool) -> None:
    """--normalize-h moves hydrogens of a structure file; a phonopy file's geometry belongs to its force constants."""
    if normalize_h and _is_phonopy(path):
        raise ConfigError(f"{path}: --normalize-h applies to a structure file, not to a phonopy file's geometry")


def _network_in_phonopy_crystal(path: Path, s, model):
    """The network's intramolecular Hessian of the crystal in a phonopy file (each molecule predicted alone) plus
    the intermolecular part of the file's force constants (``NequipSource.intermolecular``)."""
    import dataclasses

    src = dataclasses.replace(make_source("nequip", model), intermolecular=_read_phonopy(path).hessian)
    result = src.hessian(s)
    return s, result.hessian, (f"source nequip ({result.level_of_theory}), intramolecular (each molecule alone) + "
                               f"intermolecular phonopy force constants of {path}")
