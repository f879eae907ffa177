"""CLI command `finetune`: fine-tune the network on measured spectra listed in a TOML set."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hessfit.cli import app


@app.command()
def finetune(
    spectra: Path = typer.Option(..., "--spectra", help="spectra set .toml ([finetune] table + [[entry]] tables)"),
    out: Path = typer.Option(..., "--out", help="run folder; receives model.json + params.msgpack (use as --model)"),
    model: Optional[Path] = typer.Option(None, "--model", help="base model folder or shipped name; default nequip_qm9"),
    trainable: Optional[str] = typer.Option(None, "--train", help="readout, last_layer or all"),
    steps: Optional[int] = typer.Option(None, "--steps", help="optimiser steps"),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate"),
    param_l2: Optional[float] = typer.Option(None, "--param-l2", help="weight of ‖θ−θ0‖²/‖θ0‖²"),
    replay_weight: Optional[float] = typer.Option(None, "--replay-weight", help="weight of the DFT replay term"),
    replay_data: Optional[Path] = typer.Option(None, "--replay-data", help="Hessian dataset .npz for replay"),
    replay_split: Optional[Path] = typer.Option(None, "--replay-split", help="split.json of the pretraining run"),
    no_resume: bool = typer.Option(False, "--no-resume", help="refuse to continue a run in --out"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
):
    """Fine-tune the NequIP Hessian model on measured INS spectra (spectral loss + pull toward the pretrained model)."""
    from hessfit.errors import ConfigError
    from hessfit.finetune import finetune_from_toml

    if no_resume and (out / "checkpoint.msgpack").exists():
        raise ConfigError(f"{out}: holds a fine-tuning run already; remove --no-resume or choose another --out")
    overrides = {"trainable": trainable, "steps": steps, "learning_rate": lr, "param_l2_weight": param_l2,
                 "replay_weight": replay_weight, "replay_dataset": str(replay_data) if replay_data else None,
                 "replay_split": str(replay_split) if replay_split else None}
    result = finetune_from_toml(spectra, out, model_path=model, overrides=overrides, progress=not no_progress)
    s = result.summary
    for e in s["entries"]:
        typer.echo(f"  {e['name']:<24s} Spearman {e['spearman_before']:.3f} -> {e['spearman_after']:.3f}")
    typer.echo(f"mean Spearman {s['mean_spearman_before']:.3f} -> {s['mean_spearman_after']:.3f}; {s['steps']} steps, "
               f"{s['seconds_per_step']:.2f} s/step; wrote {out}/ (use --model {out})")
