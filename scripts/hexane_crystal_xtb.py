"""Periodic GFN2-xTB force constants of the n-hexane crystal (one molecule per triclinic cell).

Stages (each skipped when its output exists; outputs in ``--out``, default data/hexane/):

1. ``hexane_crystal_gfn2_opt.extxyz``: atomic positions relaxed at the experimental cell with periodic
   GFN2-xTB (tblite), energies and gradients evaluated in a 2×2×1 electronic supercell (k-point sampling;
   the bare 4.1 Å cell at Γ distorts the molecule, see hessfit/sources/_xtb.py), BFGS to 0.005 eV/Å;
   with ``--relax-cell`` the cell too (stress × volume below the same threshold).
2. (``--gamma``) ``hexane_crystal_gfn2_gamma_hessian.npy``: Γ-point Hessian of that cell (3N×3N, eV/Å²) by
   central finite differences of the folded periodic gradients (0.005 Å, 120 gradients).
3. ``hexane_crystal_gfn2_phonopy_params.yaml``: phonopy supercell (default 2×2×1, the same supercell as
   the electronic sampling of stage 1) displacement dataset (0.01 Å, ± displacements) with periodic
   GFN2-xTB forces of the 80-atom supercell, i.e. force constants at the 4 commensurate q-points.
   Read it with ``hessfit.sources._phonopy.read_phonopy``.
4. ``hexane_gfn2_molecule_opt.xyz`` and ``..._hessian.npy``: the isolated molecule (same level), relaxed.

Run with OMP_NUM_THREADS=1 on a shared machine. Timings are printed.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hessfit.sources._optimize import optimize
from hessfit.sources._xtb import XtbSource
from hessfit.structures import read_structure
from hessfit.structures._crystal import make_whole

ap = argparse.ArgumentParser()
ap.add_argument("--crystal", default="/work/shared/data/spectra/hexane_crystal.extxyz")
ap.add_argument("--out", default="data/hexane")
ap.add_argument("--supercell", type=int, nargs=3, default=(2, 2, 1))
ap.add_argument("--workers", type=int, default=1)
ap.add_argument("--electronic-supercell", type=int, nargs=3, default=(2, 2, 1))
ap.add_argument("--gamma", action="store_true", help="also the Γ Hessian of the cell by finite differences")
ap.add_argument("--relax-cell", action="store_true",
                help="stage 1 relaxes the cell too (stress from the electronic supercell; FrechetCellFilter)")
args = ap.parse_args()
out = Path(args.out)
src = XtbSource(n_workers=args.workers, electronic_supercell=tuple(args.electronic_supercell))

opt_path = out / "hexane_crystal_gfn2_opt.extxyz"
if not opt_path.exists():
    t0 = time.perf_counter()
    s = make_whole(read_structure(args.crystal))
    # X-ray C–H bonds are 0.96–0.99 Å: start from 1.09 Å (H moved along the bond), which saves BFGS steps
    pos = s.positions.copy()
    for h in np.flatnonzero(s.numbers == 1):
        d = np.linalg.norm(pos - pos[h], axis=1)
        d[s.numbers == 1] = np.inf
        c = int(np.argmin(d))
        pos[h] = pos[c] + (pos[h] - pos[c]) * 1.09 / d[c]
    s = type(s)(s.numbers, pos, s.masses, name=s.name, cell=s.cell, pbc=s.pbc)
    res = optimize(s, src, fmax_eV_A=0.005, max_steps=300, cell=args.relax_cell)
    print(f"[1] crystal relaxed: {res.n_steps} steps, max force {res.max_force_eV_A:.4f} eV/Å, "
          f"converged {res.converged}, {time.perf_counter() - t0:.0f} s", flush=True)
    res.structure.to_ase().write(opt_path, format="extxyz")
cryst = read_structure(opt_path)
cryst = type(cryst)(cryst.numbers, cryst.positions, cryst.masses, name="hexane_crystal_gfn2", cell=cryst.cell,
                    pbc=cryst.pbc)

h_path = out / "hexane_crystal_gfn2_gamma_hessian.npy"
if args.gamma and not h_path.exists():
    t0 = time.perf_counter()
    h = src.hessian(cryst).hessian
    np.save(h_path, h)
    print(f"[2] Γ Hessian of the cell: {time.perf_counter() - t0:.0f} s", flush=True)

mol_path = out / "hexane_gfn2_molecule_opt.xyz"
if not mol_path.exists():
    from hessfit.structures import write_xyz

    t0 = time.perf_counter()
    mol = type(cryst)(cryst.numbers, cryst.positions, cryst.masses, name="hexane_gfn2_molecule")
    res = optimize(mol, XtbSource(n_workers=1), fmax_eV_A=0.005, max_steps=300)
    write_xyz(mol_path, res.structure, comments=["n-hexane, GFN2-xTB relaxed isolated molecule (from the crystal)"])
    np.save(out / "hexane_gfn2_molecule_hessian.npy", XtbSource(n_workers=1).hessian(res.structure).hessian)
    print(f"[4] molecule relaxed ({res.n_steps} steps) and Hessian: {time.perf_counter() - t0:.0f} s", flush=True)

ph_path = out / "hexane_crystal_gfn2_phonopy_params.yaml"
if not ph_path.exists() and max(args.supercell) > 1:
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    from hessfit.structures import Structure

    n = args.supercell
    unit = PhonopyAtoms(symbols=cryst.symbols, cell=cryst.cell, positions=cryst.positions, masses=cryst.masses)
    ph = Phonopy(unit, supercell_matrix=np.diag(n), primitive_matrix="P")
    ph.generate_displacements(distance=0.01, is_plusminus=True)
    scs = ph.supercells_with_displacements
    print(f"[3] {len(scs)} displaced {n[0]}x{n[1]}x{n[2]} supercells of {len(scs[0])} atoms", flush=True)
    t0 = time.perf_counter()
    plain = XtbSource(n_workers=1)  # the 160-atom supercell is its own k-mesh

    def forces_of(k_sc):
        k, sc = k_sc
        s = Structure(np.array(sc.numbers), np.array(sc.positions), np.array(sc.masses), name=f"disp{k}",
                      cell=np.array(sc.cell))
        _, f = plain.energy_forces(s)
        print(f"    {k + 1}/{len(scs)} {time.perf_counter() - t0:.0f} s", flush=True)
        return f

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        f = np.array(list(pool.map(forces_of, enumerate(scs))))
    f -= f.mean(axis=1, keepdims=True)  # remove the net drift force of each displacement
    ph.forces = f
    ph.save(ph_path, settings={"force_sets": True, "displacements": True, "force_constants": False})
    print(f"[3] phonopy dataset written: {time.perf_counter() - t0:.0f} s", flush=True)
