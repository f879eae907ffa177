"""Float64 for hessfit's own work without changing the caller's JAX settings.

Importing hessfit leaves ``jax_enable_x64`` as it was. The public entry points (normal modes, spectra,
comparison, refinement, network predictions, training) run inside ``jax.enable_x64(True)``: eigensolvers,
spectra and their gradients need float64, and arrays they return are float64. Lower-level function factories
(``make_*_fn``) build functions that run at the caller's precision: call them inside ``with
jax.enable_x64(True):`` (the CLI and the test suite switch float64 on for their whole process).
"""

from __future__ import annotations

import functools


def float64(fn):
    """``fn`` run inside ``jax.enable_x64(True)`` (the caller's setting is restored afterwards)."""

    @functools.wraps(fn)
    def run_in_float64(*args, **kwargs):
        import jax

        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return run_in_float64


def float64_exports(namespace: dict, names) -> None:
    """Replace the functions ``names`` in a package namespace (its ``globals()``) by their `float64` versions."""
    for name in names:
        namespace[name] = float64(namespace[name])
