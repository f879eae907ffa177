"""CLI commands `train`, `evaluate` and `predict` (the NequIP Hessian model). Thin: options → configs → API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from hessfit.cli import app
from hessfit.cli._common import ModelOpt, NormalizeHOpt, SourceOpt
from hessfit.errors import ConfigError


@app.command()
def train(
    data: Path = typer.Option(..., "--data", help="Hessian dataset .npz (shared/data/hessians format)"),
    out: Path = typer.Option(..., "--out", help="run folder (created; an existing run there is resumed)"),
    preset: str = typer.Option("cpu", "--preset", help="model size: 'cpu' (shipped) or 'published'"),
    model_config: Optional[Path] = typer.Option(None, "--model-config", help="ModelConfig .json/.toml (overrides --preset)"),
    train_config: Optional[Path] = typer.Option(None, "--train-config", help="TrainConfig .json/.toml"),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="max epochs (cosine schedule length)"),
    lr: Optional[float] = typer.Option(None, "--lr", help="peak learning rate"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed of initialisation, batches, probes and (without "
                                       "--split-seed) the split"),
    split_seed: Optional[int] = typer.Option(None, "--split-seed", help="seed of the split alone (independent "
                                             "members of one ensemble: other --seed, same --split-seed)"),
    batch_atoms: Optional[int] = typer.Option(None, "--batch-atoms", help="atoms per padded batch"),
    probes: Optional[int] = typer.Option(None, "--probes", help="Hessian-vector probes per molecule"),
    force_weight: Optional[float] = typer.Option(None, "--force-weight", help="weight of the zero-force term"),
    soft_mode_weight: Optional[float] = typer.Option(None, "--soft-mode-weight", help="weight of the soft-mode "
                                                      "term (each normal mode's error relative to its curvature)"),
    soft_mode_floor: Optional[float] = typer.Option(None, "--soft-mode-floor", help="cm⁻¹; softer modes weigh as "
                                                    "if at this frequency (default 100)"),
    max_molecules: Optional[int] = typer.Option(None, "--max-molecules", help="use only this many training molecules"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="stop after this many seconds (resumable)"),
    kind: Optional[str] = typer.Option(None, "--kind", help="'energy' (NequIP energy, autodiff Hessian) or 'blocks' "
                                       "(direct 3×3 Hessian blocks, HIP-style)"),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="model folder, or a shipped model's name "
                                             "(blocks_qm9), whose matching layers initialise a new run"),
    extra_data: Optional[list[Path]] = typer.Option(None, "--extra-data", help="Hessian dataset .npz at another "
                                                    "level of theory (e.g. GFN2-xTB), trained jointly with --data "
                                                    "as level 1, 2, ...; predictions use --data's level; repeatable"),
    extra_repeats: Optional[int] = typer.Option(None, "--extra-repeats", help="times each --extra-data molecule "
                                                "appears per epoch (default 1)"),
    supplement_data: Optional[list[Path]] = typer.Option(None, "--supplement-data", help="Hessian dataset .npz at "
                                                         "--data's level of theory whose molecules all join the "
                                                         "training set (chemistry --data lacks); repeatable"),
    supplement_repeats: Optional[int] = typer.Option(None, "--supplement-repeats", help="times each "
                                                     "--supplement-data molecule appears per epoch (default 1)"),
    frequency_data: Optional[Path] = typer.Option(None, "--frequency-data", help="frequency dataset .npz (geometries "
                                                  "and harmonic frequencies, no Hessians; docs/frequency_training.md) "
                                                  "trained jointly through the predicted Hessian's eigenvalues"),
    frequency_weight: Optional[float] = typer.Option(None, "--frequency-weight", help="weight of the frequency term "
                                                     "(default 1)"),
    max_frequency_molecules: Optional[int] = typer.Option(None, "--max-frequency-molecules", help="train on only "
                                                          "this many --frequency-data molecules"),
    no_resume: bool = typer.Option(False, "--no-resume", help="refuse to continue an existing run in --out"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
):
    """Train a Hessian model (resumable): the NequIP energy model with the Hessian-vector-probe loss, or
    (``--kind blocks``) the direct block model with the exact full-Hessian loss."""
    from hessfit.model import PRESETS, ModelConfig, shipped_model_names  # 'cpu' = shipped size, 'published' = Han et al.
    from hessfit.model import model_path
    from hessfit.structures import load_dataset
    from hessfit.train import TrainConfig, dataset_files, train as run_train

    if preset not in PRESETS:
        raise ConfigError(f"--preset {preset!r}: use one of {', '.join(PRESETS)}")
    mcfg = ModelConfig.from_file(model_config) if model_config else ModelConfig(**PRESETS[preset])
    if kind is not None:
        mcfg = ModelConfig.from_dict({**mcfg.to_dict(), "kind": kind})
    if init_from is not None:
        init_from = model_path(init_from)  # a shipped model's name works too
        if not (init_from / "model.json").exists():
            raise ConfigError(f"{init_from}: --init-from needs a model folder (model.json + params.msgpack) or a "
                              f"shipped model name ({', '.join(shipped_model_names())})")
    tcfg = TrainConfig.from_file(train_config) if train_config else TrainConfig()
    overrides = {"max_epochs": epochs, "learning_rate": lr, "seed": seed, "split_seed": split_seed,
                 "max_atoms_per_batch": batch_atoms,
                 "probes_per_molecule": probes, "force_weight": force_weight, "max_train_molecules": max_molecules,
                 "soft_mode_weight": soft_mode_weight, "soft_mode_floor_cm1": soft_mode_floor,
                 "time_limit_s": time_limit, "init_from": str(init_from) if init_from else None,
                 "extra_datasets": [str(p) for p in extra_data] if extra_data else None, "extra_repeats": extra_repeats,
                 "supplement_datasets": [str(p) for p in supplement_data] if supplement_data else None,
                 "supplement_repeats": supplement_repeats,
                 "frequency_dataset": str(frequency_data) if frequency_data else None,
                 "frequency_weight": frequency_weight, "max_frequency_molecules": max_frequency_molecules}
    tcfg = TrainConfig.from_dict({**tcfg.to_dict(), **{k: v for k, v in overrides.items() if v is not None}})
    inputs = ([(p, "extra dataset (--extra-data)") for entry in tcfg.extra_datasets for p in dataset_files(entry)]
              + [(p, "supplement dataset (--supplement-data)") for p in tcfg.supplement_datasets]
              + [(p, "frequency dataset (--frequency-data)") for p in [tcfg.frequency_dataset] if p])
    for path, what in inputs:
        if not Path(path).exists():
            raise ConfigError(f"{path}: {what} not found")
    if tcfg.extra_datasets:  # one level of theory per dataset
        mcfg = ModelConfig.from_dict({**mcfg.to_dict(), "n_fidelities": 1 + len(tcfg.extra_datasets)})
    if no_resume and (out / "checkpoint.msgpack").exists():
        raise ConfigError(f"{out}: holds a run already; remove --no-resume to continue it or choose another --out")
    ds = load_dataset(data)
    result = run_train(ds, out, model_config=mcfg, train_config=tcfg, dataset_path=str(data),
                       progress=not no_progress)
    best = result.history and min(h["val_loss"] for h in result.history)
    what = ("objective (Hessian MSE + weighted soft-mode and frequency terms)"
            if tcfg.soft_mode_weight or tcfg.frequency_dataset else "Hessian MSE")
    typer.echo(f"stopped ({result.stopped}); best validation {what} {best}; best model in {out / 'best'}")


def _split_indices(split_file: Optional[Path], subset: str, n: int) -> tuple[list[int], str]:
    if subset not in ("test", "val", "train", "all"):
        raise ConfigError(f"--subset {subset!r}: use test, val, train or all")
    if subset == "all":
        return list(range(n)), "all molecules"
    if split_file is None:
        raise ConfigError(f"--subset {subset} needs --split (the run's split.json, e.g. runs/NAME/split.json); "
                          "or use --subset all")
    if not split_file.exists():
        raise ConfigError(f"{split_file}: split file not found")
    split = json.loads(split_file.read_text())
    if split.get("n_molecules") != n:
        raise ConfigError(f"{split_file}: split of {split.get('n_molecules')} molecules, dataset has {n}")
    return [int(i) for i in split[subset]], f"{subset} split of {split_file}"


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Hessian dataset .npz with reference Hessians"),
    model: Optional[Path] = typer.Option(None, "--model", help="model folder or shipped name (cascade_pairclass, "
                                         "cascade_stacked, cascade_mf, nequip_mf, ...); default cascade_pairclass"),
    split: Optional[Path] = typer.Option(None, "--split", help="split.json of the training run"),
    subset: str = typer.Option("test", "--subset", help="test, val, train or all"),
    max_molecules: Optional[int] = typer.Option(None, "--max-molecules", help="evaluate only the first molecules"),
    baseline: Optional[list[str]] = typer.Option(None, "--baseline", help="also evaluate a physics source (xtb, mmff); repeatable"),
    baseline_max_molecules: Optional[int] = typer.Option(None, "--baseline-max-molecules", help="cap for baselines"),
    also_model: Optional[list[Path]] = typer.Option(None, "--also-model", help="evaluate another network (folder or "
                                                    "shipped name) on the same molecules; repeatable"),
    no_spectra: bool = typer.Option(False, "--no-spectra", help="skip INS Spearman metrics"),
    ood_data: Optional[list[Path]] = typer.Option(None, "--ood-data", help="also evaluate on every molecule of this "
                                                  "dataset .npz (out-of-domain set; no Spearman); repeatable"),
    ood: bool = typer.Option(False, "--ood", help="also evaluate on the out-of-domain sets data/ood/*.npz "
                             "(docs/out_of_domain.md)"),
    out: Path = typer.Option(Path("evaluation"), "--out", help="folder for metrics.json, CSVs and plots"),
):
    """Hessian MAE/RMSE/R², frequency MAE, low modes (below -50 cm⁻¹) and INS Spearman of the model (and
    baselines) on reference Hessians; with --ood / --ood-data also on out-of-domain sets, each in OUT/<set name>/."""
    from hessfit.model import Cascade, Ensemble, load_model
    from hessfit.structures import load_dataset
    from hessfit.train import (evaluate as run_eval, network_predict_fn, ood_dataset_paths, source_predict_fn,
                               summary_line, write_evaluation)

    m = load_model(model)
    ds = load_dataset(data)
    if split is None and model is not None and (model.parent / "split.json").exists():
        split = model.parent / "split.json"  # a run's best/ folder: use that run's split
    idx, what = _split_indices(split, subset, len(ds))
    idx = idx[:max_molecules]
    ood_paths = ood_dataset_paths(ood_data, ood)  # checked before the (slow) evaluation starts

    def label(mod) -> str:
        if isinstance(mod, (Ensemble, Cascade)):
            return "nequip-ensemble" if isinstance(mod, Ensemble) else "nequip-cascade"
        return "nequip-blocks" if mod.config.kind == "blocks" else "nequip"

    networks = [(label(m), m)]
    for extra in also_model or []:  # further networks on the same molecules, side by side
        mx = load_model(extra)
        networks.append((f"{label(mx)}-{extra.name if extra.name != 'best' else extra.parent.name}", mx))

    def run_all(dset, ids, spectra, baseline_ids, skip_level=None):
        res = [run_eval(network_predict_fn(mod), dset, ids, source=name, spectra=spectra, progress=True)
               for name, mod in networks]
        for name in baseline or []:
            if skip_level is not None and skip_level(name):
                continue  # a physics source against its own reference (xtb on the xTB panel) measures nothing
            res.append(run_eval(source_predict_fn(name), dset, baseline_ids, source=name, spectra=spectra,
                                progress=True))
        return res

    results = run_all(ds, idx, not no_spectra, idx[:baseline_max_molecules])
    path = write_evaluation(results, out)
    for r in results:
        typer.echo(summary_line(r, what))
    for p in ood_paths:  # out-of-domain sets: every molecule, no Spearman (one compilation per molecule size)
        from hessfit.sources import get_source

        dset = load_dataset(p)
        levels = {str(v) for v in dset.extra.get("level_of_theory", [])} - {""}
        ids = list(range(len(dset)))
        res = run_all(dset, ids, False, ids[:baseline_max_molecules],
                      skip_level=lambda name: levels == {get_source(name).level_of_theory})
        write_evaluation(res, out / p.stem)
        for r in res:
            typer.echo(summary_line(r, f"{p.name}, {'/'.join(sorted(levels)) or 'reference'}"))
    typer.echo(f"wrote {path} and plots in {out}" + (f" (out-of-domain sets in {out}/<set name>/)" if ood_paths else ""))


@app.command()
def predict(
    structures: list[Path] = typer.Argument(..., help="structure files (.xyz, multi-frame .xyz/.extxyz, ...)"),
    output: Path = typer.Option(..., "-o", "--output", help=".npy (one molecule) or .npz (dataset format, any number)"),
    source: SourceOpt = None,
    model: ModelOpt = None,
    batch_atoms: int = typer.Option(400, "--batch-atoms", help="atoms packed per padded graph (the network)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output file"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar for many molecules"),
    normalize_h: NormalizeHOpt = False,
):
    """Compute Hessians (eV/Å²) with the network (default) or any --source; several molecules go into one .npz.

    The geometries are used as given (optimise them first with ``hessfit optimize`` for a physics source), with
    --normalize-h after setting X–H bonds to neutron lengths (the .npz holds the geometries used; a .npy gets
    NAME_geometry.xyz beside it). Crystals go through the nequip source: each molecule predicted alone.
    """
    import numpy as np

    from hessfit.cli._common import DEFAULT_SOURCE, make_source
    from hessfit.structures import read_structures, save_dataset, write_hessian, write_xyz
    from hessfit.structures import from_arrays
    from hessfit.structures import check_writable, normalize_hydrogens

    suffix = output.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise ConfigError(f"{output}: output must end in .npy (one molecule) or .npz (dataset format)")
    geometry = output.with_name(f"{output.stem}_geometry.xyz")  # with --normalize-h: the geometry of the .npy
    inputs = {Path(p).resolve() for p in structures}
    for path in [output] + ([geometry] if normalize_h and suffix == ".npy" else []):
        if path.resolve() in inputs:
            raise ConfigError(f"{path}: is one of the input structures; choose another -o")
        check_writable(path, overwrite)
    mols = [s for path in structures for s in read_structures(path)]
    mols = [normalize_hydrogens(s) for s in mols] if normalize_h else mols
    _warn_hydrogens(mols)
    if suffix == ".npy" and len(mols) != 1:
        raise ConfigError(f"{len(mols)} structures given but {output} is a single-Hessian .npy; use -o NAME.npz")
    name = (source or DEFAULT_SOURCE).strip().lower()
    show = progress and len(mols) > 20
    if name == "nequip":  # the network, batched: several molecules per padded graph
        from hessfit.model import load_model, predict_hessians

        singles = [s for s in mols if not s.is_crystal]
        predicted = predict_hessians(singles, load_model(model), max_atoms_per_batch=batch_atoms, progress=show)
        _warn_unsound(singles, predicted)
        predicted = iter(predicted)
        src = make_source(name, model)  # crystals as in modes/spectrum/compare: each molecule alone
        hs = [src.hessian(s).hessian if s.is_crystal else next(predicted) for s in mols]
        level = "hessfit nequip network"
    else:  # any other registered source, one molecule at a time
        src = make_source(name, model)
        it = mols
        if show:
            from tqdm import tqdm

            it = tqdm(mols, desc=f"predict ({name})", unit="molecule")
        hs = [src.hessian(s).hessian for s in it]
        level = f"hessfit source {name} ({src.level_of_theory})"
    if suffix == ".npy":
        write_hessian(output, hs[0], structure=mols[0], overwrite=overwrite)
        if normalize_h:  # the Hessian belongs to the normalised geometry: keep it beside the .npy
            write_xyz(geometry, mols[0], overwrite=overwrite)
            typer.echo(f"wrote the geometry with normalised X–H bonds to {geometry}")
    else:
        ds = from_arrays([s.numbers for s in mols], [s.positions for s in mols], hs,
                         extra={"name": np.array([s.name for s in mols]), "meta_source": np.array(level)})
        save_dataset(output, ds, overwrite=overwrite)
    typer.echo(f"wrote {len(hs)} Hessian(s) from {level} to {output}")


def _few(names: list[str], k: int = 5) -> str:
    """The first ``k`` of ``names``, and how many more, for a one-line warning."""
    return ", ".join(names[:k]) + (f" and {len(names) - k} more" if len(names) > k else "")


def _warn_hydrogens(mols) -> None:
    """One warning line about X-ray-like or missing hydrogens (`hessfit.structures.hydrogen_problem`): the
    structure's own line if only one, else one line naming the structures."""
    import warnings

    from hessfit.structures import HessfitWarning, hydrogen_problem, warn_hydrogen_positions

    if len(mols) == 1:
        warn_hydrogen_positions(mols[0])
        return
    bad = [s.name for s in mols if hydrogen_problem(s)]
    if bad:
        warnings.warn(f"{len(bad)} of {len(mols)} structures have X-ray-like or missing hydrogens ({_few(bad)}): X-ray "
                      "hydrogen positions give spurious imaginary modes (use --normalize-h); missing ones must be "
                      "added first", HessfitWarning, stacklevel=2)


def _warn_unsound(mols, hessians) -> None:
    """One warning line naming the molecules whose network Hessian has a mode below the guard (−50 cm⁻¹)."""
    import warnings

    from hessfit.sources import GUARD_IMAGINARY_CM1, NetworkGuardWarning, network_guard

    bad = []
    for s, h in zip(mols, hessians):
        report = network_guard(s, h)
        if not report.passed:
            bad.append(f"{s.name} ({report.lowest_cm1:.0f} cm⁻¹)")
    if bad:
        warnings.warn(f"{len(bad)} of {len(mols)} network Hessians have a mode below {GUARD_IMAGINARY_CM1:.0f} cm⁻¹: "
                      f"{_few(bad)}; their soft modes are not to be trusted (use --source auto or --source xtb)",
                      NetworkGuardWarning, stacklevel=2)
