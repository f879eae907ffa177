"""Traced programs kept across processes (`jax.export`): a fresh process skips tracing the network.

JAX's persistent compilation cache stores compiled XLA programs, but every process still traces the Python
model (e3nn/flax: several seconds for the energy model's Hessian columns). With this cache on, the first call
of a wrapped function for a given (function, model config, argument shapes and dtypes) exports it
(StableHLO, `jax.export`) into a file; later processes deserialize that file and call it, without tracing;
the compilation of the deserialized program is what the persistent compilation cache then finds.

Off unless the environment variable ``HESSFIT_TRACE_CACHE_DIR`` names a folder (the ``hessfit`` command line sets
it, next to the compilation cache; a library import does not). Keys include the versions of jax, jaxlib,
e3nn-jax and flax, the backend and a hash of hessfit's model source files, so a changed model never reuses an
old export. Any failure (an unreadable file, a function export cannot handle) falls back to the ordinary call.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from functools import lru_cache
from pathlib import Path

import jax
import numpy as np

from hessfit._run_folder import atomic_write

#: environment variable naming the folder of exported programs; unset = off
ENV_DIR = "HESSFIT_TRACE_CACHE_DIR"

_CALLS: dict[str, object] = {}


def trace_cache_dir() -> Path | None:
    path = os.environ.get(ENV_DIR, "").strip()
    return Path(path).expanduser() if path else None


@lru_cache(maxsize=1)
def _environment_key() -> str:
    """Versions, backend and a hash of hessfit/model/*.py: what must match for an export to be reused."""
    import importlib.metadata as md

    h = hashlib.sha256()
    for dist in ("jax", "jaxlib", "e3nn-jax", "flax"):
        try:
            h.update(f"{dist}={md.version(dist)};".encode())
        except md.PackageNotFoundError:
            h.update(f"{dist}=none;".encode())
    h.update(f"backend={jax.default_backend()};".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def _leaf_spec(x) -> tuple:
    return tuple(np.shape(x)), str(np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype)


def call_traced(make_jitted, name: str, config, *args, static_argnums: tuple[int, ...] = ()):
    """``make_jitted()(*args)``, through a cached export of it when the trace cache is on.

    ``make_jitted``: a function returning the jitted function, called only when it is needed (cache off, or no
    export yet), so that a cache hit imports and builds nothing of the model. ``name`` and ``config`` (a
    ModelConfig: its ``to_dict()``) identify the function; positional ``args`` may be pytrees of arrays; those at
    ``static_argnums`` are hashable static values (part of the key).
    """
    folder = trace_cache_dir()
    if folder is None:
        return make_jitted()(*args)
    static = {i: args[i] for i in static_argnums}
    dynamic = [a for i, a in enumerate(args) if i not in static]
    leaves, treedef = jax.tree_util.tree_flatten(dynamic)
    leaves = [np.asarray(x) if isinstance(x, (int, float, bool, np.generic)) else x for x in leaves]
    key_doc = json.dumps({"name": name, "config": config.to_dict(), "static": repr(sorted(static.items())),
                          "tree": str(treedef), "leaves": [_leaf_spec(x) for x in leaves],
                          "x64": bool(jax.config.jax_enable_x64), "env": _environment_key()}, sort_keys=True,
                         default=str)
    key = hashlib.sha256(key_doc.encode()).hexdigest()[:40]
    fn = _CALLS.get(key)
    if fn is None:
        try:
            fn = _load_or_export(folder / f"{name}-{key}.jaxexport", make_jitted, treedef, static, leaves, len(args))
        except ImportError:  # jax.export serialization needs the flatbuffers package
            fn = None
        except Exception as exc:  # never fail a computation because of the cache
            warnings.warn(f"trace cache off for {name}: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
            fn = None
        if fn is None:
            return make_jitted()(*args)
        _CALLS[key] = fn
    return fn(*leaves)


def _load_or_export(path: Path, make_jitted, treedef, static: dict, leaves: list, n_args: int):
    from jax import export

    if path.exists():
        try:
            return jax.jit(export.deserialize(bytearray(path.read_bytes())).call)
        except Exception:  # a damaged or foreign file: export again
            pass

    jitted = make_jitted()

    def flat(*flat_leaves):
        dynamic = iter(jax.tree_util.tree_unflatten(treedef, list(flat_leaves)))
        full = [static[i] if i in static else next(dynamic) for i in range(n_args)]
        return jitted(*full)

    specs = [jax.ShapeDtypeStruct(np.shape(x), x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype)
             for x in leaves]
    exported = export.export(jax.jit(flat))(*specs)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, exported.serialize())  # a concurrent reader sees the whole file or none
    return jax.jit(exported.call)
