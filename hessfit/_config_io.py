"""Shared loading of frozen config dataclasses from dicts, JSON or TOML (a leaf module: no hessfit imports but errors)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

from hessfit.errors import ConfigError


def dataclass_from_dict(cls, d: dict):
    """Build ``cls(**d)``, refusing unknown keys with a message listing the known ones."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} fields {unknown}; known: {sorted(known)}")
    return cls(**d)


def read_config_file(path: str | Path, *, table: str, what: str) -> dict:
    """Read a JSON or TOML file's ``table`` (top-level keys if the table is absent), so that a training run's
    ``config.json`` (tables ``model`` and ``train``) serves as a model or training config."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: {what} config file not found")
    try:
        if path.suffix.lower() == ".toml":
            d = tomllib.loads(path.read_text())
        else:
            d = json.loads(path.read_text())
        return d.get(table, d) if isinstance(d, dict) else d
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: invalid {what} config ({exc})") from None


def dataclass_from_file(cls, path: str | Path, *, table: str, what: str, overrides: dict | None = None):
    """``cls`` from a TOML ``[table]``/JSON file; ``overrides`` that are not None win. Errors name the file."""
    data = dict(read_config_file(path, table=table, what=what))
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return dataclass_from_dict(cls, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
