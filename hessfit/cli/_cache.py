"""JAX's persistent compilation cache for the command line: compiled XLA programs are stored in the user cache
directory and reused by later ``hessfit`` processes (a second ``hessfit predict`` skips most of the compilation).

The CLI turns it on; importing hessfit as a library does not. ``--no-cache`` or the environment variable
``HESSFIT_NO_COMPILE_CACHE=1`` turn it off; ``HESSFIT_CACHE_DIR`` moves it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: environment variable that switches the cache off (any value but "" or "0")
ENV_OFF = "HESSFIT_NO_COMPILE_CACHE"
#: environment variable naming another cache folder
ENV_DIR = "HESSFIT_CACHE_DIR"
#: compilations faster than this (s) are not stored: reading them back would cost about as much
MIN_COMPILE_TIME_S = 0.1


def cache_dir() -> Path:
    """The folder of compiled programs: ``$HESSFIT_CACHE_DIR``, else the user cache dir + ``hessfit/jax``
    (``~/.cache/hessfit/jax`` on Linux)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    try:
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("hessfit", appauthor=False)) / "jax"
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "hessfit" / "jax"


def cache_disabled() -> bool:
    return os.environ.get(ENV_OFF, "").strip() not in ("", "0")


def enable_compile_cache(path: str | Path | None = None) -> Path | None:
    """Switch on JAX's persistent compilation cache in ``path`` (default `cache_dir`); None if switched off.

    jax is not imported here: if it is not loaded yet the settings go through the environment variables jax
    reads on import (keeps ``hessfit --help`` fast), else through ``jax.config``.
    """
    if cache_disabled():
        return None
    path = Path(path) if path is not None else cache_dir()
    settings = {"jax_compilation_cache_dir": str(path),
                "jax_persistent_cache_min_compile_time_secs": MIN_COMPILE_TIME_S}
    jax = sys.modules.get("jax")
    if jax is not None and hasattr(jax, "config"):
        for key, value in settings.items():
            jax.config.update(key, value)
    else:
        for key, value in settings.items():
            os.environ.setdefault(key.upper(), str(value))  # a JAX_* variable the user set wins
    return path
