"""`InsConfig`: everything that defines a simulated INS spectrum besides the molecule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hessfit._config_io import dataclass_from_file
from hessfit.errors import ConfigError

MAX_ORDER_LIMIT = 10


@dataclasses.dataclass(frozen=True, kw_only=True)
class InsConfig:
    """Settings of the INS simulation.

    Attributes:
        instrument: name or TOML path ('tosca', 'tosca_back', 'vision', 'tfxa', 'ideal').
        temperature_k: sample temperature, K (Bose and Debye–Waller factors).
        max_order: highest quantum order: 1 fundamentals, 2 exact overtones/combinations,
            3..10 by isotropic auto-convolution (Abins' scheme).
        e_min_cm1, e_max_cm1, bin_width_cm1: output grid, cm⁻¹; values at bin centres.
        cross_section: 'incoherent' (Abins), 'total' (OCLIMAX) or 'coherent'.
        mode_cutoff_cm1: modes below this (incl. imaginary) are excluded, cm⁻¹ (Abins: 10).
        wing_a_iso: isotropic external mean-square displacement A_ISO (Å²) for OCLIMAX-style
            phonon wings; 0 disables wings (default).
        wing_width_cm1: width W of the one-phonon wing triangle, cm⁻¹ (OCLIMAX W_WIDTH).
        wing_terms: number of multi-phonon wing terms kept.
        resolution_margin: largest resolution scale the banded broadening kernel must support
            (a fit may widen the resolution up to this factor).
        exact_order1: evaluate order-1 Gaussians per stick (exact) instead of splatting on the grid.
        units: 'cm-1' or 'meV' for the output energy axis and densities.
    """

    instrument: str = "tosca"
    temperature_k: float = 10.0
    max_order: int = 4
    e_min_cm1: float = 0.0
    e_max_cm1: float = 4000.0
    bin_width_cm1: float = 1.0
    cross_section: str = "incoherent"
    mode_cutoff_cm1: float = 10.0
    wing_a_iso: float = 0.0
    wing_width_cm1: float = 150.0
    wing_terms: int = 4
    resolution_margin: float = 1.5
    exact_order1: bool = True
    units: str = "cm-1"

    def __post_init__(self):
        if not 1 <= self.max_order <= MAX_ORDER_LIMIT:
            raise ConfigError(f"max_order must be between 1 and {MAX_ORDER_LIMIT}, got {self.max_order}")
        if self.temperature_k <= 0:
            raise ConfigError(f"temperature_k must be positive, got {self.temperature_k}")
        if self.bin_width_cm1 <= 0 or self.e_max_cm1 <= self.e_min_cm1 or self.e_min_cm1 < 0:
            raise ConfigError("energy grid needs 0 ≤ e_min_cm1 < e_max_cm1 and bin_width_cm1 > 0")
        if self.cross_section not in ("incoherent", "total", "coherent"):
            raise ConfigError(f"cross_section must be incoherent, total or coherent, got {self.cross_section!r}")
        if self.units not in ("cm-1", "meV"):
            raise ConfigError(f"units must be 'cm-1' or 'meV', got {self.units!r}")
        if self.wing_a_iso < 0 or self.wing_width_cm1 <= 0:
            raise ConfigError("wing_a_iso must be ≥ 0 and wing_width_cm1 > 0")
        from hessfit.ins._instrument import load_instrument

        load_instrument(self.instrument)  # an unknown name fails here, before any Hessian is computed

    @property
    def n_bins(self) -> int:
        return int(round((self.e_max_cm1 - self.e_min_cm1) / self.bin_width_cm1))

    def replace(self, **changes) -> "InsConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_toml(cls, path: str | Path, **overrides) -> "InsConfig":
        return dataclass_from_file(cls, path, table="ins", what="INS", overrides=overrides)
