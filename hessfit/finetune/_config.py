"""Fine-tuning settings and the spectra set: `FinetuneConfig` (table ``[finetune]``) and one `SpectrumEntry` per
``[[entry]]`` table of a TOML file (see ``fitting_configs/finetune/example.toml`` and docs/finetune.md)."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from hessfit._config_io import dataclass_from_dict
from hessfit.errors import ConfigError

#: parameter groups that may be trained (`trainable`)
TRAINABLE = ("readout", "last_layer", "all")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    """Settings of `hessfit.finetune.finetune`.

    Objective (all terms dimensionless)::

        L(θ) = Σ_e w_e ℓ_e(θ) / Σ_e w_e  +  param_l2_weight · ‖θ_T − θ0_T‖² / ‖θ0_T‖²
               + replay_weight · MSE_replay(θ) / MSE_replay(θ0)
        ℓ_e   = w_spearman · (1 − soft Spearman_e) + w_l2 · ‖model_e − y_e‖² / ‖y_e‖²

    θ_T: the trainable parameters, θ0 the pretrained ones; model_e = simulated spectrum × scale + polynomial
    background fitted in closed form (as `hessfit refine`); MSE_replay: the Hessian-vector-probe loss of
    training on a fixed subset of the training split (``replay_*``).

    Attributes:
        trainable: 'readout' (readout weights + per-element energy scale/shift), 'last_layer' (the last
            interaction layer + readout) or 'all'.
        steps: optimiser steps (each uses every entry and one replay batch).
        learning_rate: peak Adam step size (cosine decay to 10 % over ``steps``).
        grad_clip_norm: global gradient-norm clip of the trainable parameters.
        w_spearman, w_l2: weights of the spectral losses per entry.
        softness_start, softness_end: soft-rank temperature, annealed geometrically over the steps.
        bin_width_cm1: simulation grid step, cm⁻¹ (interpolated onto the measured energies).
        subtract_baseline, baseline_degree: remove a polynomial lower envelope from each measured spectrum once.
        background_degree: degree of the non-negative Bernstein background fitted with the intensity scale at every
            step by bounded least squares (scale > 0, background ≥ 0; −1: scale only; at most 4).
        param_l2_weight: λ_param of the relative L2 penalty on the parameter change (0 disables).
        replay_weight: λ_replay of the DFT-Hessian replay term (0 disables; needs ``replay_dataset``).
        replay_dataset: Hessian dataset .npz (relative paths: to the TOML file).
        replay_split: split.json of the pretraining run; default: rebuilt from the model's metadata (seed, fractions).
        replay_molecules: molecules drawn (seeded) from the training split.
        replay_batch_atoms: atoms per replay batch (one batch per step, cycling).
        replay_probes: Rademacher probes per replay molecule and step.
        max_atoms_per_pack: entries are packed into padded graphs of at most this many atoms.
        seed: seeds the replay subset and probes.
        checkpoint_every_s: seconds between checkpoints (also written at the end).
    """

    trainable: str = "last_layer"
    steps: int = 40
    learning_rate: float = 3e-4
    grad_clip_norm: float = 1.0
    w_spearman: float = 1.0
    w_l2: float = 1.0
    softness_start: float = 0.1
    softness_end: float = 0.02
    bin_width_cm1: float = 2.0
    subtract_baseline: bool = True
    baseline_degree: int = 3
    background_degree: int = 0
    param_l2_weight: float = 1.0
    replay_weight: float = 0.0
    replay_dataset: str | None = None
    replay_split: str | None = None
    replay_molecules: int = 48
    replay_batch_atoms: int = 200
    replay_probes: int = 2
    max_atoms_per_pack: int = 160
    seed: int = 0
    checkpoint_every_s: float = 120.0

    def __post_init__(self):
        if self.trainable not in TRAINABLE:
            raise ConfigError(f"trainable must be one of {', '.join(TRAINABLE)}, got {self.trainable!r}")
        if self.steps < 0:
            raise ConfigError(f"steps must be >= 0, got {self.steps}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        for name in ("w_spearman", "w_l2", "param_l2_weight", "replay_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.softness_end <= self.softness_start:
            raise ConfigError("need 0 < softness_end <= softness_start")
        if self.background_degree > 4:
            raise ConfigError(f"background_degree must be <= 4, got {self.background_degree}")
        if self.replay_weight > 0 and not self.replay_dataset:
            raise ConfigError("replay_weight > 0 needs replay_dataset (a Hessian dataset .npz)")

    def replace(self, **changes) -> "FinetuneConfig":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpectrumEntry:
    """One measured spectrum of the set.

    Attributes:
        structure: molecule file (geometry at which the Hessian is predicted; optimise it first).
        spectrum: measured spectrum file (energy, intensity[, error]).
        instrument: tosca, tosca_back, vision, tfxa, ideal or an instrument .toml.
        temperature_k: sample temperature, K.
        max_order: highest quantum order simulated.
        e_min_cm1, e_max_cm1: fitted energy window, cm⁻¹.
        weight: w_e, relative weight of this entry.
        energy_units: energy unit of the spectrum file (cm-1 or meV).
        name: label (default: the structure file's stem).
        resolution_scale: fixed factor on the instrument resolution width.
    """

    structure: str
    spectrum: str
    instrument: str = "tosca"
    temperature_k: float = 10.0
    max_order: int = 2
    e_min_cm1: float = 50.0
    e_max_cm1: float = 3500.0
    weight: float = 1.0
    energy_units: str = "cm-1"
    name: str | None = None
    resolution_scale: float = 1.0

    def __post_init__(self):
        if self.weight < 0:
            raise ConfigError(f"entry {self.structure}: weight must be >= 0, got {self.weight}")
        if self.e_max_cm1 <= self.e_min_cm1:
            raise ConfigError(f"entry {self.structure}: e_max_cm1 must exceed e_min_cm1")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _resolve(base: Path, p: str | None) -> str | None:
    if p is None:
        return None
    q = Path(p).expanduser()
    return str(q if q.is_absolute() else (base / q))


def load_spectra_set(path: str | Path) -> tuple[FinetuneConfig, list[SpectrumEntry]]:
    """Read a spectra-set TOML: optional ``[finetune]`` table and one ``[[entry]]`` table per spectrum.

    Relative paths are relative to the TOML file. Unknown keys, missing files and empty sets raise ConfigError.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: spectra set file not found")
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    unknown = sorted(set(doc) - {"finetune", "entry"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level keys {unknown}; expected a [finetune] table and [[entry]] tables")
    base = path.parent
    try:
        raw = dict(doc.get("finetune", {}))
        for key in ("replay_dataset", "replay_split"):
            raw[key] = _resolve(base, raw.get(key))
        config = dataclass_from_dict(FinetuneConfig, raw)
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{path}: [finetune]: {exc}") from None
    tables = doc.get("entry", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[entry]] tables (each names a structure and a measured spectrum)")
    entries = []
    for k, t in enumerate(tables):
        if not isinstance(t, dict):
            raise ConfigError(f"{path}: entry {k + 1} is not a table")
        missing = [key for key in ("structure", "spectrum") if key not in t]
        if missing:
            raise ConfigError(f"{path}: entry {k + 1} lacks {missing}")
        t = {**t, "structure": _resolve(base, t["structure"]), "spectrum": _resolve(base, t["spectrum"])}
        try:
            e = dataclass_from_dict(SpectrumEntry, t)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{path}: entry {k + 1}: {exc}") from None
        for key in ("structure", "spectrum"):
            if not Path(getattr(e, key)).is_file():
                raise ConfigError(f"{path}: entry {k + 1}: {key} file {getattr(e, key)} not found")
        entries.append(e)
    return config, entries
