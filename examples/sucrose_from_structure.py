"""From a structure alone to a simulated INS spectrum: sucrose (45 atoms) on VISION.

    python examples/sucrose_from_structure.py [--out runs/sucrose]

Steps: read the structure → Hessian from ``--source auto`` (the shipped network when its guard passes: no mode
below −50 cm⁻¹ and the ensemble members agree; else GFN2-xTB when tblite is installed) → normal modes with a
short description of the softest and strongest ones → harmonic thermodynamics → VISION spectrum at 5 K,
orders 1–4, written as NetCDF and plotted. The same from the command line:

    hessfit spectrum data/sucrose/sucrose.xyz --source auto --instrument vision --temperature 5 --orders 4 \\
        -o runs/sucrose/spectrum.nc --plot runs/sucrose/spectrum.png
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # this script writes files only (a program, not the library)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hessfit.compare import describe_modes  # noqa: E402
from hessfit.ins import InsConfig, plot_spectrum, save_spectrum, simulate  # noqa: E402
from hessfit.modes import normal_modes, thermo_table  # noqa: E402
from hessfit.sources import get_source  # noqa: E402
from hessfit.structures import read_structure  # noqa: E402

HERE = Path(__file__).resolve().parent
STRUCTURE = HERE.parent / "data" / "sucrose" / "sucrose.xyz"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/sucrose", help="output folder")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    s = read_structure(STRUCTURE)
    t0 = time.perf_counter()
    result = get_source("auto").hessian(s)
    meta = result.metadata
    print(f"{s.name}: {s.n_atoms} atoms; Hessian from {meta['auto_choice']} in {time.perf_counter() - t0:.1f} s "
          f"(guard: lowest mode {meta['lowest_frequency_cm1']:.0f} cm-1, member disagreement "
          f"{meta.get('member_disagreement_cm1', float('nan')):.0f} cm-1)")

    modes = normal_modes(s, result.hessian)
    freqs = np.asarray(modes.frequencies_cm1)
    words = describe_modes(s, result.hessian, modes)
    print("softest modes:")
    for k in range(5):
        print(f"  {freqs[k]:7.1f} cm-1  {words[k]}")
    print("harmonic thermodynamics (kJ/mol, J/(mol K)):")
    for row in thermo_table(modes, temperatures_k=(5.0, 100.0, 298.15)):
        print("  " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()))

    ds = simulate(s, result.hessian, InsConfig(instrument="vision", temperature_k=5.0, max_order=4))
    save_spectrum(ds, out / "spectrum.nc", overwrite=True)  # this script's own output folder
    ax = plot_spectrum(ds, label=f"sucrose, {meta['auto_choice']} Hessian, VISION 5 K")
    ax.set_xlim(0, 1800)
    ax.figure.savefig(out / "spectrum.png", dpi=140)
    plt.close(ax.figure)
    print(f"wrote {out / 'spectrum.nc'} and {out / 'spectrum.png'}")


if __name__ == "__main__":
    main()
