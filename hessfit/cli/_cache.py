"""Caches of the command line, in the user cache directory (``~/.cache/hessfit`` on Linux), reused by later
``hessfit`` processes: ``jax/`` is JAX's persistent compilation cache (compiled XLA programs), ``traced/`` holds
the network's traced programs (`hessfit.model._trace_cache`, `jax.export`), so a second ``hessfit predict``
neither traces nor compiles the network again.

The CLI turns them on; importing hessfit as a library does not. ``--no-cache`` or the environment variable
``HESSFIT_NO_COMPILE_CACHE=1`` turn them off; ``HESSFIT_CACHE_DIR`` moves them. Delete the folder to reclaim
the space (it grows by a few MB per molecule-size bucket and model).
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
    """The cache folder: ``$HESSFIT_CACHE_DIR``, else the user cache dir + ``hessfit`` (``~/.cache/hessfit``)."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    try:
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("hessfit", appauthor=False))
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "hessfit"


def cache_disabled() -> bool:
    return os.environ.get(ENV_OFF, "").strip() not in ("", "0")


def enable_compile_cache(path: str | Path | None = None) -> Path | None:
    """Switch on the caches in ``path`` (default `cache_dir`): JAX's persistent compilation cache in ``path/jax``,
    traced network programs in ``path/traced``. Returns ``path``, or None if switched off.

    jax is not imported here: if it is not loaded yet the settings go through the environment variables jax
    reads on import (keeps ``hessfit --help`` fast), else through ``jax.config``.
    """
    if cache_disabled():
        return None
    path = Path(path) if path is not None else cache_dir()
    os.environ.setdefault("HESSFIT_TRACE_CACHE_DIR", str(path / "traced"))  # read by hessfit.model._trace_cache
    settings = {"jax_compilation_cache_dir": str(path / "jax"),
                "jax_persistent_cache_min_compile_time_secs": MIN_COMPILE_TIME_S}
    jax = sys.modules.get("jax")
    if jax is not None and hasattr(jax, "config"):
        for key, value in settings.items():
            jax.config.update(key, value)
    else:
        for key, value in settings.items():
            os.environ.setdefault(key.upper(), str(value))  # a JAX_* variable the user set wins
    return path
