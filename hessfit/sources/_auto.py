"""``--source auto``: the network when its guard passes, GFN2-xTB when it does not.

    result = get_source("auto").hessian(structure)
    result.metadata["auto_choice"]          # "nequip" or "xtb"

The network Hessian is computed first (fast) and checked by `hessfit.sources.network_guard` (internal
modes below −50 cm⁻¹; ensemble member disagreement). If it passes, it is returned. If not, and the fallback
(tblite for ``xtb``) is installed, the fallback's Hessian of the same geometry is returned instead, with one
warning line saying why; the geometry's max force under the fallback is checked as well, because a DFT or
network geometry is not an xTB minimum (relax with ``--optimize --source xtb`` or ``hessfit optimize -m xtb``).
Without the fallback the network Hessian is returned with the guard's warning. A molecule the network cannot
treat at all (an element it was not trained on) goes to the fallback too. The metadata records the
guard either way (``guard_passed``, ``n_modes_below_guard``, ``lowest_frequency_cm1``,
``member_disagreement_cm1``) and ``auto_choice``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings

from hessfit.errors import ValidationError
from hessfit.sources._base import HessianResult, HessianSource, get_source, register_source
from hessfit.sources._nequip import NequipSource, NetworkGuardWarning
from hessfit.structures import Structure

#: import name of each fallback's backend, for the availability check
_BACKENDS = {"xtb": "tblite", "dft": "pyscf", "mmff": "rdkit"}


def backend_available(source: str) -> bool:
    """True when the backend package of a physics source (xtb → tblite, dft → pyscf, mmff → rdkit) is installed."""
    module = _BACKENDS.get(source.strip().lower())
    return module is None or importlib.util.find_spec(module) is not None


@register_source("auto")
@dataclasses.dataclass(frozen=True)
class AutoSource(HessianSource):
    """The network (`NequipSource`) when its guard passes, else ``fallback`` (GFN2-xTB) when installed.

    Attributes:
        model: the network's weights, as for the nequip source (``None`` = the shipped ``cascade_pairclass``).
        fallback: registry name of the source used where the guard fails (default ``xtb``).
    """

    model: object = None
    fallback: str = "xtb"

    @property
    def level_of_theory(self) -> str:
        return f"NequIP network, or {self.fallback} where the network fails its guard"

    def hessian(self, structure: Structure) -> HessianResult:
        try:
            net, report = NequipSource(model=self.model, guard=True).hessian_and_guard(structure, warn=False)
        except ValidationError as exc:  # e.g. an element the network does not know
            if not backend_available(self.fallback):
                raise
            src = get_source(self.fallback)
            warnings.warn(f"{structure.name}: --source auto uses {src.level_of_theory}, not the network: "
                          f"{str(exc).split(': ', 1)[-1]}", NetworkGuardWarning, stacklevel=2)
            return self._fallback(src, structure, {"guard_passed": False, "network_error": str(exc)})
        if report.passed:
            return dataclasses.replace(net, metadata={**net.metadata, "source": self.name, "auto_choice": "nequip"})
        if not backend_available(self.fallback):
            warnings.warn(f"{report.message(structure.name)} ({self.fallback} is not installed: "
                          f"pip install 'hessfit[{self.fallback}]'; --source auto keeps the network Hessian)",
                          NetworkGuardWarning, stacklevel=2)
            return dataclasses.replace(net, metadata={**net.metadata, "source": self.name, "auto_choice": "nequip"})
        src = get_source(self.fallback)
        reason = report.message(structure.name).split(" fails the guard: ", 1)[1].split("; ")[0]
        warnings.warn(f"{structure.name}: --source auto uses {src.level_of_theory}, not the network, whose Hessian "
                      f"fails the guard: {reason}", NetworkGuardWarning, stacklevel=2)
        return self._fallback(src, structure, {**report.metadata(), "network_model": net.metadata["model"]})

    def _fallback(self, src: HessianSource, structure: Structure, extra: dict) -> HessianResult:
        from hessfit.sources._optimize import check_max_force

        if src.has_forces:
            check_max_force(structure, src)
        res = src.hessian(structure)
        return dataclasses.replace(res, metadata={**res.metadata, **extra, "source": self.name,
                                                  "auto_choice": src.name})
