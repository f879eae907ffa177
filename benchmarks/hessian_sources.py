"""Time per Hessian for each installed physics backend at about 10, 30, 60 and 200 atoms.

    OMP_NUM_THREADS=1 python benchmarks/hessian_sources.py                 # all installed backends
    python benchmarks/hessian_sources.py --backends xtb mmff --max-atoms 60

Molecules are built from SMILES with RDKit (ETKDGv3, fixed seed, MMFF94 pre-optimisation):
benzene (12 atoms), ibuprofen (33), eicosane C20H42 (62), C66H134 (200). The timed call is
``source.hessian(structure)`` (set-up such as RDKit bond perception and SCF included; the
first call of each backend is warmed up on water and not timed). DFT (B3LYP/6-31G*, analytic)
is skipped above ``--dft-max-atoms`` (default 12: ~30 s for ethanol, ~200 s for benzene,
~6 min for 20 atoms on 2 cores; cost grows ~N³–N⁴). The machine, thread settings and
load average are printed with the table. These are the baselines the network must beat.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

MOLECULES = [  # (label, SMILES)
    ("benzene", "c1ccccc1"),
    ("ibuprofen", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"),
    ("eicosane C20H42", "C" * 20),
    ("C66H134", "C" * 66),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", nargs="+", default=["mmff", "xtb", "dft"])
    p.add_argument("--max-atoms", type=int, default=200, help="skip molecules larger than this")
    p.add_argument("--dft-max-atoms", type=int, default=12, help="skip DFT above this many atoms")
    p.add_argument("--xtb-workers", type=int, default=None, help="threads for xtb displacements (default: source's)")
    p.add_argument("--repeat", type=int, default=1, help="timed repetitions (the minimum is reported)")
    args = p.parse_args()

    from hessfit.errors import MissingDependencyError
    from hessfit.sources import get_source
    from hessfit.dataset import smiles_to_structure

    structures = [smiles_to_structure(smi, name=label) for label, smi in MOLECULES]
    water = smiles_to_structure("O", name="water")
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    print(f"{'backend':8s} {'level of theory':16s} {'molecule':18s} {'atoms':>5s} {'time / Hessian':>15s}  method")
    for name in args.backends:
        opts = {"n_workers": args.xtb_workers} if name == "xtb" and args.xtb_workers else {}
        try:
            src = get_source(name, **opts)
        except MissingDependencyError as exc:
            print(f"{name:8s} skipped: {exc}")
            continue
        src.hessian(water)  # warm-up (imports, parameter loading)
        for s in structures:
            limit = args.dft_max_atoms if name == "dft" else args.max_atoms
            if s.n_atoms > min(limit, args.max_atoms):
                print(f"{name:8s} {src.level_of_theory:16s} {s.name:18s} {s.n_atoms:5d} {'skipped':>15s}  "
                      f"(> {min(limit, args.max_atoms)} atoms)")
                continue
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                res = src.hessian(s)
                times.append(time.perf_counter() - t0)
            print(f"{name:8s} {src.level_of_theory:16s} {s.name:18s} {s.n_atoms:5d} {min(times):14.3f}s  "
                  f"{res.metadata['method']}", flush=True)
    print(f"# load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
