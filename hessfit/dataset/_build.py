"""Build Hessian datasets in the compact .npz format (docs/dataset_format.md), in parallel, resumably.

    build_dataset("mols.smi", "out.npz", method="xtb")          # local Dask cluster, progress bar
    build_dataset("mols.smi", "out.npz", method="dft", scheduler="tcp://head:8786")

INPUT is a SMILES file (one ``SMILES [name]`` per line, separated by spaces, tabs or a comma; lines
starting with ``#`` are comments; a ``smiles`` header line is skipped), a directory of .xyz files,
or an existing dataset .npz. Each molecule goes
SMILES → 3D (RDKit ETKDGv3, fixed seed, then MMFF94 pre-optimisation) → optimisation with the
method (ASE BFGS, max force ≤ fmax) → Hessian, and is appended to OUT.

Resumability. Every finished molecule is written at once to its own small file in
``OUT.parts/`` (atomic rename); parts are merged into OUT every ``merge_every`` molecules and at
the end (write to a temporary file, then atomic replace). Failures are appended with their
reason to ``OUT.failures.jsonl``. A rerun merges leftover parts, skips molecules whose key is in
OUT or in the failure log (``retry_failed=True`` retries them), so an interrupted run loses at
most the molecules in flight. Molecules are identified by a key: the name from the SMILES file
(else the SMILES string), the xyz file stem, or ``<dataset stem>:<index>`` (``qm9_<index>``).

Dask starts local workers with OMP_NUM_THREADS=1 (its ``distributed.nanny.pre-spawn-environ``
default), and xtb runs one displacement thread per worker, so a local cluster of n workers uses n cores.

Extra per-molecule arrays written: ``key``, ``smiles``, ``level_of_theory``, ``energy_eV``,
``max_force_eV_A``. Appending a different level of theory to an existing OUT is refused.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import uuid
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np

from hessfit.errors import ConfigError, HessfitError, InputFormatError
from hessfit.structures import HessianDataset, Structure, concat_datasets, load_dataset, read_structure

#: fixed ETKDG seed, so reruns embed the same conformer
EMBED_SEED = 20240601
_STR_FIELDS = ("key", "smiles", "level_of_theory")
_FLOAT_FIELDS = ("energy_eV", "max_force_eV_A")


@dataclasses.dataclass(frozen=True)
class BuildReport:
    """Summary of one `build_dataset` run.

    Attributes:
        out: the dataset file.
        n_input: molecules in INPUT.
        n_skipped: already in OUT or recorded as failed (not recomputed).
        n_done: computed and added in this run.
        n_failed: failed in this run (reasons in ``failures_path``).
        n_total: molecules in OUT after the run.
        failures_path: the JSON-lines failure log.
        wall_time_s: duration of the run, s.
        n_lost: molecules whose task was lost (cancelled, scheduler connection lost); not recorded as
            failures, so the next run retries them.
        n_above_max_force: molecules added whose max force exceeds ``MAX_FORCE_WARN_EV_A`` (only possible
            with ``optimize=False``): their low modes may be wrong.
    """

    out: Path
    n_input: int
    n_skipped: int
    n_done: int
    n_failed: int
    n_total: int
    failures_path: Path
    wall_time_s: float
    n_lost: int = 0
    n_above_max_force: int = 0


# ----------------------------------------------------------------------------- paths

def parts_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".parts")


def failures_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".failures.jsonl")


# ----------------------------------------------------------------------------- input

def read_build_input(path: str | Path) -> list[dict]:
    """Work items from a SMILES file, an xyz directory or a dataset .npz: dicts with key, smiles, numbers, positions."""
    path = Path(path)
    if not path.exists():
        raise InputFormatError(f"{path}: not found (expected a SMILES file, a directory of .xyz files "
                               "or a .npz dataset)")
    items: list[dict] = []
    if path.is_dir():
        files = sorted(path.glob("*.xyz"))
        if not files:
            raise InputFormatError(f"{path}: directory has no .xyz files")
        for f in files:
            s = read_structure(f)
            items.append({"key": f.stem, "smiles": "", "numbers": s.numbers, "positions": s.positions})
    elif path.suffix.lower() == ".npz":
        ds = load_dataset(path)
        keys = ds.extra.get("key")
        qm9 = ds.extra.get("qm9_index")
        smiles = ds.extra.get("smiles")
        for i in range(len(ds)):
            key = (str(keys[i]) if keys is not None and str(keys[i]) else
                   f"qm9_{int(qm9[i])}" if qm9 is not None else f"{path.stem}:{i}")
            items.append({"key": key, "smiles": str(smiles[i]) if smiles is not None else "",
                          "numbers": ds.numbers(i), "positions": ds.positions(i)})
    else:
        try:
            lines = path.read_text().splitlines()
        except UnicodeDecodeError:
            raise InputFormatError(f"{path}: not a text SMILES file") from None
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):  # '#' inside a SMILES is a triple bond, not a comment
                continue
            parts = line.replace(",", " ").replace("\t", " ").split()
            if lineno == 1 and parts[0].lower() == "smiles":
                continue
            smi = parts[0]
            items.append({"key": parts[1] if len(parts) > 1 else smi, "smiles": smi, "numbers": None,
                          "positions": None, "line": lineno})
        if not items:
            raise InputFormatError(f"{path}: no SMILES found")
    keys = [it["key"] for it in items]
    dupes = sorted({k for k in keys if keys.count(k) > 1}) if len(set(keys)) != len(keys) else []
    if dupes:
        raise InputFormatError(f"{path}: duplicate molecule keys {dupes[:5]}; give each SMILES a unique name")
    return items


# ----------------------------------------------------------------------------- worker

def smiles_to_structure(smiles: str, *, name: str = "molecule", seed: int = EMBED_SEED) -> Structure:
    """SMILES → 3D structure: RDKit ETKDGv3 embedding (fixed seed) + MMFF94 pre-optimisation."""
    from hessfit.sources import require

    require("rdkit", extra="dataset", what="building 3D structures from SMILES")
    from rdkit import Chem, rdBase
    from rdkit.Chem import AllChem

    _quiet = rdBase.BlockLogs()  # noqa: F841  (RDKit's parse messages; the failure is reported instead)
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise InputFormatError(f"{name}: RDKit cannot parse SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True
        if AllChem.EmbedMolecule(mol, params) != 0:
            raise InputFormatError(f"{name}: ETKDG could not embed {smiles!r} in 3D")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
    pos = mol.GetConformer().GetPositions()
    return Structure.from_numbers([a.GetAtomicNum() for a in mol.GetAtoms()], pos, name=name)


def compute_entry(item: dict, method: str, options: dict, *, do_optimize: bool = True, fmax_eV_A: float = 0.01,
                  max_steps: int = 500) -> dict:
    """One molecule: structure → optimise → Hessian. Never raises: failures come back with ``ok=False``."""
    from hessfit.sources import get_source, optimize

    t0 = time.perf_counter()
    key = item["key"]
    try:
        if item.get("numbers") is None:
            s = smiles_to_structure(item["smiles"], name=key)
        else:
            s = Structure.from_numbers(item["numbers"], item["positions"], name=key)
        source = get_source(method, **options)
        if do_optimize:
            opt = optimize(s, source, fmax_eV_A=fmax_eV_A, max_steps=max_steps)
            if not opt.converged:
                return {"key": key, "ok": False, "smiles": item.get("smiles", ""),
                        "error": f"optimisation did not converge in {opt.n_steps} steps "
                                 f"(max force {opt.max_force_eV_A:.3g} eV/Å > {fmax_eV_A:g})"}
            s, energy, fmax = opt.structure, opt.energy_eV, opt.max_force_eV_A
        else:
            energy, forces = source.energy_forces(s)
            fmax = float(np.max(np.linalg.norm(forces, axis=1)))
        result = source.hessian(s)
    except HessfitError as exc:
        return {"key": key, "ok": False, "smiles": item.get("smiles", ""), "error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # a failure must be recorded, never stop the run (backends raise many types)
        return {"key": key, "ok": False, "smiles": item.get("smiles", ""),
                "error": f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    n3 = 3 * s.n_atoms
    return {"key": key, "ok": True, "smiles": item.get("smiles", ""), "numbers": s.numbers.astype(np.int8),
            "positions": s.positions, "H_triu": result.hessian[np.triu_indices(n3)].astype(np.float32),
            "level_of_theory": result.level_of_theory, "energy_eV": float(energy), "max_force_eV_A": float(fmax),
            "wall_time_s": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- storage

def _entry_dataset(entry: dict) -> HessianDataset:
    return HessianDataset(natoms=np.array([len(entry["numbers"])], np.int32), Z=np.asarray(entry["numbers"], np.int8),
                          R=np.asarray(entry["positions"], float), H_triu=np.asarray(entry["H_triu"], np.float32),
                          H_offsets=np.array([0, len(entry["H_triu"])], np.int64),
                          extra={"key": np.array([entry["key"]]), "smiles": np.array([entry["smiles"]]),
                                 "level_of_theory": np.array([entry["level_of_theory"]]),
                                 "energy_eV": np.array([entry["energy_eV"]]),
                                 "max_force_eV_A": np.array([entry["max_force_eV_A"]], np.float32)})


def _atomic_save(path: Path, ds: HessianDataset) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp.npz")
    np.savez_compressed(tmp, natoms=ds.natoms, Z=ds.Z, R=ds.R, H_triu=ds.H_triu, H_offsets=ds.H_offsets, **ds.extra)
    os.replace(tmp, path)


def _write_part(out: Path, entry: dict) -> None:
    d = parts_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    _atomic_save(d / f"{time.time_ns()}_{uuid.uuid4().hex[:6]}.npz", _entry_dataset(entry))


def _record_failure(out: Path, entry: dict, method_label: str) -> None:
    rec = {"key": entry["key"], "smiles": entry.get("smiles", ""), "level_of_theory": method_label,
           "error": entry["error"], "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with open(failures_path(out), "a") as fh:
        fh.write(json.dumps(rec) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_failures(out: str | Path) -> list[dict]:
    """Failure records of a build (empty when none)."""
    p = failures_path(out)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def dataset_keys(ds: HessianDataset) -> set[str]:
    return {str(k) for k in ds.extra.get("key", [])}


def merge_parts(out: str | Path) -> int:
    """Merge ``OUT.parts/*.npz`` into OUT (atomic), dropping keys already present; return molecules added."""
    out = Path(out)
    d = parts_dir(out)
    files = sorted(d.glob("*.npz")) if d.is_dir() else []
    if not files:
        return 0
    base = load_dataset(out) if out.exists() else None
    seen = dataset_keys(base) if base is not None else set()
    new = []
    for f in files:
        part = load_dataset(f)
        k = str(part.extra["key"][0])
        if k not in seen:
            seen.add(k)
            new.append(part)
    if new:
        _atomic_save(out, concat_datasets(([base] if base is not None else []) + new))
    for f in files:
        f.unlink()
    return len(new)


# ----------------------------------------------------------------------------- driver

def _iter_results(todo: list[dict], run_args: tuple, *, scheduler: str | None, n_workers: int,
                  progress: bool, connect_timeout_s: float = 30.0) -> Iterator[dict]:
    """Yield worker results as they finish (serial when ``n_workers == 0`` and no scheduler)."""
    from tqdm.auto import tqdm

    method, options, do_optimize, fmax, steps = run_args
    if not todo:
        return
    bar = tqdm(total=len(todo), disable=not progress, unit="mol", desc=f"{method} Hessians")
    if scheduler is None and n_workers == 0:
        for item in todo:
            yield compute_entry(item, method, options, do_optimize=do_optimize, fmax_eV_A=fmax, max_steps=steps)
            bar.update()
        bar.close()
        return

    from hessfit.sources import require

    require("dask.distributed", extra="dataset", what="parallel dataset building")
    from dask.distributed import Client, LocalCluster, as_completed
    from distributed.scheduler import KilledWorker

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=f"{connect_timeout_s}s")
        except OSError as exc:
            raise ConfigError(f"cannot connect to the Dask scheduler at {scheduler!r} ({exc})") from None
    try:
        n_slots = max(1, sum(client.nthreads().values()))
        window = max(4, 2 * n_slots)
        it = iter(todo)
        by_key = {}
        ac = as_completed()

        def submit(item):
            fut = client.submit(compute_entry, item, method, options, do_optimize=do_optimize, fmax_eV_A=fmax,
                                max_steps=steps, pure=False)
            by_key[fut.key] = item
            ac.add(fut)

        for item in islice(it, window):
            submit(item)
        for fut in ac:
            item = by_key.pop(fut.key)
            try:
                res = fut.result()
            except KilledWorker as exc:  # the molecule crashed workers repeatedly (segfault, memory): record it
                res = {"key": item["key"], "ok": False, "smiles": item.get("smiles", ""),
                       "error": f"worker killed while computing it: {exc}"}
            except Exception as exc:  # cancelled / lost connection: not the molecule's fault, retried next run
                res = {"key": item["key"], "ok": False, "transient": True, "smiles": item.get("smiles", ""),
                       "error": f"{type(exc).__name__}: {exc}"}
            fut.release()
            nxt = next(it, None)
            if nxt is not None:
                submit(nxt)
            bar.update()
            yield res
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def build_dataset(input: str | Path, out: str | Path, *, method: str = "xtb", options: dict | None = None,
                  scheduler: str | None = None, n_workers: int = 2, optimize: bool = True, fmax_eV_A: float = 0.01,
                  max_steps: int = 500, merge_every: int = 50, retry_failed: bool = False,
                  progress: bool = False, connect_timeout_s: float = 30.0) -> BuildReport:
    """Compute Hessians for every molecule of INPUT not yet in OUT and append them to OUT.

    Args:
        input: SMILES file, directory of .xyz files, or dataset .npz.
        out: dataset .npz to create or extend.
        method: source name with forces: "xtb", "mmff" or "dft".
        options: source options (e.g. ``{"basis": "6-311++G(d,p)"}``).
        scheduler: address of an existing Dask scheduler; ``None`` starts a local cluster.
        connect_timeout_s: how long to try reaching ``scheduler`` before giving up.
        n_workers: local cluster size (processes, one thread each); 0 runs serially in this process.
        optimize: optimise each structure with the method before the Hessian.
        fmax_eV_A, max_steps: optimiser convergence (eV/Å) and step limit; unconverged molecules are failures.
        merge_every: merge finished parts into OUT after this many molecules.
        retry_failed: recompute molecules recorded in the failure log.
        progress: show a tqdm progress bar.
    """
    from hessfit.sources import get_source

    t0 = time.perf_counter()
    out = Path(out)
    options = {k: v for k, v in dict(options or {}).items() if v is not None}
    if method.strip().lower() == "xtb":
        options.setdefault("n_workers", 1)  # parallel over molecules, not over displacements within one
    source = get_source(method, **options)  # fail early on a bad name, option or missing backend
    if not source.has_forces and optimize:
        raise ConfigError(f"method {method!r} gives no forces; use xtb, mmff or dft")
    if n_workers < 0:
        raise ConfigError(f"n_workers must be ≥ 0, got {n_workers}")
    level = source.level_of_theory
    if out.suffix.lower() != ".npz":
        raise ConfigError(f"{out}: the output must be a .npz dataset")
    items = read_build_input(input)

    merge_parts(out)
    done: set[str] = set()
    if out.exists():
        ds = load_dataset(out)
        levels = {str(v) for v in ds.extra.get("level_of_theory", [])} - {""}
        if levels and levels != {level}:
            raise ConfigError(f"{out} holds {', '.join(sorted(levels))} Hessians; this run computes {level}; "
                              "write to another file")
        done = dataset_keys(ds)
    failed = {r["key"] for r in read_failures(out)} if not retry_failed else set()
    todo = [it for it in items if it["key"] not in done and it["key"] not in failed]
    from hessfit.sources import MAX_FORCE_WARN_EV_A

    n_done = n_failed = n_lost = pending = n_high_force = 0
    for res in _iter_results(todo, (method, options, optimize, fmax_eV_A, max_steps), scheduler=scheduler,
                             n_workers=n_workers, progress=progress, connect_timeout_s=connect_timeout_s):
        if res["ok"]:
            _write_part(out, res)
            n_done += 1
            n_high_force += res["max_force_eV_A"] > MAX_FORCE_WARN_EV_A
            pending += 1
            if pending >= merge_every:
                merge_parts(out)
                pending = 0
        elif res.get("transient"):
            n_lost += 1
        else:
            _record_failure(out, res, level)
            n_failed += 1
    merge_parts(out)
    d = parts_dir(out)
    if d.is_dir() and not any(d.iterdir()):
        d.rmdir()
    n_total = len(load_dataset(out)) if out.exists() else 0
    return BuildReport(out=out, n_input=len(items), n_skipped=len(items) - len(todo), n_done=n_done,
                       n_failed=n_failed, n_total=n_total, failures_path=failures_path(out),
                       wall_time_s=time.perf_counter() - t0, n_lost=n_lost,
                       n_above_max_force=int(n_high_force))


def dataset_summary(path: str | Path) -> dict:
    """Counts, atom-count range, elements and levels of theory of a dataset (plus its build log, if any)."""
    from collections import Counter

    from ase.data import chemical_symbols

    path = Path(path)
    ds = load_dataset(path)
    levels = Counter(str(v) or "unknown" for v in ds.extra.get("level_of_theory", [])) if "level_of_theory" in \
        ds.extra else Counter({"unknown (not recorded)": len(ds)})
    elements = Counter(int(z) for z in ds.Z)
    nat = ds.natoms.astype(int)
    d = parts_dir(path)
    return {
        "path": str(path), "n_molecules": len(ds), "n_atoms_total": int(nat.sum()),
        "atoms_min": int(nat.min()) if len(ds) else 0, "atoms_max": int(nat.max()) if len(ds) else 0,
        "atoms_median": float(np.median(nat)) if len(ds) else 0.0,
        "elements": {chemical_symbols[z]: n for z, n in sorted(elements.items())},
        "levels_of_theory": dict(levels), "arrays": sorted(["natoms", "Z", "R", "H_triu", "H_offsets", *ds.extra]),
        "n_failures": len(read_failures(path)),
        "n_pending_parts": len(list(d.glob("*.npz"))) if d.is_dir() else 0,
        "file_bytes": path.stat().st_size,
    }
