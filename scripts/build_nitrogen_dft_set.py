"""Build B3LYP/6-311++G(d,p) Hessians of small molecules with N–N and N–O bonds (training data), resumably.

    python scripts/build_nitrogen_dft_set.py select          # the fixed list -> data/pretrain/nitrogen_bonds.smi
    python scripts/build_nitrogen_dft_set.py preopt          # GFN2-xTB minima (seconds)
    python scripts/build_nitrogen_dft_set.py dft --worker 0  # B3LYP analytic Hessian at the xTB minimum,
    python scripts/build_nitrogen_dft_set.py dft --worker 1  #   two single-threaded workers share the list
    python scripts/build_nitrogen_dft_set.py status
    python scripts/build_nitrogen_dft_set.py export          # built molecules -> data/pretrain/nitrogen_bonds_b3lyp.npz

Why (docs/nitrogen_bonds.md): the QM9 Hessian set has no N–N bond, no nitro group and 13 molecules with an
N–O bond, and six of the ten panel molecules whose networks give modes below −50 cm⁻¹ are nitro compounds.
Frequency labels reached the block member only; full Hessians at the training data's level reach both members.

Level as the training set: the project's PySCF source at B3LYP/6-311++G(d,p), analytic Hessian. Geometry: the
GFN2-xTB minimum, not re-optimised with DFT (``optimize=False``; the first two molecules, hydroxylamine and
hydrazine, were built with the DFT optimisation, which took 2–7 min of a core each for 5–6 atoms, too slow for the
list). A Hessian away from the DFT minimum is still the exact second derivative of the B3LYP surface at that
geometry, which is what both members learn (no force term), and it sits where the panels are measured (xTB minima).
The residual DFT force is recorded per molecule (``max_force_eV_A``).
The list puts the molecules with a nitro group (nitro, nitrate, nitramine: the panels' failures) first, each part
sorted cheapest first by the estimated cost (22 basis functions per heavy atom + 7 per H)^3.5; worker k takes every
second molecule from position k, skipping any that a worker has built, so a partial build is the cheap nitro end. None
shares an InChIKey skeleton with any ``data/ood/*.smi`` molecule (those stay held out).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_pretrain_set import SADDLE_CM1, _skeleton, mol_hydrogens  # noqa: E402

SMILES_OUT = ROOT / "data" / "pretrain" / "nitrogen_bonds.smi"
WORK = ROOT / "scratch" / "nitrogen_dft"
PREOPT_OUT = WORK / "xtb_preopt.npz"
TRAIN_OUT = ROOT / "data" / "pretrain" / "nitrogen_bonds_b3lyp.npz"
DFT_OPTIONS = {"functional": "B3LYP", "basis": "6-311++G(d,p)", "max_memory_mb": 3000}
N_WORKERS = 2

# name: SMILES (neutral, gas phase); groups: nitro / nitrate / nitramine, N–N single, double and ring, N–O
MOLECULES: dict[str, str] = {
    "nitromethane": "C[N+](=O)[O-]",
    "nitroethane": "CC[N+](=O)[O-]",
    "nitroethylene": "C=C[N+](=O)[O-]",
    "nitramide": "N[N+](=O)[O-]",
    "N-methylnitramine": "CN[N+](=O)[O-]",
    "methyl_nitrate": "CO[N+](=O)[O-]",
    "dimethylnitramine": "CN(C)[N+](=O)[O-]",
    "2-nitropropane": "CC(C)[N+](=O)[O-]",
    "nitrobenzene": "O=[N+]([O-])c1ccccc1",
    "hydrazine": "NN",
    "methylhydrazine": "CNN",
    "1-1-dimethylhydrazine": "CN(C)N",
    "formylhydrazine": "NNC=O",
    "azomethane": "C/N=N/C",
    "pyrazole": "c1cn[nH]c1",
    "1-2-4-triazole": "c1nc[nH]n1",
    "tetrazole": "c1nnn[nH]1",
    "N-nitrosodimethylamine": "CN(C)N=O",
    "hydroxylamine": "NO",
    "N-methylhydroxylamine": "CNO",
    "formaldoxime": "C=NO",
    "acetaldoxime": "C/C=N/O",
    "methyl_nitrite": "CON=O",
    "isoxazole": "c1cnoc1",
    "furazan": "c1cnon1",
}


def _nitro_pattern():
    from rdkit import Chem

    return Chem.MolFromSmarts("[#7](~[#8])~[#8]")


def _cost(mol) -> float:
    """Relative DFT cost: (basis functions of 6-311++G(d,p), 22 per heavy atom + 7 per H)^3.5."""
    return (22.0 * mol.GetNumAtoms() + 7.0 * mol_hydrogens(mol)) ** 3.5


def select() -> None:
    from rdkit import Chem, RDLogger

    from hessfit.dataset import read_build_input

    RDLogger.DisableLog("rdApp.*")
    NITRO = _nitro_pattern()
    held = {_skeleton(m) for path in sorted((ROOT / "data" / "ood").glob("*.smi")) for item in read_build_input(path)
            if (m := Chem.MolFromSmiles(item["smiles"])) is not None}
    rows, cut = [], []
    for name, smiles in MOLECULES.items():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            raise SystemExit(f"error: {name}: SMILES {smiles!r} does not parse")
        if _skeleton(mol) in held:
            cut.append(name)
            continue
        rows.append(((not mol.HasSubstructMatch(NITRO), _cost(mol)), Chem.MolToSmiles(mol), name))
    rows.sort(key=lambda row: row[0])
    header = ["# Small molecules with N–N and N–O bonds for B3LYP/6-311++G(d,p) training Hessians (issue 17),",
              "# written by scripts/build_nitrogen_dft_set.py select from its fixed list; none shares an InChIKey",
              "# skeleton with data/ood/*.smi. Nitro groups (nitro, nitrate, nitramine) first, each part sorted",
              "# cheapest first. Columns: SMILES, name."]
    SMILES_OUT.write_text("\n".join(header + [f"{s}\t{k}" for _, s, k in rows]) + "\n")
    print(f"{len(rows)} molecules -> {SMILES_OUT}; cut (in an out-of-domain set): {', '.join(cut) or 'none'}")


def preopt() -> None:
    from hessfit.dataset import build_dataset

    WORK.mkdir(parents=True, exist_ok=True)
    r = build_dataset(SMILES_OUT, PREOPT_OUT, method="xtb", n_workers=0, merge_every=1, progress=False)
    print(f"preopt: {r.n_done} computed, {r.n_failed} failed of {r.n_input}; {r.wall_time_s:.0f} s", flush=True)


def worker_out(k: int) -> Path:
    return WORK / f"b3lyp_{k}.npz"


def dft(worker: int, retry_failed: bool = False) -> None:
    """Worker ``worker`` takes the preoptimised molecules at list positions worker, worker + N_WORKERS, ..."""
    from hessfit.dataset import build_dataset
    from hessfit.structures import load_dataset, save_dataset

    if not 0 <= worker < N_WORKERS:
        raise SystemExit(f"error: --worker must be 0..{N_WORKERS - 1}")
    ds = load_dataset(PREOPT_OUT)
    order = {name: i for i, name in enumerate(_listed_names())}
    built = {str(k) for k in _built(merge=False).extra["key"]} if _any_built() else set()
    mine = sorted((i for i in range(len(ds)) if order[str(ds.extra["key"][i])] % N_WORKERS == worker
                   and str(ds.extra["key"][i]) not in built), key=lambda i: order[str(ds.extra["key"][i])])
    part = WORK / f"xtb_preopt_{worker}.npz"
    save_dataset(part, ds.subset(mine), overwrite=True)
    r = build_dataset(part, worker_out(worker), method="dft", options=DFT_OPTIONS, n_workers=0, merge_every=1,
                      optimize=False, retry_failed=retry_failed, progress=False)
    print(f"dft worker {worker}: {r.n_done} computed, {r.n_failed} failed, {r.n_skipped} skipped of {r.n_input}; "
          f"{r.wall_time_s:.0f} s", flush=True)


def _listed_names() -> list[str]:
    from hessfit.dataset import read_build_input

    return [item["key"] for item in read_build_input(SMILES_OUT)]


def _any_built() -> bool:
    return any(worker_out(k).exists() for k in range(N_WORKERS))


def _built(merge: bool):
    """The workers' molecules in list order (``merge``: first merge their finished parts; not while they run)."""
    from hessfit.dataset import merge_parts
    from hessfit.structures import concat_datasets, load_dataset

    parts = []
    for k in range(N_WORKERS):
        if merge:
            merge_parts(worker_out(k))
        if worker_out(k).exists():
            parts.append(load_dataset(worker_out(k)))
    if not parts:
        raise SystemExit(f"error: nothing built in {WORK}")
    ds = parts[0] if len(parts) == 1 else concat_datasets(parts)
    order = {name: i for i, name in enumerate(_listed_names())}
    return ds.subset(sorted(range(len(ds)), key=lambda i: order[str(ds.extra["key"][i])]))


def status() -> None:
    ds = _built(merge=False)  # read-only: the workers merge their own parts
    names = [str(k) for k in ds.extra["key"]]
    print(f"{len(ds)} of {len(_listed_names())} built: {', '.join(names)}")


def export() -> None:
    """Write every built molecule to TRAIN_OUT and list those whose DFT Hessian has a mode below SADDLE_CM1: at an
    xTB minimum these are the B3LYP surface's own negative curvature there (docs/nitrogen_bonds.md), kept as labels."""
    import numpy as np

    from hessfit.modes import normal_modes
    from hessfit.structures import save_dataset

    ds = _built(merge=True)
    save_dataset(TRAIN_OUT, ds, overwrite=True)
    print(f"{len(ds)} built molecules -> {TRAIN_OUT}")
    for i in range(len(ds)):
        f = np.asarray(normal_modes(ds.structure(i), ds.hessian(i)).frequencies_cm1)
        if f[0] < SADDLE_CM1:
            print(f"  {ds.extra['key'][i]}: lowest B3LYP mode {f[0]:.0f} cm-1 (max force "
                  f"{float(ds.extra['max_force_eV_A'][i]):.2f} eV/Å)")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["select", "preopt", "dft", "status", "export"])
    p.add_argument("--worker", type=int, default=0, help="dft: this worker's number (0 or 1)")
    p.add_argument("--retry-failed", action="store_true", help="dft: recompute molecules that failed")
    args = p.parse_args(argv)
    if args.action == "dft":
        dft(args.worker, args.retry_failed)
    else:
        {"select": select, "preopt": preopt, "status": status, "export": export}[args.action]()


if __name__ == "__main__":
    sys.exit(main())
