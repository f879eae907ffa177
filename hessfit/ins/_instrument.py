"""Instrument definitions: final energy, scattering angles and Gaussian resolution.

Definitions are TOML files in ``hessfit/ins/instruments/`` (package data; ``fitting_configs/instruments`` links there):
``final_energy_cm1`` (E_f, cm⁻¹), ``angles_deg`` (one per detector bank; intensities are averaged
over banks), ``resolution_cm1`` = [c0, c1, c2] for the Gaussian standard deviation
σ(E) = c0 + c1·E + c2·E² (E, σ in cm⁻¹).
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import numpy as np

from hessfit.errors import ConfigError

INSTRUMENT_DIR = Path(__file__).parent / "instruments"


@dataclasses.dataclass(frozen=True)
class Instrument:
    """An indirect-geometry spectrometer.

    Attributes:
        name: short name ('tosca', 'vision', ...).
        final_energy_cm1: fixed final neutron energy E_f, cm⁻¹.
        angles_deg: scattering angles of the banks, degrees.
        resolution_cm1: (c0, c1, c2), Gaussian σ(E) = c0 + c1 E + c2 E², cm⁻¹.
    """

    name: str
    final_energy_cm1: float
    angles_deg: tuple[float, ...]
    resolution_cm1: tuple[float, float, float]
    description: str = ""

    def __post_init__(self):
        if self.final_energy_cm1 <= 0:
            raise ConfigError(f"instrument {self.name}: final_energy_cm1 must be positive")
        if not self.angles_deg:
            raise ConfigError(f"instrument {self.name}: needs at least one angle")
        if len(self.resolution_cm1) != 3 or self.resolution_cm1[0] <= 0 or min(self.resolution_cm1) < 0:
            raise ConfigError(f"instrument {self.name}: resolution_cm1 must be [c0 > 0, c1 ≥ 0, c2 ≥ 0]")

    def sigma_cm1(self, energy_cm1):
        """Gaussian standard deviation (cm⁻¹) at energy transfer ``energy_cm1``."""
        c0, c1, c2 = self.resolution_cm1
        e = np.asarray(energy_cm1)
        return c0 + c1 * e + c2 * e * e


def available_instruments() -> list[str]:
    return sorted(p.stem for p in INSTRUMENT_DIR.glob("*.toml"))


def load_instrument(name_or_path: str | Path | Instrument) -> Instrument:
    """Load an instrument by name (``tosca``, ``tosca_back``, ``vision``, ``tfxa``, ``ideal``) or from a TOML path."""
    if isinstance(name_or_path, Instrument):
        return name_or_path
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = INSTRUMENT_DIR / f"{str(name_or_path).lower()}.toml"
    if not path.exists():
        raise ConfigError(f"unknown instrument {str(name_or_path)!r}; available: {', '.join(available_instruments())} "
                          "or a path to a .toml definition")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    try:
        return Instrument(name=str(data.get("name", path.stem)), final_energy_cm1=float(data["final_energy_cm1"]),
                          angles_deg=tuple(float(a) for a in data["angles_deg"]),
                          resolution_cm1=tuple(float(c) for c in data["resolution_cm1"]),
                          description=str(data.get("description", "")))
    except KeyError as exc:
        raise ConfigError(f"{path}: missing key {exc}") from None
