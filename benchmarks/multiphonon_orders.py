"""How much of an INS spectrum orders 1..n hold: the multi-phonon series' tail, with and without a lattice band.

n-hexane (bundled MMFF94 geometry and Hessian), TFXA, 0-4000 cm⁻¹ on 2 cm⁻¹ bins; the isolated molecule, and the
molecule with the external-mode band of `hessfit.ins.external_modes` (six rigid-body vectors, Gaussian band of
centre 60 cm⁻¹ and width 10 cm⁻¹, 7 samples: the band `refine --external-modes` fits to the README's hexane
spectrum). Prints, per highest order n, the integrated intensity in three windows as a percentage of orders 1-10.

    python benchmarks/multiphonon_orders.py
"""

from __future__ import annotations

from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from hessfit.ins import InsConfig, concat_modes, external_modes, make_modes_spectrum_fn  # noqa: E402
from hessfit.modes import modes_from_hessian, rigid_body_basis, vibrational_basis  # noqa: E402
from hessfit.structures import cross_sections, read_structure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WINDOWS_CM1 = ((50, 500), (700, 1700), (2800, 3500))
ORDERS = (1, 2, 4, 6, 8, 10)


def window_intensities(modes, structure, max_order: int) -> np.ndarray:
    """Integrated intensity of orders 1..max_order in each of WINDOWS_CM1 (arbitrary units)."""
    cfg = InsConfig(instrument="tfxa", max_order=max_order, e_min_cm1=0.0, e_max_cm1=4000.0, bin_width_cm1=2.0)
    core = make_modes_spectrum_fn(cfg)
    xs = jnp.asarray(cross_sections(structure.numbers, structure.masses, cfg.cross_section))
    total = np.asarray(core(modes, xs, 1.0, None)).sum(0)
    e = np.asarray(core.energies_cm1)
    return np.array([total[(e >= lo) & (e < hi)].sum() for lo, hi in WINDOWS_CM1])


def main() -> None:
    s = read_structure(ROOT / "data" / "hexane" / "hexane_rdkit_mmff.xyz")
    h = np.load(ROOT / "data" / "hexane" / "hexane_rdkit_mmff_hessian_mmff94.npy")
    masses = jnp.asarray(s.masses)
    internal = modes_from_hessian(jnp.asarray(h), masses, jnp.asarray(vibrational_basis(s)))
    band = external_modes(rigid_body_basis(s.positions, s.masses), masses, 60.0, 10.0, 7)
    header = " | ".join(f"{lo}-{hi} cm⁻¹" for lo, hi in WINDOWS_CM1)
    for label, modes in (("isolated molecule", internal), ("with the lattice band", concat_modes(internal, band))):
        rows = {n: window_intensities(modes, s, n) for n in ORDERS}
        print(f"\n{label}: % of the orders 1-10 intensity\n| orders | {header} |\n|---|---|---|---|")
        for n in ORDERS:
            print(f"| 1-{n} | " + " | ".join(f"{100 * v / r:.0f}" for v, r in zip(rows[n], rows[ORDERS[-1]])) + " |")


if __name__ == "__main__":
    main()
