"""Speed of hessfit's crystal INS spectrum (Γ modes of a supercell, orders 1–4) for a ~300-atom cell.

Usage::

    python benchmarks/crystal_speed.py                 # 300-atom hexane supercell (5×3×1 cells), TFXA, orders 1–4
    python benchmarks/crystal_speed.py --reps 3 2 1    # another supercell of the hexane cell

Input: the n-hexane crystal cell (X-ray, data/hexane/hexane_crystal.extxyz) repeated
n1×n2×n3 times; the Hessian is an intramolecular spring model (bonded pairs 25 eV/Å², 1–3 pairs 4 eV/Å², other
pairs within 3.2 Å 0.3 eV/Å², including intermolecular H···H contacts across cells) — the spectrum's cost
does not depend on the values. Settings: TFXA, 20 K, incoherent σ, 0–4000 cm⁻¹ at 1 cm⁻¹, orders 1–4
(order 1 exact per-stick Gaussians, order 2 exact pairs, orders 3–4 auto-convolution).
Timing: first call (jit), then the warm calls (``block_until_ready``), wall and process CPU time, with the
XLA/numpy threads left at their defaults unless ``--threads 1``. The machine is shared: the load average is
printed with the result.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--reps", type=int, nargs=3, default=(5, 3, 1))
ap.add_argument("--orders", type=int, default=4)
ap.add_argument("--threads", type=int, default=0, help="1: single-thread XLA/numpy; 0: library defaults")
ap.add_argument("--calls", type=int, default=5)
args = ap.parse_args()
if args.threads == 1:
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = "1"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from hessfit.ins import InsConfig, spectrum_fn_for  # noqa: E402
from hessfit.modes import normal_modes  # noqa: E402
from hessfit.structures import read_structure  # noqa: E402
from hessfit.structures import supercell  # noqa: E402


def spring_hessian(structure):
    from ase.neighborlist import neighbor_list

    atoms = structure.to_ase()
    i, j, d, vec = neighbor_list("ijdD", atoms, 3.2)
    n = structure.n_atoms
    h = np.zeros((3 * n, 3 * n))
    bonded = d < 1.7
    k = np.where(bonded, 25.0, np.where(d < 2.6, 4.0, 0.3))
    for a, b, kk, v in zip(i, j, k, vec):
        u = v / np.linalg.norm(v)
        blk = kk * np.outer(u, u) * 0.5  # each pair appears twice in the list
        h[3 * a:3 * a + 3, 3 * a:3 * a + 3] += blk
        h[3 * b:3 * b + 3, 3 * b:3 * b + 3] += blk
        h[3 * a:3 * a + 3, 3 * b:3 * b + 3] -= blk
        h[3 * b:3 * b + 3, 3 * a:3 * a + 3] -= blk
    return h


cell = read_structure(os.path.join(os.path.dirname(__file__), "..", "data/hexane/hexane_crystal.extxyz"))
s = supercell(cell, args.reps)
h = spring_hessian(s)
freqs = np.asarray(normal_modes(s, h).frequencies_cm1)
cfg = InsConfig(instrument="tfxa", temperature_k=20.0, max_order=args.orders, e_max_cm1=4000.0)
fn = spectrum_fn_for(s, cfg)
hj = jnp.asarray(h)
t0 = time.perf_counter()
fn(hj).block_until_ready()
first = time.perf_counter() - t0
walls, cpus = [], []
for _ in range(args.calls):
    w0, c0 = time.perf_counter(), time.process_time()
    fn(hj).block_until_ready()
    walls.append(time.perf_counter() - w0)
    cpus.append(time.process_time() - c0)
print(f"{s.n_atoms} atoms ({args.reps[0]}x{args.reps[1]}x{args.reps[2]} hexane cells), {len(freqs)} modes "
      f"(lowest {freqs.min():.1f} cm-1), orders 1-{args.orders}, TFXA, 0-4000 cm-1 at 1 cm-1")
print(f"first call {first:.2f} s; warm wall median {np.median(walls):.3f} s (min {min(walls):.3f}); "
      f"warm CPU min {min(cpus):.3f} s; threads {'1' if args.threads == 1 else 'default'}; "
      f"load average {os.getloadavg()[0]:.1f}")
