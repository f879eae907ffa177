"""`ModelConfig`: the hyper-parameters of the NequIP energy model (one frozen, keyword-only dataclass)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hessfit._config_io import dataclass_from_dict, read_config_file
from hessfit.errors import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Hyper-parameters of the NequIP energy model, or of the direct block model (``kind="blocks"``).

    Attributes:
        kind: "energy" (Hessian = second derivative of a NequIP energy) or "blocks" (HIP-style: 3×3 blocks
            predicted directly from equivariant edge features, see `hessfit.model._blocks`).
        n_layers: number of interaction layers (published: 3).
        n_scalars: channels of 0e features (published: 32).
        n_vectors: channels of 1o features (published: 32).
        n_tensors: channels of 2e features (published: 32; 0 drops l=2 features).
        max_ell: highest degree of the edge spherical harmonics (published: 2).
        cutoff_angstrom: neighbour cutoff in Å (published: 5.0).
        n_radial_basis: Bessel radial functions (published: 8).
        radial_hidden: hidden widths of the radial MLP (published: (64, 64)).
        avg_num_neighbors: normalisation of the neighbour sum (mean neighbours per atom in the training data).
        elements: atomic numbers the model knows; species index = position in this tuple.
        dtype: "float32" (fast) or "float64" computation and parameter dtype.
        head_irreps: ("blocks" only) node features projected to these irreps before the pair tensor products.
        head_channels: ("blocks" only) radial channels per output irrep of the block head.
        n_fidelities: levels of theory the model was trained on (multi-fidelity training, e.g. B3LYP and
            GFN2-xTB Hessians). Each (element, level) pair is its own species: its own embedding, self-connection
            and output scale, while the convolutions are shared. Level 0 is the one predictions use.
    """

    kind: str = "energy"

    n_layers: int = 3
    n_scalars: int = 32
    n_vectors: int = 32
    n_tensors: int = 32
    max_ell: int = 2
    cutoff_angstrom: float = 5.0
    n_radial_basis: int = 8
    radial_hidden: tuple[int, ...] = (64, 64)
    avg_num_neighbors: float = 18.0
    elements: tuple[int, ...] = (1, 6, 7, 8)
    dtype: str = "float32"
    head_irreps: str = "16x0e + 8x1o + 4x2e"
    head_channels: int = 8
    n_fidelities: int = 1

    def __post_init__(self):
        object.__setattr__(self, "radial_hidden", tuple(int(h) for h in self.radial_hidden))
        object.__setattr__(self, "elements", tuple(int(z) for z in self.elements))
        if self.n_layers < 1:
            raise ConfigError(f"ModelConfig.n_layers must be >= 1, got {self.n_layers}")
        if self.n_scalars < 1:
            raise ConfigError(f"ModelConfig.n_scalars must be >= 1 (the energy readout needs scalars), got {self.n_scalars}")
        if self.cutoff_angstrom <= 0:
            raise ConfigError(f"ModelConfig.cutoff_angstrom must be positive, got {self.cutoff_angstrom}")
        if self.kind not in ("energy", "blocks"):
            raise ConfigError(f"ModelConfig.kind must be 'energy' or 'blocks', got {self.kind!r}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"ModelConfig.dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.n_fidelities < 1:
            raise ConfigError(f"ModelConfig.n_fidelities must be >= 1, got {self.n_fidelities}")
        if not self.elements or len(set(self.elements)) != len(self.elements):
            raise ConfigError(f"ModelConfig.elements must be distinct atomic numbers, got {self.elements}")

    @property
    def n_species(self) -> int:
        """Species the tables are indexed by: element index + len(elements) · level of theory."""
        return len(self.elements) * self.n_fidelities

    @property
    def hidden_irreps(self) -> str:
        parts = [f"{self.n_scalars}x0e"]
        if self.n_vectors:
            parts.append(f"{self.n_vectors}x1o")
        if self.n_tensors:
            parts.append(f"{self.n_tensors}x2e")
        return " + ".join(parts)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["radial_hidden"] = list(self.radial_hidden)
        d["elements"] = list(self.elements)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return dataclass_from_dict(cls, d)

    @classmethod
    def from_file(cls, path: str | Path) -> "ModelConfig":
        """Load from a JSON or TOML file (a table ``[model]`` in TOML, or top-level keys)."""
        return cls.from_dict(read_config_file(path, table="model", what="model"))


#: named sizes: "cpu" = the shipped weights (trainable on one CPU thread), "published" = Han et al. 2025
PRESETS = {
    "cpu": dict(n_layers=2, n_scalars=32, n_vectors=16, n_tensors=8, radial_hidden=(32,), cutoff_angstrom=4.0,
                avg_num_neighbors=14.6),
    "published": dict(n_layers=3, n_scalars=32, n_vectors=32, n_tensors=32, radial_hidden=(64, 64),
                      cutoff_angstrom=5.0, avg_num_neighbors=18.0),
}
