"""Small QM9 molecules with B3LYP/6-31G(2df,p) harmonic frequencies, for the frequency loss (issue 17).

Source: the PyPI package ``qm9pack`` 1.0.3 (MIT licence; QM9 of Ramakrishnan et al., Sci. Data 1, 140022 (2014):
geometries and harmonic frequencies at B3LYP/6-31G(2df,p)). ``pip install qm9pack`` (about 100 MB; not a hessfit
dependency), then:

    python scripts/build_qm9_frequency_set.py --n 4000 --out data/pretrain/qm9_small_freqs_4000.npz
    python scripts/build_qm9_frequency_set.py --max-heavy-atoms 6 --n 0 --out data/pretrain/qm9_tiny_freqs.npz
    python scripts/build_qm9_frequency_set.py --max-heavy-atoms 9 --require-smarts '[#7]~[#8]' '[#7]~[#7]' \
        --keep-all-smarts '[#7](~[#8])~[#8]' --n 3000 --out data/pretrain/qm9_nx_freqs_3000.npz

Selection, fixed before any training: H/C/N/O only (the shipped networks' elements); at most 8 heavy atoms, so that
no molecule is in the 9-heavy-atom QM9 Hessian set the networks train on (nor its validation or test split);
at least 4 atoms, non-linear (3N−6 frequencies listed), no imaginary frequency; no molecule of the out-of-domain
DFT set or INS panel (`data/ood/*.smi`; matched by InChI without stereo layers, and by canonical SMILES). Then a
seeded random sample of ``--n`` (``--n 0``: all of them). ``--max-heavy-atoms`` lowers the limit of 8 (the tiny
molecules, which a uniform sample holds few of: 733 of the 21,353 have at most 6 heavy atoms).

``--max-heavy-atoms 9`` admits 9-heavy-atom molecules too; then every QM9 index of the Hessian set (``--hessian-set``)
is excluded, so that none of its training, validation or test molecules is labelled twice. ``--require-smarts``
keeps only molecules matching at least one pattern (the N–N and N–O bonds that the Hessian set lacks);
``--keep-all-smarts`` puts every molecule matching one of its patterns in the sample before the seeded draw fills
the rest (nitro groups: 138 of 11,937).
"""

from __future__ import annotations

import argparse
import ast
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ELEMENTS = {"H": 1, "C": 6, "N": 7, "O": 8}


def _inchi_core(inchi: str) -> str:
    """InChI without charge/stereo/isotope layers: formula, connections and hydrogens."""
    keep = [p for p in inchi.split("/")[1:] if p[:1] not in "qpbtmsif"]
    return "/".join(keep)


def held_out_keys() -> set[str]:
    """InChI cores and canonical SMILES of every molecule of the out-of-domain sets."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    keys = set()
    for path in sorted((ROOT / "data/ood").glob("*.smi")):
        for line in path.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            mol = Chem.MolFromSmiles(line.split()[0])
            if mol is None:
                raise SystemExit(f"{path}: unreadable SMILES {line.split()[0]!r}")
            keys.add(_inchi_core(Chem.MolToInchi(mol)))
            keys.add(Chem.MolToSmiles(mol, isomericSmiles=False))
    return keys


def candidates(data_dir: Path, held_out: set[str], max_heavy: int = 8, exclude_index: frozenset = frozenset(),
               require: tuple = ()):
    """Yield (qm9_index, smiles, numbers, positions, frequencies) of the molecules that pass the selection.

    ``exclude_index``: QM9 indices to skip; ``require``: RDKit SMARTS molecules, at least one of which must match."""
    from rdkit import Chem

    csv.field_size_limit(sys.maxsize)
    for part in sorted(data_dir.glob("qm9_part*.csv")):
        with part.open() as fh:
            for row in csv.DictReader(fh):
                symbols = ast.literal_eval(row["Elements"])
                if any(s not in ELEMENTS for s in symbols):
                    continue
                n = len(symbols)
                heavy = sum(s != "H" for s in symbols)
                freqs = np.array(ast.literal_eval(row["Harmonic_Freq_cmi"]), float)
                if heavy > max_heavy or n < 4 or len(freqs) != 3 * n - 6 or freqs.min() <= 0:
                    continue
                if int(row["Index"]) in exclude_index:
                    continue
                mol = Chem.MolFromSmiles(row["SMILES"])
                if require and (mol is None or not any(mol.HasSubstructMatch(q) for q in require)):
                    continue
                smiles = Chem.MolToSmiles(mol, isomericSmiles=False) if mol is not None else row["SMILES"]
                if _inchi_core(row["InChi"]) in held_out or smiles in held_out:
                    continue
                yield (int(row["Index"]), row["SMILES"], np.array([ELEMENTS[s] for s in symbols]),
                       np.array(ast.literal_eval(row["XYZ_Ang"]), float), freqs)


def _smarts(parser, pattern: str):
    from rdkit import Chem

    query = Chem.MolFromSmarts(pattern)
    if query is None:
        parser.error(f"unreadable SMARTS {pattern!r}")
    return query


def _sample(pool, n_pick: int, keep, seed: int) -> np.ndarray:
    """Sorted indices into ``pool``: every molecule matching a ``keep`` query (up to ``n_pick``), then a seeded
    uniform draw of the rest."""
    from rdkit import Chem

    kept = [k for k, c in enumerate(pool)
            if keep and (m := Chem.MolFromSmiles(c[1])) is not None and any(m.HasSubstructMatch(q) for q in keep)]
    kept = kept[:n_pick]
    rest = np.setdiff1d(np.arange(len(pool)), kept)
    draw = np.random.default_rng(seed).choice(rest, size=n_pick - len(kept), replace=False)
    return np.sort(np.concatenate([np.asarray(kept, int), draw]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4000, help="molecules to sample (seeded); 0: all that pass")
    p.add_argument("--max-heavy-atoms", type=int, default=8, help="at most this many heavy atoms (1-8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "data/pretrain/qm9_small_freqs_4000.npz")
    p.add_argument("--qm9pack-data", type=Path, default=None, help="qm9pack's data folder (default: installed)")
    p.add_argument("--hessian-set", type=Path, default=ROOT.parent / "shared/data/hessians/qm9_b3lyp_hessians.npz",
                   help="the QM9 Hessian set whose molecules are excluded (read with --max-heavy-atoms 9)")
    p.add_argument("--require-smarts", nargs="+", default=[], help="keep molecules matching any of these SMARTS")
    p.add_argument("--keep-all-smarts", nargs="+", default=[], help="put every molecule matching these in the sample")
    args = p.parse_args(argv)
    from hessfit.structures import frequency_dataset_from_arrays, save_frequency_dataset

    data_dir = args.qm9pack_data
    if data_dir is None:
        import qm9pack

        data_dir = Path(qm9pack.__file__).parent / "data"
    if not 1 <= args.max_heavy_atoms <= 9:
        p.error("--max-heavy-atoms must be 1-9")
    exclude = frozenset()
    if args.max_heavy_atoms == 9:  # the Hessian set's molecules all have 9 heavy atoms
        if not args.hessian_set.is_file():
            p.error(f"{args.hessian_set}: no such file (needed to exclude the Hessian set's molecules)")
        exclude = frozenset(int(i) for i in np.load(args.hessian_set)["qm9_index"])
    require, keep = ([_smarts(p, q) for q in patterns] for patterns in (args.require_smarts, args.keep_all_smarts))
    pool = list(candidates(data_dir, held_out_keys(), args.max_heavy_atoms, exclude, tuple(require)))
    n_pick = len(pool) if args.n == 0 else min(args.n, len(pool))
    pick = _sample(pool, n_pick, keep, args.seed)
    chosen = [pool[k] for k in pick]
    ds = frequency_dataset_from_arrays(
        [c[2] for c in chosen], [c[3] for c in chosen], [c[4] for c in chosen],
        extra={"qm9_index": np.array([c[0] for c in chosen], np.int32), "smiles": np.array([c[1] for c in chosen]),
               "level_of_theory": np.array(["B3LYP/6-31G(2df,p)"] * len(chosen))})
    save_frequency_dataset(args.out, ds)
    n = ds.natoms
    print(f"{len(pool)} molecules pass the selection; wrote {len(ds)} ({n.min()}-{n.max()} atoms, "
          f"mean {n.mean():.1f}) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
