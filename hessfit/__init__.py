"""hessfit: Hessians from an equivariant network, differentiable INS spectra, refinement against experiment.

Core nouns (imported lazily): ``Structure``, ``read_structure``, ``read_hessian``, ``read_spectrum``,
``normal_modes``, ``InsConfig``, ``simulate``, ``compare_spectra``, ``RefineConfig``, ``refine``.
"""

import importlib as _importlib

# Importing hessfit changes no global state: the public entry points run in float64 by themselves
# (hessfit._precision); the command line switches float64 on for its own process.

__version__ = "0.1.0"

_LAZY = {
    "Structure": "hessfit.structures", "read_structure": "hessfit.structures", "read_hessian": "hessfit.structures",
    "read_spectrum": "hessfit.structures", "normal_modes": "hessfit.modes", "InsConfig": "hessfit.ins",
    "simulate": "hessfit.ins", "compare_spectra": "hessfit.compare", "RefineConfig": "hessfit.refine",
    "refine": "hessfit.refine",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(_importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hessfit' has no attribute {name!r}")
