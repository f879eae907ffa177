"""Train several block-model runs side by side on one borrowed GPU inside a fixed wall-clock budget.

Used once per lease of the project's GPU machine (see docs/model_card_blocks.md). Steps:
1. unpack the compact training set (``make_compact``: int16 Hessians with a per-molecule scale, test split left
   out as zeros so the stored split indices stay valid) into the standard dataset .npz;
2. calibrate each job: a short 2-epoch run on 960 molecules gives the seconds per step (incl. GPU sharing).
   The full validation pass is counted in it, so the estimate is conservative: on an H200 it was 3-5x the
   real step time, and the runs ended early (raise --cal-molecules to tighten it);
3. start every job with as many epochs as its calibrated epoch time allows before the deadline (the cosine
   schedule is sized to finish), plus a time limit as a safety net;
4. pack each run folder and its log into ``<out>/<job>.tar.gz``.

Run from the repository root (the compact file first, here, then on the GPU machine):
    python -c "import sys; sys.path.insert(0, 'scripts'); import device_train as d; d.make_compact(
        '../shared/data/hessians/qm9_b3lyp_hessians.npz', 'checkpoints/blocks_qm9/split.json', '.gpu/qm9_q16.npz')"
    python scripts/device_train.py --data .gpu/qm9_q16.npz --jobs .gpu/jobs.json --budget-s 460 --out $OUT
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np


def make_compact(src: str, split_file: str, dst: str) -> float:
    """Write the train and validation molecules of ``src`` as int16 Hessians (per-molecule scale); returns the
    largest absolute rounding error in eV/Å²."""
    d = dict(np.load(src))
    split = json.loads(Path(split_file).read_text())
    keep = np.zeros(len(d["natoms"]), bool)
    keep[split["train"] + split["val"]] = True
    off, h_all = d["H_offsets"], d["H_triu"]
    q = np.zeros(h_all.shape, np.int16)
    scale = np.zeros(len(keep), np.float32)
    err = 0.0
    for i in np.flatnonzero(keep):
        h = h_all[off[i]:off[i + 1]].astype(np.float64)
        scale[i] = np.abs(h).max() / 32000.0
        q[off[i]:off[i + 1]] = np.round(h / scale[i]).astype(np.int16)
        err = max(err, float(np.abs(q[off[i]:off[i + 1]] * np.float64(scale[i]) - h).max()))
    np.savez_compressed(dst, natoms=d["natoms"], Z=d["Z"], R=d["R"], Hq=q, scale=scale, H_offsets=off, keep=keep)
    return err


def unpack(src: str, dst: str) -> None:
    """Compact file -> the standard dataset format (test molecules hold zero Hessians; training never reads them)."""
    d = dict(np.load(src))
    per_value = np.repeat(d["scale"], np.diff(d["H_offsets"]))
    h = (d["Hq"].astype(np.float32) * per_value).astype(np.float32)
    np.savez(dst, natoms=d["natoms"], Z=d["Z"], R=d["R"], H_triu=h, H_offsets=d["H_offsets"])


def train_cmd(job: dict, data: str, out: str, epochs: int, extra: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "hessfit.cli", "train", "--data", data, "--out", out, "--kind", "blocks",
           "--model-config", job["model_config"], "--epochs", str(epochs), "--no-progress", *extra]
    if job.get("init_from"):
        cmd += ["--init-from", job["init_from"]]
    return cmd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--jobs", required=True,
                    help="JSON list of {name, model_config, init_from?, resume_from?, steps_per_epoch?, extra_args?}")
    ap.add_argument("--budget-s", type=float, required=True, help="wall-clock seconds for everything")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cal-molecules", type=int, default=960, help="training molecules in the calibration run")
    args = ap.parse_args()
    t0 = time.time()
    deadline = t0 + args.budget_s
    out = Path(args.out)
    work = Path("/tmp/device_train")
    work.mkdir(exist_ok=True)
    data = str(work / "qm9.npz")
    unpack(args.data, data)
    jobs = json.loads(Path(args.jobs).read_text())
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTHONUNBUFFERED": "1"}
    print(f"unpacked in {time.time() - t0:.0f} s", flush=True)

    # calibration, all jobs at once (so the measured step time includes sharing the GPU)
    cal = {}
    for job in jobs:
        folder = work / f"cal_{job['name']}"
        log = open(work / f"cal_{job['name']}.log", "w")
        cal[job["name"]] = (folder, time.time(), subprocess.Popen(
            train_cmd(job, data, str(folder), 2, ["--max-molecules", str(args.cal_molecules)]), stdout=log, stderr=subprocess.STDOUT,
            env=env))
    plans = {}
    for job in jobs:
        folder, start, proc = cal[job["name"]]
        proc.wait()
        hist = json.loads((folder / "history.json").read_text()) if (folder / "history.json").exists() else []
        if proc.returncode or len(hist) < 2:
            tail = (work / f"cal_{job['name']}.log").read_text()[-2000:]
            print(f"{job['name']}: calibration failed (rc {proc.returncode}):\n{tail}", flush=True)
            continue
        steps = hist[1]["step"] - hist[0]["step"]
        per_step = (hist[1]["elapsed_s"] - hist[0]["elapsed_s"]) / steps  # includes validation: conservative
        overhead = (time.time() - start) - 2 * (hist[1]["elapsed_s"] - hist[0]["elapsed_s"])
        plans[job["name"]] = (per_step, overhead)
        print(f"{job['name']}: {per_step * 1e3:.1f} ms/step (validation included), start-up + compile "
              f"{overhead:.0f} s", flush=True)

    procs = []
    for job in jobs:
        if job["name"] not in plans:
            continue
        per_step, overhead = plans[job["name"]]
        folder = work / job["name"]
        start_epoch, done_s = 0, 0.0
        if job.get("resume_from"):
            shutil.copytree(job["resume_from"], folder)
            hist = json.loads((folder / "history.json").read_text())
            start_epoch, done_s = hist[-1]["epoch"], hist[-1]["elapsed_s"]
        left = deadline - time.time() - 1.5 * overhead - 25.0
        epoch_s = per_step * job.get("steps_per_epoch", 468)
        epochs = start_epoch + max(1, int(left / epoch_s))
        limit = done_s + left + overhead
        print(f"{job['name']}: epochs {start_epoch} -> {epochs} ({epoch_s:.1f} s each), time limit {left:.0f} s",
              flush=True)
        log = open(work / f"{job['name']}.log", "w")
        procs.append((job, folder, subprocess.Popen(
            train_cmd(job, data, str(folder), epochs, ["--time-limit", f"{limit:.0f}", *job.get("extra_args", [])]), stdout=log,
            stderr=subprocess.STDOUT, env=env)))
    for job, folder, proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.time() + 15, 1))
        except subprocess.TimeoutExpired:
            proc.kill()
            print(f"{job['name']}: killed at the deadline (its last checkpoint is kept)", flush=True)
        with tarfile.open(out / f"{job['name']}.tar.gz", "w:gz") as tar:
            tar.add(folder, arcname=job["name"])
            tar.add(work / f"{job['name']}.log", arcname=f"{job['name']}/train.log")
        print(f"{job['name']}: rc {proc.returncode}, packed", flush=True)
    print(f"total {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
