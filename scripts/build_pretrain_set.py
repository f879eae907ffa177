"""Build a GFN2-xTB Hessian set of flexible organic molecules for pretraining (issue 17), resumably.

    python scripts/build_pretrain_set.py select   # RDKit's NCI first_5K.smi -> data/pretrain/nci_flexible.smi
    python scripts/build_pretrain_set.py build    # SMILES -> GFN2-xTB minimum -> xTB Hessian, cheapest first
    python scripts/build_pretrain_set.py build --min-atoms 27 --workers 2   # only the larger ones, seeded order
    python scripts/build_pretrain_set.py status
    python scripts/build_pretrain_set.py export   # the built minima (no mode below -20 cm-1) -> training .npz
    python scripts/build_pretrain_set.py export --min-atoms 27   # the larger minima + the 372 in use -> one .npz

Why: the soft-mode diagnosis (docs/soft_mode_training.md) shows that the networks' imaginary modes on larger,
flexible molecules come from soft/stiff coupling errors that QM9's 23–29-atom minima do not teach. This set
brings that flexibility (rotatable bonds, O–H/N–H rotors, 15–60 atoms) at xTB cost.

Selection (fixed before any molecule was built): every molecule of RDKit's bundled NCI sample
(``rdkit/Data/NCI/first_5K.smi``, BSD licence) that parses, is one neutral fragment of H, C, N and O only, has
10–30 heavy atoms and 15–60 atoms with hydrogens, at least 2 rotatable bonds, no isotopes or radicals, and is
not in either out-of-domain set (``data/ood/*.smi``; compared by InChIKey skeleton, so stereoisomers count as
the same molecule). Written sorted by atom count, so the build runs cheapest first.

Build: `hessfit.dataset.build_dataset` with the ``xtb`` source, serially (one thread, ``merge_every=1``), into the
git-ignored ``scratch/pretrain/nci_flexible_xtb.npz``; a rerun skips finished and failed molecules. Run niced in
the background:

    nohup nice -n 19 .venv/bin/python scripts/build_pretrain_set.py build >> scratch/pretrain/build.log 2>&1 &
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
SMILES_OUT = ROOT / "data" / "pretrain" / "nci_flexible.smi"
BUILD_OUT = ROOT / "scratch" / "pretrain" / "nci_flexible_xtb.npz"
TRAIN_OUT = ROOT / "scratch" / "pretrain" / "nci_flexible_xtb_minima.npz"
TRAIN_OUT_LARGE = ROOT / "scratch" / "pretrain" / "nci_flexible_xtb_minima_large.npz"
USED_372 = ROOT / "data" / "pretrain" / "nci_flexible_xtb_minima_372.npz"  # the minima of 15-26 atoms in use
SADDLE_CM1 = -20.0  # a built molecule with a mode below this is a saddle point of xTB, not a minimum
HELD_OUT = [ROOT / "data" / "ood" / "panel_xtb.smi", ROOT / "data" / "ood" / "dft_b3lyp.smi"]


def _skeleton(mol) -> str:
    from rdkit import Chem

    return Chem.MolToInchiKey(mol)[:14]


def mol_hydrogens(mol) -> int:
    """Hydrogen atoms of an RDKit molecule with implicit hydrogens."""
    return sum(a.GetTotalNumHs() for a in mol.GetAtoms())


def _rejection(mol, held: set, seen: set) -> str | None:
    """Why ``mol`` is not selected (None: selected); adds a selected molecule's skeleton to ``seen``."""
    from rdkit import Chem
    from rdkit.Chem import rdMolDescriptors

    if mol is None:
        return "does not parse"
    if len(Chem.GetMolFrags(mol)) != 1:
        return "several fragments"
    if any(a.GetSymbol() not in ("C", "N", "O") for a in mol.GetAtoms()):
        return "other elements"
    if Chem.GetFormalCharge(mol) != 0 or any(a.GetNumRadicalElectrons() or a.GetIsotope() for a in mol.GetAtoms()):
        return "charged, radical or isotope"
    if not (10 <= mol.GetNumAtoms() <= 30 and 15 <= mol.GetNumAtoms() + mol_hydrogens(mol) <= 60):
        return "size"
    if rdMolDescriptors.CalcNumRotatableBonds(mol) < 2:
        return "fewer than 2 rotatable bonds"
    skeleton = _skeleton(mol)
    if skeleton in held:
        return "in an out-of-domain set"
    if skeleton in seen:
        return "duplicate"
    seen.add(skeleton)
    return None


def select() -> None:
    from rdkit import Chem, RDConfig, RDLogger

    from hessfit.dataset import read_build_input

    RDLogger.DisableLog("rdApp.*")
    held = {_skeleton(m) for path in HELD_OUT for item in read_build_input(path)
            if (m := Chem.MolFromSmiles(item["smiles"])) is not None}
    kept, seen, reasons = [], set(), {}
    for item in read_build_input(Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"):
        mol = Chem.MolFromSmiles(item["smiles"])
        why = _rejection(mol, held, seen)
        reasons[why] = reasons.get(why, 0) + 1
        if why is None:
            kept.append((mol.GetNumAtoms() + mol_hydrogens(mol), Chem.MolToSmiles(mol), f"nci_{item['key']}"))
    kept.sort(key=lambda row: row[0])
    SMILES_OUT.parent.mkdir(parents=True, exist_ok=True)
    header = [
        "# Flexible H/C/N/O molecules for GFN2-xTB pretraining data (issue 17), selected by",
        "# scripts/build_pretrain_set.py select from RDKit's bundled NCI sample rdkit/Data/NCI/first_5K.smi",
        "# (BSD licence): one neutral fragment, 10-30 heavy atoms, 15-60 atoms, >= 2 rotatable bonds, not in",
        "# data/ood/*.smi (InChIKey skeleton). Sorted by atom count. Columns: SMILES, key (NCI id).",
    ]
    SMILES_OUT.write_text("\n".join(header + [f"{s}\t{k}" for _, s, k in kept]) + "\n")
    print(f"{len(kept)} molecules ({kept[0][0]}-{kept[-1][0]} atoms) -> {SMILES_OUT}")
    for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {n:5d} {why or 'kept'}")


def large_build_out(min_atoms: int) -> Path:
    """The (git-ignored) build output of the molecules with at least ``min_atoms`` atoms."""
    return BUILD_OUT.with_name(f"nci_flexible_xtb_ge{min_atoms}.npz")


def large_subset(min_atoms: int) -> Path:
    """Write the selected molecules with at least ``min_atoms`` atoms, in a seeded random order so that a build
    stopped early still spans the sizes, to a git-ignored SMILES list; return its path."""
    from rdkit import Chem

    from hessfit.dataset import read_build_input

    items = [it for it in read_build_input(SMILES_OUT)
             if (m := Chem.MolFromSmiles(it["smiles"])) is not None and m.GetNumAtoms() + mol_hydrogens(m) >= min_atoms]
    order = np.random.default_rng(0).permutation(len(items))
    smi = BUILD_OUT.with_name(f"nci_flexible_ge{min_atoms}.smi")
    smi.parent.mkdir(parents=True, exist_ok=True)
    smi.write_text("".join(f"{items[i]['smiles']}\t{items[i]['key']}\n" for i in order))
    return smi


def build(min_atoms: int = 0, workers: int = 0) -> None:
    from hessfit.dataset import build_dataset

    BUILD_OUT.parent.mkdir(parents=True, exist_ok=True)
    smi, out = (large_subset(min_atoms), large_build_out(min_atoms)) if min_atoms else (SMILES_OUT, BUILD_OUT)
    r = build_dataset(smi, out, method="xtb", n_workers=workers, merge_every=1 if workers == 0 else 10,
                      progress=False)
    print(f"{r.n_done} computed, {r.n_failed} failed, {r.n_skipped} skipped of {r.n_input}; {r.n_total} in {r.out}; "
          f"{r.wall_time_s:.0f} s", flush=True)


def status() -> None:
    from hessfit.dataset import read_build_input
    from hessfit.structures import load_dataset

    n_list = len(read_build_input(SMILES_OUT)) if SMILES_OUT.exists() else 0
    n_done = len(load_dataset(BUILD_OUT)) if BUILD_OUT.exists() else 0
    print(f"{n_done} of {n_list} built ({BUILD_OUT})")


def minima_indices(ds) -> np.ndarray:
    """Indices of the molecules of a built dataset that are minima: lowest internal mode above SADDLE_CM1."""
    from hessfit.modes import normal_modes

    lowest = np.array([np.asarray(normal_modes(ds.structure(i), ds.hessian(i)).frequencies_cm1).min()
                       for i in range(len(ds))])
    return np.flatnonzero(lowest > SADDLE_CM1)


def export(min_atoms: int = 0) -> None:
    """Write the molecules built so far that are xTB minima (lowest internal mode above SADDLE_CM1) to TRAIN_OUT,
    the file multi-fidelity training reads (``hessfit train --extra-data``); rewrites it (git-ignored scratch).
    With ``min_atoms``: the minima of the larger build, merged with the committed 372 (TRAIN_OUT_LARGE)."""
    from hessfit.dataset import concat_datasets, merge_parts
    from hessfit.structures import load_dataset, save_dataset

    built, out = (large_build_out(min_atoms), TRAIN_OUT_LARGE) if min_atoms else (BUILD_OUT, TRAIN_OUT)
    merge_parts(built)  # parts a stopped build left unmerged
    ds = load_dataset(built)
    keep = minima_indices(ds)
    minima = ds.subset(keep)
    if min_atoms:
        minima = concat_datasets([load_dataset(USED_372), minima])
    save_dataset(out, minima, overwrite=True)
    sizes = ds.natoms[keep]
    print(f"{len(keep)} of {len(ds)} built molecules are minima ({len(ds) - len(keep)} saddle points cut, lowest "
          f"mode < {SADDLE_CM1:g} cm-1); {sizes.min()}-{sizes.max()} atoms; {len(minima)} in all -> {out}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["select", "build", "status", "export"])
    p.add_argument("--min-atoms", type=int, default=0,
                   help="build/export: only molecules with at least this many atoms (export adds the 372 in use)")
    p.add_argument("--workers", type=int, default=0, help="build: worker processes (0: serial, in this process)")
    args = p.parse_args(argv)
    if args.action == "build":
        build(args.min_atoms, args.workers)
    elif args.action == "export":
        export(args.min_atoms)
    else:
        {"select": select, "status": status}[args.action]()


if __name__ == "__main__":
    sys.exit(main())
