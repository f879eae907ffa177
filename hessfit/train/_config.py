"""`TrainConfig`: training settings (one frozen, keyword-only dataclass)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hessfit._config_io import dataclass_from_dict, read_config_file
from hessfit.errors import ConfigError


def _dataset_entry(entry) -> str | tuple[str, ...]:
    """One extra-dataset entry: a path, or a tuple of paths at the same level of theory (one path: that path)."""
    if isinstance(entry, (list, tuple)):
        paths = tuple(str(p) for p in entry)
        if not paths:
            raise ConfigError("TrainConfig.extra_datasets: an entry is an empty list of files")
        return paths[0] if len(paths) == 1 else paths
    return str(entry)


def dataset_files(entry: str | tuple[str, ...]) -> tuple[str, ...]:
    """The files of one extra-dataset entry."""
    return (entry,) if isinstance(entry, str) else tuple(entry)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Settings of `hessfit.train.train`.

    Attributes:
        seed: seeds the initial parameters, the batch order and the probes, and the split unless ``split_seed``.
        split_seed: seeds the train/validation/test split (None: ``seed``). Independent ensemble members (other
            ``seed``) keep one split this way, so none trains on another's validation or test molecules.
        split_fractions: (train, validation, test) fractions of the dataset.
        max_atoms_per_batch: real atoms packed into one padded graph (several molecules per step).
        probes_per_molecule: random Rademacher vectors v per molecule; loss = mean ||(H_pred - H_ref) v||² / (3N)²,
            an unbiased estimate of the per-element mean squared Hessian error (eV/Å²)².
        max_epochs: epochs of the cosine learning-rate schedule (and the stopping point).
        learning_rate: peak Adam learning rate (after a linear warm-up of ``warmup_steps``).
        final_lr_fraction: learning rate at the end of the cosine schedule, as a fraction of the peak.
        weight_decay: AdamW decoupled weight decay.
        grad_clip_norm: global gradient-norm clip.
        patience_epochs: early stopping: stop when the validation loss has not improved for this many epochs.
        checkpoint_every_s: seconds between mid-epoch checkpoints.
        force_weight: weight of the optional force term (forces should vanish at the DFT-minimum geometries);
            0 disables it.
        soft_mode_weight: weight of the soft-mode term, the whitened error ‖T (H_pred − H_ref) T‖² per element
            (`hessfit.train._data.whitening_matrix`): each normal mode's error relative to its own curvature, so
            that soft modes count; 0 disables it.
        soft_mode_floor_cm1: modes below this frequency (cm⁻¹) are weighted as if they were at it (the floor λ0).
        max_train_molecules: use only the first molecules of the training split (None: all).
        max_val_molecules: validate on the first molecules of the validation split (None: all).
        time_limit_s: stop (after checkpointing) when this wall time has passed (None: no limit).
        init_from: model folder whose parameter blocks of matching shape initialise a new run (e.g. the shipped
            energy model's embedding and first layer for a direct block model); None: random initialisation.
        extra_datasets: Hessian datasets (.npz) at other levels of theory, trained jointly with the main one
            (multi-fidelity): the k-th is level k + 1, so the model needs ``n_fidelities = 1 + len(extra_datasets)``.
            An entry may be a list of files at the same level of theory, read as one dataset (concatenated in
            order).
            Each gets its own seeded split; the validation objective (early stopping, best model) is the main
            dataset's, and each extra set's validation Hessian MSE is recorded beside it.
        extra_repeats: each training molecule of the extra datasets appears this many times per epoch (a small
            extra set would otherwise hardly weigh against the main one).
        supplement_datasets: Hessian datasets (.npz) at the main dataset's level of theory (level 0) whose molecules
            all join the training set (no split of their own, never validated on): chemistry the main set lacks.
            Their training Hessian MSE is recorded per epoch (``supplement_hessian_mse``) and their molecules join
            the model's recorded domain (`hessfit.model.check_domain`).
        supplement_repeats: each supplement molecule appears this many times per epoch.
        frequency_dataset: a frequency dataset (.npz, `hessfit.structures.FrequencyDataset`: geometries and harmonic
            frequencies, no Hessians) trained jointly at level 0 through the frequency loss (`hessfit.train._loss.
            frequency_terms`: the predicted Hessian's sorted eigenvalues against the reference's, relative to
            their curvature above the floor ``soft_mode_floor_cm1``). It gets its own seeded split; its validation
            term (weighted) joins the validation objective, and its validation frequency MAE is recorded. An energy
            model gets these molecules' full Hessians from 3N unit probes each, in batches of their own (about
            3N times the cost of a one-probe Hessian batch).
        frequency_weight: weight of the frequency term (dimensionless per molecule, like the soft-mode term).
        max_frequency_molecules: train on only the first molecules of the frequency dataset's training split
            (None: all); its validation split is unchanged.
        curvature_hinge_weight: weight of the curvature hinge (`hessfit.train._loss.curvature_hinge`): per
            Hessian-labelled molecule (all minima), Σ relu(−μ)² over the eigenvalues μ of the predicted Hessian
            whitened by the reference (floor ``soft_mode_floor_cm1``), so that negative curvature is penalised
            wherever it points; 0 disables it. A block model takes all eigenvalues of its dense Hessian; an
            energy model the Rayleigh–Ritz values of the block-Krylov space of its ``curvature_hinge_block``
            lowest reference modes, ``curvature_hinge_krylov_steps`` deep (`hessfit.train._loss.ritz_curvature_hinge`,
            block × (steps + 1) extra HVPs per batch).
        curvature_hinge_block: the energy model's hinge block size (modes per molecule).
        curvature_hinge_krylov_steps: the energy model's hinge Krylov depth (steps after the block).
        curvature_hinge_level0: the hinge acts on every Hessian-labelled molecule's level-0 Hessian (the level that
            predictions use) instead of its own level's: the default predictions must be sound at the minima of the
            other levels' surfaces too (xTB minima).
        mode_curvature_weight: weight of the mode-curvature term (`hessfit.train._loss.mode_curvature_error`): per
            Hessian-labelled molecule, Σ over its reference modes below ``mode_curvature_max_cm1`` of the squared
            error of the predicted curvature along the mode, relative to the mode's own (floor
            ``soft_mode_floor_cm1``). Block models only; 0 disables it.
        mode_curvature_max_cm1: reference modes below this frequency (cm⁻¹) enter the mode-curvature term.
        mode_curvature_level0: the mode-curvature term acts on the level-0 Hessian (as ``curvature_hinge_level0``):
            at another level's minima the default predictions' soft-mode curvature is fitted to that level's
            reference (xTB's at xTB minima).

    For a direct block model (``ModelConfig.kind == "blocks"``) the loss is the exact full-Hessian MSE (one forward
    pass gives every block), so ``probes_per_molecule`` and ``force_weight`` do not apply.
    """

    seed: int = 0
    split_seed: int | None = None
    split_fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)
    max_atoms_per_batch: int = 383
    probes_per_molecule: int = 1
    max_epochs: int = 40
    learning_rate: float = 3e-3
    warmup_steps: int = 200
    final_lr_fraction: float = 0.02
    weight_decay: float = 0.0
    grad_clip_norm: float = 10.0
    patience_epochs: int = 8
    checkpoint_every_s: float = 300.0
    force_weight: float = 0.0
    soft_mode_weight: float = 0.0
    soft_mode_floor_cm1: float = 100.0
    max_train_molecules: int | None = None
    max_val_molecules: int | None = None
    time_limit_s: float | None = None
    init_from: str | None = None
    extra_datasets: tuple[str, ...] = ()
    extra_repeats: int = 1
    supplement_datasets: tuple[str, ...] = ()
    supplement_repeats: int = 1
    frequency_dataset: str | None = None
    frequency_weight: float = 1.0
    max_frequency_molecules: int | None = None
    curvature_hinge_weight: float = 0.0
    mode_curvature_weight: float = 0.0
    mode_curvature_max_cm1: float = 400.0
    curvature_hinge_block: int = 6
    curvature_hinge_krylov_steps: int = 1
    curvature_hinge_level0: bool = False
    mode_curvature_level0: bool = False

    @property
    def data_split_seed(self) -> int:
        """The seed of the train/validation/test split (``split_seed``, else ``seed``)."""
        return self.seed if self.split_seed is None else self.split_seed

    def __post_init__(self):
        object.__setattr__(self, "extra_datasets", tuple(_dataset_entry(p) for p in self.extra_datasets))
        object.__setattr__(self, "supplement_datasets", tuple(str(p) for p in self.supplement_datasets))
        object.__setattr__(self, "split_fractions", tuple(float(f) for f in self.split_fractions))
        f = self.split_fractions
        if len(f) != 3 or any(x < 0 for x in f) or abs(sum(f) - 1.0) > 1e-6:
            raise ConfigError(f"TrainConfig.split_fractions must be 3 non-negative numbers summing to 1, got {f}")
        for name in ("max_atoms_per_batch", "probes_per_molecule", "max_epochs", "extra_repeats", "supplement_repeats",
                     "curvature_hinge_block", "curvature_hinge_krylov_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.soft_mode_weight < 0 or self.soft_mode_floor_cm1 <= 0:
            raise ConfigError("TrainConfig.soft_mode_weight must be >= 0 and soft_mode_floor_cm1 > 0, got "
                              f"{self.soft_mode_weight} and {self.soft_mode_floor_cm1}")
        if self.frequency_weight < 0:
            raise ConfigError(f"TrainConfig.frequency_weight must be >= 0, got {self.frequency_weight}")
        if self.curvature_hinge_weight < 0 or self.mode_curvature_weight < 0 or self.mode_curvature_max_cm1 <= 0:
            raise ConfigError("TrainConfig.curvature_hinge_weight and mode_curvature_weight must be >= 0 and "
                              f"mode_curvature_max_cm1 > 0, got {self.curvature_hinge_weight}, "
                              f"{self.mode_curvature_weight} and {self.mode_curvature_max_cm1}")
        for flag, weight in (("curvature_hinge_level0", "curvature_hinge_weight"),
                             ("mode_curvature_level0", "mode_curvature_weight")):
            if getattr(self, flag) and not getattr(self, weight):
                raise ConfigError(f"TrainConfig.{flag} moves a term that is off: set {weight} > 0 (or drop the flag)")
        if self.learning_rate <= 0:
            raise ConfigError(f"TrainConfig.learning_rate must be positive, got {self.learning_rate}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["split_fractions"] = list(self.split_fractions)
        d["extra_datasets"] = [p if isinstance(p, str) else list(p) for p in self.extra_datasets]
        d["supplement_datasets"] = list(self.supplement_datasets)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return dataclass_from_dict(cls, d)

    @classmethod
    def from_file(cls, path: str | Path) -> "TrainConfig":
        """Load from JSON, or TOML (table ``[train]`` or top-level keys)."""
        return cls.from_dict(read_config_file(path, table="train", what="training"))
