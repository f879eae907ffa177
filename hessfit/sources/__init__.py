"""Hessian sources: physics backends (xtb, mmff, dft), files, the network (with its guard), ``auto``;
optimisation; crystal force constants from phonopy/CASTEP files. Datasets of many molecules: `hessfit.dataset`.

    from hessfit.sources import get_source, optimize
    opt = optimize(structure, "xtb")                       # ASE BFGS with GFN2-xTB forces
    result = get_source("xtb").hessian(opt.structure)      # HessianResult, eV/Å²

See docs/sources.md.
"""

from hessfit.sources import _auto, _dft, _file, _mmff, _nequip, _xtb  # noqa: F401  (register the sources)
from hessfit.sources._base import HessianResult, HessianSource, get_source, register_source, require, source_names
from hessfit.sources._phonopy import is_phonopy_file, read_phonopy
from hessfit.sources._dft import DftSource
from hessfit.sources._fd import DEFAULT_STEP_ANGSTROM, finite_difference_hessian
from hessfit.sources._auto import AutoSource
from hessfit.sources._file import FileSource
from hessfit.sources._nequip import (GUARD_DISAGREEMENT_CM1, GUARD_IMAGINARY_CM1, GuardReport, NequipSource,
                                     NetworkGuardWarning, disagreement_limit, network_guard)
from hessfit.sources._mmff import MmffSource
from hessfit.sources._optimize import (DEFAULT_FMAX_EV_A, MAX_FORCE_WARN_EV_A, OptimizeResult, check_max_force,
                                       max_force, optimize)
from hessfit.sources._xtb import XtbSource

__all__ = [
    "HessianSource", "HessianResult", "get_source", "register_source", "source_names",
    "XtbSource", "MmffSource", "DftSource", "FileSource", "NequipSource", "AutoSource",
    "network_guard", "GuardReport", "NetworkGuardWarning", "GUARD_IMAGINARY_CM1", "GUARD_DISAGREEMENT_CM1",
    "disagreement_limit",
    "finite_difference_hessian", "DEFAULT_STEP_ANGSTROM",
    "optimize", "OptimizeResult", "max_force", "check_max_force", "DEFAULT_FMAX_EV_A", "MAX_FORCE_WARN_EV_A",
    "is_phonopy_file", "read_phonopy", "require",
]

