"""Small file helpers shared by all writers."""

from __future__ import annotations

from pathlib import Path

from hessfit.errors import ConfigError


def check_writable(path: str | Path, overwrite: bool) -> Path:
    """Return ``path`` as a Path; refuse to replace an existing file unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path}: file exists; pass --overwrite (overwrite=True) to replace it")
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    return path
