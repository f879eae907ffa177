"""Speed and memory of hessfit's INS simulator (orders 1 and 1–2, forward and gradient) vs abinslib.

Usage::

    python benchmarks/ins_speed.py                   # 29, 101, 200 atoms; abinslib too when installed
    python benchmarks/ins_speed.py --sizes 9,33      # carbon counts of the alkanes
    python benchmarks/ins_speed.py --no-abinslib --budget 1
    python benchmarks/ins_speed.py --threads 0 --stat wall   # library thread defaults, wall-clock table

Molecules: all-trans linear alkanes C_nH_2n+2 (n = 9, 33, 66 → 29, 101, 200 atoms) with ideal
geometry (C–C 1.54 Å, C–H 1.09 Å, tetrahedral angles) and a central-spring valence Hessian with rest
lengths at the input geometry (so the geometry is an exact minimum and all frequencies are real):
bonds C–H 25, C–C 28 eV/Å²; 1–3 pairs 3 (H···H), 4 (C···H), 6 (C···C) eV/Å²; 0.3 eV/Å² for every
other pair within 3.2 Å (torsional stiffness). Frequencies are real, quartiles ≈ 600/1000/1400 cm⁻¹,
top ≈ 3050 cm⁻¹ (C–H stretches); the long chains also have a few global bending/twisting modes below
10 cm⁻¹ (2 at 101 atoms, 6 at 200 atoms), which both codes exclude (cut-off 10 cm⁻¹).

Every case runs in a fresh subprocess (python <this file> --worker CASE N_CARBON):

* time: the first call (includes jit compilation for hessfit), then warm calls until ``--budget`` seconds
  (at least 3, at most 50) with ``block_until_ready``; wall median/minimum and the minimum process CPU time.
  By default every case runs with one thread for XLA and numpy (``--threads 1``) and the table uses the
  minimum CPU time: on a shared, oversubscribed 2-core machine (load average 8–9) wall times of
  multi-threaded XLA programs were inflated by large factors (200-atom order 1: 7 s wall with all threads
  vs 0.14 s single-thread CPU), whereas single-thread CPU time is robust and equals the wall time on an
  idle core. ``--threads 0 --stat wall`` measures the library defaults (all cores) instead.
* memory: RSS above the baseline taken after imports and input construction (hessfit: after building the
  jitted function, before compiling). "peak first" is VmHWM after the first call (compilation included);
  "peak warm" is VmHWM over the warm calls after resetting it (``echo 5 > /proc/self/clear_refs``).
  tracemalloc would not see XLA's allocations.

Cases, all TOSCA back bank (E_f = 32 cm⁻¹, 134.99°), 10 K, incoherent σ, 0–4000 cm⁻¹, 1 cm⁻¹ bins:

* hessfit o1 / o12: ``spectrum_fn_for(structure, InsConfig(max_order=1|2))`` applied to the Hessian
  (Eckart-projected normal modes, order 1 exact per-stick Gaussians, order 2 exact pairs splatted + broadened).
* hessfit o1 grad / o12 grad: ``jax.jit(jax.grad(lambda h: jnp.sum(fn(h) ** 2)))``.
* abinslib o1 / o12: numpy ``eigh`` of the mass-weighted Hessian (modes < 10 cm⁻¹ parked at 1e-3 cm⁻¹),
  euphonic ``QpointPhononModes`` (30 Å box, Γ), ``Displacements.from_modes``, almost-isotropic order 1
  (``calculate_almost_isotropic_incoherent_spectra``) and exact-Q order 2
  (``calculate_almost_isotropic_incoherent_combination_spectra``), ``util.apply_weights`` (incoherent σ),
  sum over atoms and euphonic's variable-width Gaussian broadening with the same σ(E). (abinslib's order 2
  carries its own prefactor convention, 2× for combinations; irrelevant for cost.)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

MARK = "@@RESULT@@ "
HESSFIT_CASES = ("hessfit_o1", "hessfit_o12", "hessfit_o1_grad", "hessfit_o12_grad")
ABINS_CASES = ("abinslib_o1", "abinslib_o12")
ANGLE_DEG = 134.98885653282196
E_FINAL_CM1 = 32.0
TEMPERATURE_K = 10.0
E_MAX_CM1 = 4000.0


# ----------------------------------------------------------------------------- molecule
def alkane(n_carbon: int):
    """All-trans C_nH_2n+2: (atomic numbers, positions Å)."""
    cc, ch = 1.54, 1.09
    half = math.radians(109.4712206 / 2.0)
    dx, dy = cc * math.sin(half), cc * math.cos(half)
    carbons = np.array([[k * dx, (k % 2) * dy, 0.0] for k in range(n_carbon)])
    hydrogens = []
    for k, c in enumerate(carbons):
        out = np.array([0.0, -1.0 if k % 2 == 0 else 1.0, 0.0])  # away from the neighbours, in plane
        perp = np.array([0.0, 0.0, 1.0])
        # the two out-of-plane H of a CH2 (tetrahedral: angle to the in-plane bisector = 54.74°)
        for s in (1.0, -1.0):
            hydrogens.append(c + ch * (math.cos(half) * out + s * math.sin(half) * perp))
        if k in (0, n_carbon - 1):  # third H of a CH3: towards where the next zigzag carbon would be
            j = -1 if k == 0 else n_carbon
            virtual = np.array([j * dx, (j % 2) * dy, 0.0])
            hydrogens.append(c + ch * (virtual - c) / np.linalg.norm(virtual - c))
    numbers = np.array([6] * n_carbon + [1] * len(hydrogens))
    return numbers, np.vstack([carbons, np.array(hydrogens)])


def spring_hessian(numbers, positions):
    """Central-spring valence Hessian (eV/Å²) with rest lengths at ``positions``."""
    n = len(numbers)
    diff = positions[None, :, :] - positions[:, None, :]
    dist = np.linalg.norm(diff, axis=-1)
    heavy = numbers > 1
    k = np.zeros((n, n))
    bonded = dist < 1.7
    np.fill_diagonal(bonded, False)
    both_c = heavy[:, None] & heavy[None, :]
    both_h = ~heavy[:, None] & ~heavy[None, :]
    k[bonded & both_c] = 28.0
    k[bonded & ~both_c & ~both_h] = 25.0
    hops = bonded.astype(int)
    one_three = ((hops @ hops) > 0) & ~bonded
    np.fill_diagonal(one_three, False)
    k[one_three & both_h] = 3.0
    k[one_three & both_c] = 6.0
    k[one_three & ~both_c & ~both_h] = 4.0
    other = (dist < 3.2) & ~bonded & ~one_three
    np.fill_diagonal(other, False)
    k[other] = 0.3
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(dist[..., None] > 0, diff / dist[..., None], 0.0)
    blocks = -k[..., None, None] * u[..., :, None] * u[..., None, :]  # (n, n, 3, 3) off-diagonal
    idx = np.arange(n)
    blocks[idx, idx] = -blocks.sum(axis=1)
    return blocks.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)


# ----------------------------------------------------------------------------- memory
def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------------- workers
def _make_hessfit(case, numbers, positions, hessian):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # this program's process: float64 (spectrum_fn_for runs at the caller's precision)
    from hessfit.ins import InsConfig, spectrum_fn_for
    from hessfit.structures import Structure

    structure = Structure.from_numbers(numbers, positions, name="alkane")
    order = 1 if case.startswith("hessfit_o1") and not case.startswith("hessfit_o12") else 2
    cfg = InsConfig(instrument="tosca_back", max_order=order, temperature_k=TEMPERATURE_K, e_max_cm1=E_MAX_CM1,
                    cross_section="incoherent")
    fn = spectrum_fn_for(structure, cfg)
    h = jnp.asarray(hessian)
    if case.endswith("_grad"):
        g = jax.jit(jax.grad(lambda x: jnp.sum(fn(x) ** 2)))
        return lambda: g(h).block_until_ready()
    return lambda: fn(h).block_until_ready()


def _make_abinslib(case, numbers, positions, hessian):
    from abinslib.almost_isotropic_incoherent import (
        calculate_almost_isotropic_incoherent_combination_spectra,
        calculate_almost_isotropic_incoherent_spectra,
    )
    from abinslib.displacements import Displacements
    from abinslib.util import apply_weights, calculate_indirect_q2
    from ase.data import atomic_masses, chemical_symbols
    from euphonic import Crystal, QpointPhononModes, Quantity

    from hessfit.units import FREQ_FACTOR_EV_A2

    order2 = case == "abinslib_o12"
    n = len(numbers)
    masses = atomic_masses[numbers]
    crystal = Crystal(Quantity(np.eye(3) * 30.0, "angstrom"), (positions - positions.mean(0)) / 30.0 + 0.5,
                      np.array([chemical_symbols[z] for z in numbers]), Quantity(masses, "amu"))
    inv_sqrt_m = np.repeat(1.0 / np.sqrt(masses), 3)
    bins = Quantity(np.arange(0.0, E_MAX_CM1 + 0.5, 1.0), "1/cm")
    angle = np.deg2rad(ANGLE_DEG)
    ef = Quantity(E_FINAL_CM1, "1/cm")
    temperature = Quantity(TEMPERATURE_K, "K")

    def sigma_std(x):  # x: Quantity in 1/cm
        e = x.to("1/cm").magnitude
        return Quantity(2.5 + 0.005 * e + 1e-7 * e * e, "1/cm")

    def run():
        with contextlib.redirect_stdout(io.StringIO()):  # euphonic prints one line per isotope lookup
            lam, vec = np.linalg.eigh(hessian * inv_sqrt_m[:, None] * inv_sqrt_m[None, :])
            freqs = FREQ_FACTOR_EV_A2 * np.sign(lam) * np.sqrt(np.abs(lam))
            freqs = np.where(freqs > 10.0, freqs, 1e-3)
            ph = QpointPhononModes(crystal, np.zeros((1, 3)), Quantity(freqs[None], "1/cm"),
                                   vec.T.reshape(3 * n, n, 3).astype(complex)[None], weights=np.ones(1))
            disp = Displacements.from_modes(ph, temperature)
            a_half = disp.to_atomic_displacements()
            q2 = calculate_indirect_q2(ph.frequencies, angle, ef)
            spectra = apply_weights(calculate_almost_isotropic_incoherent_spectra(ph, disp, a_half, q2, bins),
                                    key="incoherent_cross_section").sum()
            out = [spectra.broaden(sigma_std, width_convention="std")]
            if order2:
                e2 = freqs[:, None] + freqs[None, :]
                q2_2 = calculate_indirect_q2(Quantity(e2[None, :, None, :], "1/cm"), angle, ef)
                s2 = calculate_almost_isotropic_incoherent_combination_spectra(ph, disp, a_half, q2_2, bins)
                s2 = apply_weights(s2, key="incoherent_cross_section").sum()
                out.append(s2.broaden(sigma_std, width_convention="std"))
        return np.stack([o.y_data.magnitude for o in out])

    return run


def worker(case: str, n_carbon: int, budget: float) -> dict:
    numbers, positions = alkane(n_carbon)
    hessian = spring_hessian(numbers, positions)
    maker = _make_abinslib if case.startswith("abinslib") else _make_hessfit
    call = maker(case, numbers, positions, hessian)
    base = _status_kb("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    call()
    first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_first = _status_kb("VmHWM")
    hwm_reset = _reset_hwm()
    times, cpu = [], []
    t_start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - t_start < budget and len(times) < 50):
        t0, c0 = time.perf_counter(), time.process_time()
        call()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak_warm = _status_kb("VmHWM")
    return dict(case=case, n_atoms=len(numbers), first_s=first, first_cpu_s=first_cpu,
                median_s=statistics.median(times), min_s=min(times), min_cpu_s=min(cpu),
                median_cpu_s=statistics.median(cpu), n_rep=len(times), base_mb=base / 1024,
                peak_first_mb=(peak_first - base) / 1024,
                peak_warm_mb=(peak_warm - base) / 1024 if hwm_reset else float("nan"))


def frequencies_summary(n_carbon: int) -> str:
    from hessfit.modes import normal_modes
    from hessfit.structures import Structure

    numbers, positions = alkane(n_carbon)
    m = normal_modes(Structure.from_numbers(numbers, positions, name="alkane"), spring_hessian(numbers, positions))
    f = np.asarray(m.frequencies_cm1)
    return (f"C{n_carbon}H{2 * n_carbon + 2}: {len(numbers)} atoms, {len(f)} modes, "
            f"{f.min():.1f}–{f.max():.1f} cm⁻¹ "
            f"(quartiles {np.percentile(f, 25):.0f}/{np.percentile(f, 50):.0f}/{np.percentile(f, 75):.0f}), "
            f"{int(np.sum(f <= 10.0))} ≤ 10 cm⁻¹")


# ----------------------------------------------------------------------------- driver
def run_case(case: str, n_carbon: int, budget: float, timeout: float, threads: int = 1) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", case, str(n_carbon), "--budget", str(budget)]
    env = dict(os.environ)
    if threads > 0:  # same thread count for XLA and numpy/OpenBLAS
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                            f"intra_op_parallelism_threads={threads}").strip()
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return dict(case=case, error=f"timeout after {timeout:.0f} s")
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return dict(case=case, error=(proc.stderr.strip().splitlines() or ["no output"])[-1][:200])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="9,33,66", help="carbon counts of the alkanes (default 9,33,66)")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of warm repeats per case")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for XLA and numpy in every case (default 1; 0 = library defaults)")
    ap.add_argument("--stat", choices=("cpu", "wall"), default="cpu",
                    help="table statistic: min process CPU time (default; robust to other load, equal to wall "
                         "time for one idle thread) or min wall time")
    ap.add_argument("--no-abinslib", action="store_true")
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "N_CARBON"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(MARK + json.dumps(worker(args.worker[0], int(args.worker[1]), args.budget)), flush=True)
        return

    try:
        import abinslib  # noqa: F401

        have_abins = not args.no_abinslib
    except ImportError:
        have_abins = False
    cases = HESSFIT_CASES + (ABINS_CASES if have_abins else ())
    import jax

    print(f"hessfit INS benchmark — {time.strftime('%Y-%m-%d %H:%M')} — jax {jax.__version__} on "
          f"{jax.devices()[0].platform}, {os.cpu_count()} CPU(s), {args.threads or 'default'} thread(s) per case, "
          f"load average {os.getloadavg()[0]:.1f} — "
          "TOSCA back, 10 K, 0–4000 cm⁻¹, 1 cm⁻¹ bins")
    results = {}
    for nc in (int(s) for s in args.sizes.split(",")):
        print(frequencies_summary(nc), flush=True)
        for case in cases:
            r = run_case(case, nc, args.budget, args.timeout, args.threads)
            results[(nc, case)] = r
            if "error" in r:
                print(f"  {case:18s} ERROR {r['error']}", flush=True)
            else:
                print(f"  {case:17s} first {r['first_s']:7.2f} s | warm wall med {r['median_s']:8.4f} min "
                      f"{r['min_s']:8.4f} s, cpu min {r['min_cpu_s']:8.4f} s (n={r['n_rep']:2d}) | "
                      f"ΔRSS first {r['peak_first_mb']:5.0f} MB, warm {r['peak_warm_mb']:5.0f} MB", flush=True)

    stat = "min_cpu_s" if args.stat == "cpu" else "min_s"

    def get(nc, case, key):
        r = results.get((nc, case), {})
        return r.get(key, float("nan"))

    print()
    head = (f"{'atoms':>5} | {'hf o1 s':>8} {'hf o12 s':>8} {'hf o1 ∇/f':>9} {'hf o12 ∇/f':>10} | "
            f"{'ab o1 s':>8} {'ab o12 s':>8} | {'o1 ab/hf':>8} {'o12 ab/hf':>9} | "
            f"{'hf o12 MB':>9} {'hf ∇ MB':>8} {'ab o12 MB':>9}")
    print(head)
    print("-" * len(head))
    for nc in (int(s) for s in args.sizes.split(",")):
        n_atoms = 3 * nc + 2
        hf1, hf2 = get(nc, "hessfit_o1", stat), get(nc, "hessfit_o12", stat)
        g1, g2 = get(nc, "hessfit_o1_grad", stat), get(nc, "hessfit_o12_grad", stat)
        ab1, ab2 = get(nc, "abinslib_o1", stat), get(nc, "abinslib_o12", stat)
        print(f"{n_atoms:5d} | {hf1:8.4f} {hf2:8.4f} {g1 / hf1:9.2f} {g2 / hf2:10.2f} | {ab1:8.4f} {ab2:8.3f} | "
              f"{ab1 / hf1:8.1f} {ab2 / hf2:9.1f} | {get(nc, 'hessfit_o12', 'peak_warm_mb'):9.0f} "
              f"{get(nc, 'hessfit_o12_grad', 'peak_warm_mb'):8.0f} {get(nc, 'abinslib_o12', 'peak_warm_mb'):9.0f}")
    print(f"\nwarm times = best of n, {'process CPU' if args.stat == 'cpu' else 'wall'} seconds, "
          f"{args.threads or 'default'} thread(s); ∇/f = gradient / forward time;\nab/hf = abinslib / hessfit time; "
          "MB = peak RSS above baseline during warm calls")
    big = max(int(s) for s in args.sizes.split(","))
    hf2, ab2 = get(big, "hessfit_o12", stat), get(big, "abinslib_o12", stat)
    g2 = get(big, "hessfit_o12_grad", stat)
    n_atoms = 3 * big + 2
    print(f"targets at {n_atoms} atoms: orders 1–2 < 0.5 s warm: {hf2:.3f} s → {'OK' if hf2 < 0.5 else 'MISSED'}; "
          f"≥10× faster than abinslib: {ab2 / hf2:.1f}× → {'OK' if ab2 / hf2 >= 10 else 'MISSED'}; "
          f"less memory: {get(big, 'hessfit_o12', 'peak_warm_mb'):.0f} vs "
          f"{get(big, 'abinslib_o12', 'peak_warm_mb'):.0f} MB; "
          f"gradient ≤ 3× forward: {g2 / hf2:.2f}× → {'OK' if g2 / hf2 <= 3 else 'MISSED'}")


if __name__ == "__main__":
    main()
