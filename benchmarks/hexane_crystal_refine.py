"""Refinement of n-hexane as the crystal it is: TFXA spectrum, seed = periodic GFN2-xTB force constants.

Seed: data/hexane/hexane_crystal_gfn2_phonopy_params.yaml (the 2×2×1 phonopy supercell, 80 atoms, 4 molecules;
docs/crystal.md). Each recipe acts on the intramolecular part with its factors shared by the four molecules, plus
an 'intermolecular scale' (hessfit.refine.crystal_parametrization). Default settings otherwise (blocks hold-out,
seed kept when the held-out Spearman falls). Prints one row per recipe and window; docs/refine.md quotes it.

    python benchmarks/hexane_crystal_refine.py [--recipes internal classes global] [--windows 50-1800 50-3500]
    python benchmarks/hexane_crystal_refine.py --meshes 3x3x1 3x3x2   # speed: larger cells (phonopy interpolation
                                                                       # of the relaxed-cell force constants)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "data/hexane/hexane_crystal_gfn2_phonopy_params.yaml"
SPECTRUM = ROOT / "data/hexane/hexane_tfxa.dat"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="+", default=["internal", "classes", "global"])
    ap.add_argument("--windows", nargs="+", default=["50-1800", "50-3500"])
    ap.add_argument("--meshes", nargs="*", default=[],
                    help="only time the default recipe on these q-meshes (e.g. 3x3x1: 180 atoms), 50-1800 cm-1")
    a = ap.parse_args()
    if a.meshes:
        return time_meshes(a.meshes)
    jax.config.update("jax_enable_x64", True)
    from hessfit.compare import read_spectrum
    from hessfit.refine import RefineConfig, refine
    from hessfit.sources import read_phonopy

    fc = read_phonopy(SEED)
    measured = read_spectrum(SPECTRUM)
    print(f"# n-hexane crystal on TFXA, seed {SEED.name} ({fc.structure.n_atoms} atoms); "
          "Spearman: held-out / fitted points / as measured / uniform 1 cm-1 grid, before -> after")
    print(f"{'recipe':<9}{'window':<9}{'held-out':>15}{'fitted':>15}{'as measured':>15}{'uniform':>15}"
          f"{'peak RMS':>15}  {'kept':<5}{'time s':>7}  parameters")
    for window in a.windows:
        lo, hi = (float(v) for v in window.split("-"))
        for recipe in a.recipes:
            cfg = RefineConfig.load(recipe, instrument="tfxa", e_min_cm1=lo, e_max_cm1=hi)
            t0 = time.perf_counter()
            r = refine(fc.structure, fc.hessian, measured, cfg, progress=False)
            m = r.metrics

            def pair(key):
                return f"{m[key + '_before']:.3f}->{m[key + '_after']:.3f}"

            params = ", ".join(f"{n} {v:.3f}" for n, v in zip(r.parametrization.names, r.params))
            print(f"{recipe:<9}{window:<9}{pair('spearman_heldout'):>15}{pair('spearman_fitted'):>15}"
                  f"{pair('spearman'):>15}{pair('spearman_uniform'):>15}"
                  f"{m['peak_rms_cm1_before']:7.1f}->{m['peak_rms_cm1_after']:<6.1f}  {str(r.kept_seed):<5}"
                  f"{time.perf_counter() - t0:7.1f}  {params}")


def time_meshes(meshes: list[str]) -> None:
    """Wall and CPU time of the default recipe on larger cells: the relaxed-cell force constants interpolated by
    phonopy onto each q-mesh (`interpolate_supercell`), i.e. the Γ Hessian of that supercell."""
    jax.config.update("jax_enable_x64", True)
    from hessfit.compare import read_spectrum
    from hessfit.refine import RefineConfig, refine
    from hessfit.sources._phonopy import interpolate_supercell

    measured = read_spectrum(SPECTRUM)
    print(f"{'mesh':<7}{'atoms':>6}{'wall s':>8}{'CPU s':>8}  as measured, held-out (before -> after), seed kept")
    for mesh in meshes:
        fc = interpolate_supercell(ROOT / "data/hexane/hexane_crystal_gfn2_cellrelax_phonopy_params.yaml",
                                   tuple(int(v) for v in mesh.split("x")))
        cfg = RefineConfig.load("internal", instrument="tfxa", e_min_cm1=50.0, e_max_cm1=1800.0)
        t0, c0 = time.perf_counter(), time.process_time()
        r = refine(fc.structure, fc.hessian, measured, cfg, progress=False)
        m = r.metrics
        print(f"{mesh:<7}{fc.structure.n_atoms:6d}{time.perf_counter() - t0:8.0f}{time.process_time() - c0:8.0f}  "
              f"{m['spearman_before']:.3f} -> {m['spearman_after']:.3f}, {m['spearman_heldout_before']:.3f} -> "
              f"{m['spearman_heldout_after']:.3f}, {r.kept_seed}")


if __name__ == "__main__":
    main()
