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
                model: Path | None = None):
    """Hessian (eV/Å²) from a file (``hessian``) or a named source (``source``); default source: the network."""
    from hessfit.structures import read_hessian

    if hessian is not None:
        return read_hessian(hessian, n_atoms=structure.n_atoms, units=hessian_units)
    name = source or "nequip"
    try:
        from hessfit.sources import get_source
    except ImportError:
        raise ConfigError("no Hessian given: pass --hessian FILE (Hessian sources are not available)") from None
    options = {"model": model} if (name == "nequip" and model is not None) else {}
    return get_source(name, **options).hessian(structure).hessian
