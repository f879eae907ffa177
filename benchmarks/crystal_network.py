"""The network in a molecular crystal: intramolecular blocks from the network, intermolecular ones from periodic
GFN2-xTB, against the all-xTB crystal and the isolated molecule, on the measured n-hexane TFXA spectrum.

The network was trained on isolated molecules, so in a crystal it is asked only for what it knows: every molecule
is made whole and predicted alone (`NequipSource` on a crystal), and the blocks between molecules come from the
periodic xTB force constants (`NequipSource(intermolecular=...)`, `hessfit.structures.split_intermolecular`; the
CLI does this for a phonopy file with ``--source nequip``). Rows:

* crystal, xTB: the 2×2×1 phonopy supercell of data/hexane (80 atoms, 4 molecules), all GFN2-xTB
* crystal, network intra + xTB inter: the same with each molecule's own blocks from the shipped network
* crystal, network periodic: one graph with edges to periodic images (`NequipSource(crystal="periodic")`): the
  network's own intermolecular blocks, from contacts it never saw in training
* crystal, xTB intra + network inter: the network's intermolecular part alone, on xTB's intramolecular one
* molecule, xTB / network: the isolated molecule at its GFN2-xTB minimum (data/hexane/hexane_gfn2_molecule_*)

Simulation as benchmarks/hexane_crystal.py (TFXA, 20 K, orders 1–4); Spearman on the measured grid and on a
uniform 2 cm⁻¹ grid per window. Also: RMS difference (cm⁻¹) of the internal-mode frequencies of the two crystal
Hessians above 200 cm⁻¹ (how far the network's intramolecular part sits from xTB's).

    python benchmarks/crystal_network.py
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
from benchmarks.hexane_crystal import GRIDS, TEMPERATURE, WINDOWS, scores  # noqa: E402
from hessfit.ins import InsConfig, simulate  # noqa: E402
from hessfit.modes import lattice_character, normal_modes  # noqa: E402
from hessfit.sources import get_source, read_phonopy  # noqa: E402
from hessfit.structures import read_spectrum, read_structure, split_intermolecular  # noqa: E402

D = ROOT / "data/hexane"


def main() -> None:
    warnings.simplefilter("ignore")
    meas = read_spectrum(D / "hexane_tfxa.dat")
    fc = read_phonopy(D / "hexane_crystal_gfn2_phonopy_params.yaml")
    crystal = fc.structure
    h_hybrid = get_source("nequip", intermolecular=fc.hessian).hessian(crystal).hessian
    periodic = get_source("nequip", crystal="periodic").hessian(crystal)
    h_net_inter = split_intermolecular(crystal, periodic.hessian)[1]
    mol = read_structure(D / "hexane_gfn2_molecule_opt.xyz")
    h_mol_xtb = np.load(D / "hexane_gfn2_molecule_hessian.npy")
    h_mol_net = get_source("nequip").hessian(mol).hessian
    cfg = InsConfig(instrument="tfxa", temperature_k=TEMPERATURE, max_order=4, e_max_cm1=4000.0, bin_width_cm1=1.0)
    rows = {"crystal, xTB": (crystal, fc.hessian), "crystal, network intra + xTB inter": (crystal, h_hybrid),
            "crystal, network periodic": (crystal, periodic.hessian),
            "crystal, xTB intra + network inter": (crystal, fc.hessian - split_intermolecular(crystal, fc.hessian)[1]
                                                    + h_net_inter),
            "molecule, xTB": (mol, h_mol_xtb), "molecule, network": (mol, h_mol_net)}
    keys = [f"{'measured' if g == 'measured' else 'uniform2'} {w[0]}-{w[1]}" for g in GRIDS for w in WINDOWS]
    print("# n-hexane, TFXA, orders 1-4, 20 K; Spearman vs measured per window (measured grid | uniform 2 cm-1)")
    print(f"{'Hessian':<38}" + "".join(f"{k:>19}" for k in keys))
    for name, (s, h) in rows.items():
        sc = scores(meas, simulate(s, h, cfg))
        print(f"{name:<38}" + "".join(f"{sc[k]:>19.3f}" for k in keys))
    m_x, m_n = normal_modes(crystal, fc.hessian), normal_modes(crystal, h_hybrid)
    f_x, f_n = np.asarray(m_x.frequencies_cm1), np.asarray(m_n.frequencies_cm1)
    internal = (lattice_character(crystal, m_x)["label"] == "internal") & (f_x > 200)
    print(f"internal modes > 200 cm-1: {int(internal.sum())}; RMS(network-hybrid - xTB) "
          f"{np.sqrt(np.mean((f_n[internal] - f_x[internal]) ** 2)):.1f} cm-1; lattice modes (xTB) "
          f"{int((lattice_character(crystal, m_x)['label'] != 'internal').sum())}, lowest frequencies xTB "
          f"{f_x[:3].round(1).tolist()}, hybrid {f_n[:3].round(1).tolist()}")
    inter_x, inter_n = split_intermolecular(crystal, fc.hessian)[1], h_net_inter
    r = np.corrcoef(inter_x.ravel(), inter_n.ravel())[0, 1]
    print(f"intermolecular blocks, network periodic vs xTB: Frobenius norms {np.linalg.norm(inter_n):.3f} vs "
          f"{np.linalg.norm(inter_x):.3f} eV/Å², correlation {r:.3f}; lowest frequencies of the periodic network "
          f"{np.asarray(normal_modes(crystal, periodic.hessian).frequencies_cm1)[:3].round(1).tolist()}")


if __name__ == "__main__":
    main()
