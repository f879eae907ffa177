"""Helpers shared by CLI commands: loading a structure with isotope options, getting a Hessian."""

from __future__ import annotations

from pathlib import Path

from hessfit.errors import ConfigError


def load_structure(path: Path, *, deuterate: str | None = None, isotopes: list[str] | None = None):
    """Read a structure; ``deuterate`` = 'all' or comma-separated 0-based indices; ``isotopes`` = ['i=mass', ...]."""
    from hessfit.structures import read_structure

    s = read_structure(path)
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


def _parse_indices(text: str, option: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected 'all' or comma-separated atom indices") from None


def get_hessian(structure, *, hessian: Path | None, source: str | None, hessian_units: str = "eV/A^2",
                model: Path | None = None, optimize: bool = False):
    """Return (structure, Hessian eV/Å², label) from a file (``hessian``) or a named source (default: the network).

    For sources with forces, the input geometry's maximum force is checked (a warning suggests --optimize);
    with ``optimize`` the structure is first relaxed with the source's forces and the relaxed one is returned.
    """
    from hessfit.structures import read_hessian

    if hessian is not None and source is not None:
        raise ConfigError("give either --hessian FILE or --source NAME, not both")
    if hessian is not None:
        if optimize:
            raise ConfigError("--optimize needs --source (a Hessian file belongs to its own geometry)")
        return structure, read_hessian(hessian, n_atoms=structure.n_atoms, units=hessian_units), f"file {hessian}"
    from hessfit.sources import check_max_force, get_source
    from hessfit.sources import optimize as relax

    name = source or "nequip"
    options = {"model": model} if (name == "nequip" and model is not None) else {}
    src = get_source(name, **options)
    if src.has_forces:
        if optimize:
            structure = relax(structure, src).structure
        else:
            check_max_force(structure, src)
    elif optimize:
        raise ConfigError(f"--source {name} has no forces to optimise with; use hessfit optimize -m xtb|mmff|dft")
    result = src.hessian(structure)
    return structure, result.hessian, f"source {name} ({result.level_of_theory})"
