"""hessfit: Hessians from an equivariant network, differentiable INS spectra, refinement against experiment.

Core nouns (imported lazily): ``Structure``, ``read_structure``, ``read_hessian``, ``read_spectrum``,
``normal_modes``, ``InsConfig``, ``simulate``, ``compare_spectra``, ``RefineConfig``, ``refine``.
"""

import importlib as _importlib
import os as _os
import sys as _sys

# float64 for everything physical (eigensolver, spectra). Without importing jax here (``hessfit --help`` stays
# fast): set it now if jax is loaded, else through the environment variable jax reads when it is imported.
if "jax" in _sys.modules and hasattr(_sys.modules["jax"], "config"):
    _sys.modules["jax"].config.update("jax_enable_x64", True)
else:
    _os.environ["JAX_ENABLE_X64"] = "1"

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
