"""The energy member's Hessian at its own minimum, alone and blended (docs/own_minimum.md).

    OMP_NUM_THREADS=1 python benchmarks/own_minimum.py --sets qm9_val panel qm9_test dft

Per molecule: relax on ``nequip_mf``'s surface from the reference geometry (scipy L-BFGS with the network's
analytic gradient, max force ≤ 0.005 eV/Å, ≤ 500 steps), take its Hessian there, and evaluate it as the Hessian of
the reference structure, alone and as (1 − W)·that + W·``blocks_mf`` (blocks at the reference geometry) for W in
0.3…0.7; ``ensemble_mf`` (W = 0.6, no relaxation; the default when this was measured) beside them. Prints per set the table rows and the
relaxation's statistics (RMS displacement, steps, unconverged molecules).

    python benchmarks/own_minimum.py --structure data/hexane/hexane_gfn2_molecule_opt.xyz

prints one structure's forces under ``nequip_mf`` and its lowest modes before and after the relaxation.
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from out_of_domain import load_set  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)


def make_relax(model):
    """relax(structure) -> (positions Å, max force eV/Å, steps) on the energy model's own surface
    (``forces_only=True``: the max force at the input, eV/Å)."""
    import jax
    import jax.numpy as jnp
    import scipy.optimize

    from hessfit.model._energy import make_energy_fn
    from hessfit.model._graph import pack, species_index

    vg = jax.jit(jax.value_and_grad(make_energy_fn(model.config), argnums=1))

    def relax(structure, fmax=0.005, max_steps=500, forces_only=False):
        n = structure.n_atoms
        sp = species_index(structure.numbers, model.config.elements)

        def ef(x):
            b = pack([sp], [x.reshape(n, 3)], cutoff_angstrom=model.config.cutoff_angstrom)
            e, g = vg(model.params, jnp.asarray(b.positions, model.config.dtype), b.graph)
            return float(e), np.asarray(g[:n], float).ravel()

        if forces_only:  # max atomic force at the input geometry, eV/Å
            return float(np.linalg.norm(ef(structure.positions.ravel())[1].reshape(n, 3), axis=1).max())
        r = scipy.optimize.minimize(ef, structure.positions.ravel(), jac=True, method="L-BFGS-B",
                                    options={"maxiter": max_steps, "gtol": fmax / 3, "ftol": 0.0})
        _, g = ef(r.x)
        return r.x.reshape(n, 3), float(np.linalg.norm(g.reshape(n, 3), axis=1).max()), int(r.nit)

    return relax


def run_set(set_name, energy, blocks, relax, cache: Path):
    from hessfit.train._evaluate import blend_hessians, evaluate, network_predict_fn

    ds, idx = load_set(set_name, None)
    structures = [ds.structure(i) for i in idx]
    if cache.exists():
        h_own, h_in, h_blocks, stats = pickle.loads(cache.read_bytes())
    else:
        t0 = time.perf_counter()
        relaxed, stats = [], []
        for s in structures:
            try:
                x, f, steps = relax(s)
            except Exception:  # elements the network does not know: evaluated as skipped
                relaxed.append(s)
                stats.append(None)
                continue
            relaxed.append(dataclasses.replace(s, positions=x))
            stats.append((float(np.sqrt(np.mean(np.sum((x - s.positions) ** 2, 1)))), f, steps))
        t_relax = time.perf_counter() - t0
        h_own = network_predict_fn(energy)(relaxed)
        h_in = network_predict_fn(energy)(structures)
        h_blocks = network_predict_fn(blocks)(structures)
        print(f"  {set_name}: relaxed {len(structures)} in {t_relax:.0f} s", flush=True)
        cache.write_bytes(pickle.dumps((h_own, h_in, h_blocks, stats)))
    ok = [s for s in stats if s is not None]
    if ok:
        d, f, n = map(np.asarray, zip(*ok))
        print(f"  {set_name}: RMS displacement median {np.median(d):.3f} / max {d.max():.3f} Å; steps median "
              f"{np.median(n):.0f}; not converged (max force > 0.005 eV/Å): {int(np.sum(f > 0.005))}", flush=True)

    cands = [("ensemble_mf (W 0.6, input geometry)", blend_hessians(h_in, h_blocks, 0.6)), ("nequip_mf", h_in),
             ("nequip_mf@own", h_own)]
    cands += [(f"nequip_mf@own+blocks_mf@{w}", blend_hessians(h_own, h_blocks, w)) for w in WEIGHTS]
    for name, hs in cands:
        s = evaluate(lambda ss, hs=hs: hs, ds, idx, source=name, spectra=False).summary
        print(f"| {set_name} | {name} | {s['n_molecules']} | {s['frequency_mae_cm1']:.2f} | "
              f"{s['frequency_mae_low_cm1']:.1f} | {s['molecules_with_mode_below_guard']} | "
              f"{s['min_frequency_cm1']:.0f} | {s['hessian_r2']:.5f} |", flush=True)


def one_structure(path, energy, relax) -> None:
    from hessfit.model import predict_hessian
    from hessfit.modes import normal_modes
    from hessfit.structures import read_structure

    s = read_structure(path)
    x, fmax, steps = relax(s)
    moved = dataclasses.replace(s, positions=x)
    f0 = relax(s, forces_only=True)
    print(f"{s.name}: max force at the input {f0:.3f} eV/Å; relaxed in {steps} steps to {fmax:.4f} eV/Å, "
          f"RMS displacement {np.sqrt(np.mean(np.sum((x - s.positions) ** 2, 1))):.3f} Å")
    for label, st in (("input", s), ("relaxed", moved)):
        f = np.sort(np.asarray(normal_modes(st, predict_hessian(st, energy)).frequencies_cm1))
        print(f"  lowest modes at the {label} geometry (cm⁻¹):", " ".join(f"{v:.0f}" for v in f[:8]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="+", default=["qm9_val", "panel", "qm9_test", "dft"])
    p.add_argument("--structure", help="only this structure file: forces and lowest modes before/after relaxing")
    p.add_argument("--cache", type=Path, default=ROOT / "scratch" / "own_minimum")
    args = p.parse_args()
    from hessfit.model import load_model
    from hessfit.structures import HessfitWarning

    warnings.simplefilter("ignore", HessfitWarning)
    energy, blocks = load_model("nequip_mf"), load_model("blocks_mf")
    relax = make_relax(energy)
    if args.structure:
        return one_structure(args.structure, energy, relax)
    args.cache.mkdir(parents=True, exist_ok=True)
    print("| set | model | molecules | frequency MAE | MAE < 200 cm⁻¹ | mode < −50 cm⁻¹ | lowest mode | Hessian R² |\n"
          "|---|---|---|---|---|---|---|---|")
    for set_name in args.sets:
        run_set(set_name, energy, blocks, relax, args.cache / f"{set_name}.pkl")


if __name__ == "__main__":
    main()
