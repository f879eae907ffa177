"""Build the out-of-domain evaluation sets of issue 17 (docs/out_of_domain.md), resumably.

    python scripts/build_ood_sets.py panel     # INS panel: SMILES → GFN2-xTB minimum → xTB Hessian
    python scripts/build_ood_sets.py panel2    # the fresh panel (confirmation only), built the same way
    python scripts/build_ood_sets.py panel3    # a third panel (confirmation only), built the same way
    python scripts/build_ood_sets.py panel4    # a fourth panel (confirmation only), built the same way
    python scripts/build_ood_sets.py panel5    # a fifth panel (confirmation only), built the same way
    python scripts/build_ood_sets.py dft       # DFT set: SMILES → xTB pre-opt → B3LYP/6-311++G(d,p) opt → Hessian
    python scripts/build_ood_sets.py dft --worker b   # a second DFT worker (own output file), shares the list
    python scripts/build_ood_sets.py fix-dft-saddles   # re-optimise DFT references that are saddles (see below)
    python scripts/build_ood_sets.py status    # molecules done / failed / left per set
    python scripts/build_ood_sets.py publish   # copy the finished builds to data/ood/*.npz (commit those)

Run in the background, niced and single-threaded (the machine is shared):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE \\
        nohup nice -n 19 .venv/bin/python scripts/build_ood_sets.py dft >> scratch/ood/dft.log 2>&1 &

Every stage uses `hessfit.dataset.build_dataset` serially (``n_workers=0``) with ``merge_every=1``:
each finished molecule is in ``scratch/ood/<set>.npz`` at once, a rerun skips finished and failed keys
(``--retry-failed`` recomputes failures), so a killed run loses only the molecule in flight.
The DFT stage starts every molecule from its GFN2-xTB minimum (``scratch/ood/dft_xtb_preopt.npz``)
so the expensive DFT optimisation needs few steps. DFT workers take molecules one at a time, cheapest first:
a molecule is skipped when any worker's output (``scratch/ood/dft_b3lyp*.npz``) or failure log has it, or a
live worker has claimed it (``scratch/ood/claims/<key>``, holding the claimer's pid; a dead pid's claim is
taken over). ``publish`` merges the workers' files in list order.

Saddles. ASE's BFGS can stop (max force ≤ 0.01 eV/Å) next to a saddle, typically a methyl rotor. After the
panel build, every molecule whose xTB Hessian has an internal mode below ``SADDLE_CM1`` (−20 cm⁻¹) is pushed
along that mode (±0.3 Å in total, both signs), re-optimised to max force ≤ 0.002 eV/Å, and replaced by the
lower-energy result if that has no mode below −20 cm⁻¹ (logged; kept as it was otherwise). ``fix-dft-saddles``
does the same for the finished DFT references with the DFT source (the + push first, the − push only if that
found no minimum), into ``scratch/ood/dft_b3lyp.fixed.npz``, which ``publish`` prefers over the workers' files;
``publish`` holds back a DFT reference that is still a saddle.
Its relaxations are resumable: geometry and BFGS state after every step in ``scratch/ood/saddle_checkpoints/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "ood"
WORK = ROOT / "scratch" / "ood"

#: a reference with an internal mode below this (cm⁻¹) is treated as a saddle and re-optimised
SADDLE_CM1 = -20.0
DFT_OPTIONS = {"functional": "B3LYP", "basis": "6-311++G(d,p)", "max_memory_mb": 3000}
#: the xTB panels (built and published the same way)
PANELS = ("panel", "panel2", "panel3", "panel4", "panel5")
SETS = {
    **{p: {"smiles": DATA / f"{p}_xtb.smi", "out": WORK / f"{p}_xtb.npz", "publish": DATA / f"{p}_xtb.npz"}
       for p in PANELS},
    "dft_preopt": {"smiles": DATA / "dft_b3lyp.smi", "out": WORK / "dft_xtb_preopt.npz", "publish": None},
    "dft": {"smiles": WORK / "dft_xtb_preopt.npz", "out": WORK / "dft_b3lyp.npz", "publish": DATA / "dft_b3lyp.npz"},
}
#: DFT references re-optimised off a saddle (``fix-dft-saddles``); preferred by ``publish``
FIXED = WORK / "dft_b3lyp.fixed.npz"


def _build(stage: str, *, method: str, options: dict, retry_failed: bool, max_steps: int) -> None:
    from hessfit.dataset import build_dataset

    spec = SETS[stage]
    WORK.mkdir(parents=True, exist_ok=True)
    r = build_dataset(spec["smiles"], spec["out"], method=method, options=options, n_workers=0, merge_every=1,
                      retry_failed=retry_failed, max_steps=max_steps, progress=False)
    print(f"{stage}: {r.n_done} computed, {r.n_failed} failed, {r.n_skipped} skipped of {r.n_input}; "
          f"{r.n_total} in {r.out}; {r.wall_time_s:.0f} s", flush=True)


def _lowest_mode(structure, hessian):
    import numpy as np

    from hessfit.modes import normal_modes

    m = normal_modes(structure, hessian)
    return float(np.asarray(m.frequencies_cm1)[0]), np.asarray(m.cartesian_displacements[0])


def _saddle_replacements(ds, source, *, step_angstrom: float = 0.3, fmax_eV_A: float = 0.002, max_steps: int = 3000,
                         stop_at_first: bool = False, checkpoint_dir: Path | None = None):
    """Yield (index, one-molecule dataset) replacing each molecule of ``ds`` whose lowest internal mode is below
    SADDLE_CM1 (see module doc) by the lower-energy minimum found with ``source`` (pushed along that mode with
    +, then − sign; ``stop_at_first``: no − push once the + push found one), as soon as it is found. With
    ``checkpoint_dir`` each relaxation is resumable (`hessfit.sources.optimize`'s ``checkpoint``): a killed run
    loses at most one force call."""
    import dataclasses

    import numpy as np

    from hessfit.dataset._build import _entry_dataset
    from hessfit.sources import optimize

    for i in range(len(ds)):
        key = str(ds.extra["key"][i])
        s = dataclasses.replace(ds.structure(i), name=key)
        low, disp = _lowest_mode(s, ds.hessian(i))
        if low >= SADDLE_CM1:
            continue
        best = None
        for sign in (1.0, -1.0):
            if stop_at_first and best is not None:
                break
            ckpt = None if checkpoint_dir is None else checkpoint_dir / f"{key}_push{sign:+.0f}"
            opt = optimize(dataclasses.replace(s, positions=s.positions + sign * step_angstrom * disp), source,
                           fmax_eV_A=fmax_eV_A, max_steps=max_steps, checkpoint=ckpt)
            h = source.hessian(opt.structure).hessian
            new_low = _lowest_mode(opt.structure, h)[0]
            print(f"saddle {key}: push {sign:+.0f}: converged {opt.converged}, lowest mode {new_low:.0f} cm⁻¹, "
                  f"energy {opt.energy_eV - float(ds.extra['energy_eV'][i]):+.5f} eV", flush=True)
            if opt.converged and new_low >= SADDLE_CM1 and (best is None or opt.energy_eV < best[0].energy_eV):
                best = (opt, h, new_low)
        e0 = float(ds.extra["energy_eV"][i])
        if best is None or best[0].energy_eV > e0 + 1e-4:
            print(f"saddle {key}: lowest mode {low:.0f} cm⁻¹, no lower minimum found; kept", flush=True)
            continue
        opt, h, new_low = best
        n3 = 3 * opt.structure.n_atoms
        entry = _entry_dataset({"key": key, "smiles": str(ds.extra["smiles"][i]), "numbers": opt.structure.numbers,
                                 "positions": opt.structure.positions,
                                 "H_triu": h[np.triu_indices(n3)].astype(np.float32),
                                 "level_of_theory": str(ds.extra["level_of_theory"][i]),
                                 "energy_eV": opt.energy_eV, "max_force_eV_A": opt.max_force_eV_A})
        print(f"saddle {key}: lowest mode {low:.0f} -> {new_low:.0f} cm⁻¹, energy {opt.energy_eV - e0:+.4f} eV; "
              "replaced", flush=True)
        yield i, entry


def _fix_saddles(out: Path) -> None:
    """Re-optimise the xTB molecules of ``out`` that are saddles (see module doc), in place."""
    from hessfit.dataset._build import _atomic_save, concat_datasets
    from hessfit.sources import get_source
    from hessfit.structures import load_dataset

    ds = load_dataset(out)
    new = dict(_saddle_replacements(ds, get_source("xtb", n_workers=1)))
    if new:
        _atomic_save(out, concat_datasets([new.get(i) or ds.subset([i]) for i in range(len(ds))]))
    print(f"{out.name}: {len(new)} saddle(s) replaced by minima", flush=True)


def _fix_dft_saddles() -> None:
    """DFT references that are saddles, re-optimised with the DFT source into ``FIXED`` (which ``publish`` prefers
    over the workers' files, so running workers are not disturbed). Molecules already in ``FIXED`` are skipped."""
    from hessfit.dataset._build import _atomic_save, concat_datasets
    from hessfit.sources import get_source
    from hessfit.structures import load_dataset

    fixed = load_dataset(FIXED) if FIXED.exists() else None
    done = {str(k) for k in fixed.extra["key"]} if fixed is not None else set()
    dft = get_source("dft", **DFT_OPTIONS)
    for path in _dft_outputs():
        if path == FIXED:
            continue
        ds = load_dataset(path)
        todo = [i for i in range(len(ds)) if str(ds.extra["key"][i]) not in done]
        if not todo:
            continue
        for _, entry in _saddle_replacements(ds.subset(todo), dft, max_steps=300, stop_at_first=True,
                                             checkpoint_dir=WORK / "saddle_checkpoints"):
            fixed = entry if fixed is None else concat_datasets([fixed, entry])
            _atomic_save(FIXED, fixed)
            done.add(str(entry.extra["key"][0]))
    print(f"{FIXED.name}: {0 if fixed is None else len(fixed)} DFT saddle(s) replaced by minima", flush=True)


def _dft_outputs() -> list[Path]:
    return sorted(WORK.glob("dft_b3lyp*.npz"))


def _dft_done_and_failed(retry_failed: bool) -> set[str]:
    from hessfit.dataset._build import dataset_keys, read_failures
    from hessfit.structures import load_dataset

    keys: set[str] = set()
    for out in _dft_outputs():
        keys |= dataset_keys(load_dataset(out))
        if not retry_failed:
            keys |= {r["key"] for r in read_failures(out)}
    return keys


def _claim_holder_alive(f: Path) -> bool:
    """True when the process named in the claim file ``f`` is running (or cannot be checked)."""
    try:
        os.kill(int(f.read_text().strip() or 0), 0)
    except (ValueError, ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True
    return True


def _claim(key: str) -> bool:
    """Claim ``key`` for this process (False when a live process holds it)."""
    d = WORK / "claims"
    d.mkdir(parents=True, exist_ok=True)
    f = d / key
    for _ in range(2):
        try:
            fd = os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if not _claim_holder_alive(f):
                f.unlink(missing_ok=True)  # stale claim of a dead worker
                continue
            try:
                return f.read_text().strip() == str(os.getpid())
            except FileNotFoundError:  # released meanwhile
                continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return True
    return False


def _build_dft(worker: str, *, retry_failed: bool) -> None:
    """DFT Hessians one molecule at a time (see module doc), into this worker's own output file."""
    from hessfit.dataset import build_dataset
    from hessfit.dataset._build import _atomic_save
    from hessfit.structures import load_dataset

    out = SETS["dft"]["out"] if worker == "main" else WORK / f"dft_b3lyp.{worker}.npz"
    pre = load_dataset(SETS["dft"]["smiles"])
    tmp = WORK / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    n_done = 0
    for i in range(len(pre)):
        key = str(pre.extra["key"][i])
        if key in _dft_done_and_failed(retry_failed) or not _claim(key):
            continue
        try:
            if key in _dft_done_and_failed(retry_failed):  # finished by another worker just before the claim
                continue
            one = tmp / f"{key}.{os.getpid()}.npz"
            _atomic_save(one, pre.subset([i]))
            r = build_dataset(one, out, method="dft", options=DFT_OPTIONS, n_workers=0, merge_every=1,
                              retry_failed=retry_failed, max_steps=300, progress=False)
            one.unlink(missing_ok=True)
            n_done += r.n_done
            print(f"dft[{worker}] {key}: {'done' if r.n_done else 'FAILED' if r.n_failed else 'skipped'} in "
                  f"{r.wall_time_s:.0f} s", flush=True)
        finally:
            (WORK / "claims" / key).unlink(missing_ok=True)
    print(f"dft[{worker}]: {n_done} computed; nothing left for this worker", flush=True)


def _status() -> None:
    from hessfit.dataset._build import dataset_summary, read_build_input, read_failures
    from hessfit.structures import load_dataset

    for stage, spec in SETS.items():
        n_in = len(read_build_input(spec["smiles"])) if spec["smiles"].exists() else 0
        for out in (_dft_outputs() or [spec["out"]]) if stage == "dft" else [spec["out"]]:
            done = len(load_dataset(out)) if out.exists() else 0
            fails = read_failures(out)
            print(f"{stage:11s} {done:3d} done, {len(fails):2d} failed  ({out.relative_to(ROOT)}; {n_in} in the list)")
            for f in fails:
                print(f"    failed {f['key']}: {f['error'][:120]}")
            if out.exists():
                s = dataset_summary(out)
                print(f"    {s['atoms_min']}-{s['atoms_max']} atoms, {s['file_bytes'] / 1e6:.2f} MB, "
                      f"{s['n_pending_parts']} unmerged parts")
    claims = sorted((WORK / "claims").glob("*")) if (WORK / "claims").is_dir() else []
    for c in claims:
        state = "in progress" if _claim_holder_alive(c) else "stale claim (worker gone; the next worker takes it)"
        print(f"dft {state}: {c.name} (pid {c.read_text().strip()}, since {time.ctime(c.stat().st_mtime)})")


def _publish() -> None:
    from hessfit.dataset._build import _atomic_save, concat_datasets, failures_path, merge_parts, read_build_input
    from hessfit.structures import load_dataset

    for name in PANELS:
        spec = SETS[name]
        if spec["out"].exists():
            merge_parts(spec["out"])
            shutil.copyfile(spec["out"], spec["publish"])
            if failures_path(spec["out"]).exists():
                shutil.copyfile(failures_path(spec["out"]), failures_path(spec["publish"]))
            print(f"{name}: {spec['out'].relative_to(ROOT)} -> {spec['publish'].relative_to(ROOT)}")
    outs = _dft_outputs()
    if outs:  # the workers' files merged in list order (cheapest first)
        # list order of the committed SMILES file (the pre-optimised file has the same order)
        order = {item["key"]: n for n, item in enumerate(read_build_input(SETS["dft_preopt"]["smiles"]))}
        parts, fails = {}, []
        for out in sorted(outs, key=lambda o: o != FIXED):  # re-optimised references first: setdefault keeps them
            merge_parts(out)
            ds = load_dataset(out)
            for i in range(len(ds)):
                parts.setdefault(str(ds.extra["key"][i]), ds.subset([i]))
            if failures_path(out).exists():
                fails += failures_path(out).read_text().splitlines(keepends=True)
        for key in list(parts):  # a reference at a saddle waits for fix-dft-saddles
            low = _lowest_mode(parts[key].structure(0), parts[key].hessian(0))[0]
            if low < SADDLE_CM1:
                del parts[key]
                print(f"dft: {key} held back (lowest mode {low:.0f} cm⁻¹, a saddle; fix-dft-saddles replaces it)")
        keys = sorted(parts, key=lambda k: order.get(k, len(order)))
        dest = SETS["dft"]["publish"]
        _atomic_save(dest, concat_datasets([parts[k] for k in keys]))
        if fails:
            failures_path(dest).write_text("".join(fails))
        print(f"dft: {len(keys)} molecules from {', '.join(o.name for o in outs)} -> {dest.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=[*PANELS, "dft", "fix-dft-saddles", "status", "publish"])
    p.add_argument("--worker", default="main", help="dft: this worker's name (own output file; default main)")
    p.add_argument("--retry-failed", action="store_true", help="recompute molecules in the failure log")
    args = p.parse_args(argv)
    if args.what == "status":
        _status()
    elif args.what == "publish":
        _publish()
    elif args.what == "fix-dft-saddles":
        _fix_dft_saddles()
    elif args.what in PANELS:
        _build(args.what, method="xtb", options={}, retry_failed=args.retry_failed, max_steps=1000)
        _fix_saddles(SETS[args.what]["out"])
    else:
        _build("dft_preopt", method="xtb", options={}, retry_failed=args.retry_failed, max_steps=1000)
        _build_dft(args.worker, retry_failed=args.retry_failed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
