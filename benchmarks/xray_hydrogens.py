"""X-ray hydrogen positions against neutron-normalised ones (`--normalize-h`), on the bundled real sample.

    python benchmarks/xray_hydrogens.py [--sources nequip,xtb]

n-Hexane cut from its X-ray crystal structure (data/hexane/hexane.xyz, C–H 0.956–0.991 Å) and the crystal
itself (data/hexane/hexane_crystal.cif, one molecule per cell), each as given and with every C–H set to the
neutron length 1.089 Å. For each Hessian source: the lowest internal modes (`hessfit modes`), and the agreement
of the simulated spectrum with the measured TFXA spectrum (`hessfit compare`, default settings: orders 1–2 at
the instrument's resolution, 50–3500 cm⁻¹). xTB needs the `tblite` extra. Prints one row per case.

First, the check's false positives: every minimum of the out-of-domain sets, the xTB training molecules and
(when ../shared is there) the QM9 B3LYP set, with the shortest C–H, N–H and O–H bond of each.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HEXANE = ROOT / "data" / "hexane"
INPUTS = {"molecule (X-ray cut)": HEXANE / "hexane.xyz", "crystal (CIF)": HEXANE / "hexane_crystal.cif"}


def _run(argv: list[str]) -> str:
    """Run the CLI in-process; return its stdout (warnings go to stderr, not checked here)."""
    from hessfit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("always")
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"hessfit {' '.join(argv)}: {err.getvalue().strip()}")
    return out.getvalue()


def _lowest_modes(text: str, n: int = 3) -> str:
    """The ``n`` lowest modes of a `hessfit modes` table above 1 cm⁻¹ in size, and how many zero ones it lists (a
    crystal's lattice modes without intermolecular force constants)."""
    rows = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    f = np.array([float(r[1]) for r in rows if len(r) >= 3 and r[0].isdigit()])
    zero = int(np.sum(np.abs(f) < 1.0))
    return ", ".join(f"{x:.0f}" for x in f[np.abs(f) >= 1.0][:n]) + (f" ({zero} zero)" if zero else "")


MINIMA = [ROOT / "data" / "ood" / f for f in ("panel_xtb.npz", "panel2_xtb.npz", "dft_b3lyp.npz")] + [
    ROOT / "data" / "pretrain" / "nci_flexible_xtb_minima_641.npz",
    ROOT.parent / "shared" / "data" / "hessians" / "qm9_b3lyp_hessians.npz"]


def false_positives() -> None:
    from hessfit.structures import Structure, hydrogen_bonds, load_dataset, short_hydrogen_bonds, standard_mass

    for path in (p for p in MINIMA if p.exists()):
        ds = load_dataset(path)
        flagged, shortest = 0, {6: np.inf, 7: np.inf, 8: np.inf}
        for i in range(len(ds)):
            z = ds.numbers(i)
            s = Structure(z, ds.positions(i), np.array([standard_mass(int(a)) for a in z]))
            flagged += bool(short_hydrogen_bonds(s))
            for b in hydrogen_bonds(s):
                shortest[int(z[b.parent])] = min(shortest[int(z[b.parent])], b.length)
        print(f"{path.name:34s}{len(ds):6d} minima, {flagged} flagged; shortest C-H {shortest[6]:.3f}, "
              f"N-H {shortest[7]:.3f}, O-H {shortest[8]:.3f} Å", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sources", default="nequip,xtb", help="comma-separated Hessian sources")
    args = p.parse_args()
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    false_positives()
    print(f"{'input':22s}{'source':8s}{'H':12s}{'lowest modes (cm-1)':>26s}{'Spearman':>10s}{'peaks assigned':>16s}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in INPUTS.items():
            for source in sources:
                for flag in ([], ["--normalize-h"]):
                    common = ["--source", source, *flag]
                    low = _lowest_modes(_run(["modes", str(path), *common]))
                    out = Path(tmp) / f"{path.stem}_{source}_{len(flag)}"
                    _run(["compare", str(path), str(HEXANE / "hexane_tfxa.dat"), "--instrument", "tfxa", *common,
                          "-o", str(out)])
                    score = json.loads((out / "scores.json").read_text())["scores"]["spearman"]
                    rows = [r.split(",") for r in (out / "assignment.csv").read_text().splitlines()[1:]]
                    measured = [r for r in rows if r[0].startswith("P")]  # columns: measured, …, calculated
                    assigned = sum(1 for r in measured if r[3].startswith("M"))
                    h = "normalised" if flag else "as given"
                    print(f"{label:22s}{source:8s}{h:12s}{low:>26s}{score:>10.3f}"
                          f"{f'{assigned}/{len(measured)}':>16s}", flush=True)
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
