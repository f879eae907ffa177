"""Molecule vs crystal: simulated INS of n-hexane against the measured TFXA spectrum, and hessfit vs abinslib
on the same crystal force constants.

Usage::

    python benchmarks/hexane_crystal.py            # needs data/hexane/*gfn2* (scripts/hexane_crystal_xtb.py)

Inputs (all GFN2-xTB through tblite, made by scripts/hexane_crystal_xtb.py, except the bundled MMFF94 seed):

* molecule, MMFF94: data/hexane/hexane_rdkit_mmff.xyz + _hessian_mmff94.npy (the README's refinement seed)
* molecule, GFN2-xTB: the isolated molecule relaxed and its Hessian (hexane_gfn2_molecule_*)
* crystal Γ: the 20-atom cell's Γ-point Hessian, folded from the phonopy force constants (3 lattice modes)
* crystal mesh: the phonopy supercell (2×2×1) force constants as the supercell's Γ Hessian = the phonons
  of the cell on the commensurate 2×2×1 q-mesh (all of them: 21 lattice modes)
* crystal fine mesh: phonopy's interpolation of the same force constants onto a 3×3×2 q-mesh, as the
  force constants of the 360-atom 3×3×2 supercell (`interpolate_supercell`; no new force calculation)

Simulation: TFXA (back bank, σ twice TOSCA's), 20 K (the file states none; TFXA ran at < 30 K), incoherent σ,
orders 1–4 (orders ≥ 3 by auto-convolution: the lattice modes give the phonon wings and the multi-phonon
background), 0–4000 cm⁻¹ at 1 cm⁻¹. Comparison (hessfit.compare.compare_spectra): area-normalised in each
window, no background removal, Spearman on the measured grid and on a uniform 2 cm⁻¹ grid, windows
50–200 (lattice modes and torsions), 200–600, 600–1800, 50–1800 cm⁻¹.

Cross-check: abinslib 0.3.0 orders 1–2 (almost-isotropic, exact-Q combinations with DW, combinations between
all q-point pairs weighted w_q w_q′) from Euphonic's modes of the same phonopy force constants on the same
q-mesh, converted to hessfit's order-2 convention (½ on combinations), binned at 1 cm⁻¹ and broadened with
the TFXA σ(E) of each bin; hessfit's orders 1–2 of the supercell divided by the number of cells.
Writes docs/images/hexane_crystal.png, docs/images/hexane_crystal_zoom.png and benchmarks/hexane_crystal.json.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
from hessfit.compare import compare_spectra  # noqa: E402
from hessfit.ins import InsConfig, simulate  # noqa: E402
from hessfit.modes import normal_modes  # noqa: E402
from hessfit.modes import lattice_character  # noqa: E402
from hessfit.sources._phonopy import fold_to_cell, interpolate_supercell, read_phonopy  # noqa: E402
from hessfit.structures import read_spectrum, read_structure  # noqa: E402
from hessfit.structures import describe_structure as describe  # noqa: E402

D = ROOT / "data/hexane"
WINDOWS = [(50, 200), (200, 600), (600, 1800), (50, 1800)]
GRIDS = ["measured", 2.0]
TEMPERATURE = 20.0
FINE_MESH = (3, 3, 2)
warnings.simplefilter("ignore")


def scores(meas, ds):
    out = {}
    for grid in GRIDS:
        for w in WINDOWS:
            r = compare_spectra(meas, ds, window_cm1=w, grid=grid)
            out[f"{'measured' if grid == 'measured' else 'uniform2'} {w[0]}-{w[1]}"] = round(r["spearman"], 3)
    return out


def abinslib_orders12(ph_dir, summary, qmesh, cfg):
    """abinslib orders 1–2 on Euphonic's q-mesh modes of the phonopy force constants, TFXA, per cell."""
    from abinslib.almost_isotropic_incoherent import (calculate_almost_isotropic_incoherent_combinations,
                                                       calculate_almost_isotropic_incoherent_fundamentals)
    from abinslib.displacements import Displacements
    from abinslib.util import calculate_indirect_q2
    from euphonic import ForceConstants, QpointPhononModes, Quantity

    from hessfit.ins import load_instrument
    from hessfit.structures._elements import cross_sections

    inst = load_instrument(cfg.instrument)
    efc = ForceConstants.from_phonopy(path=str(ph_dir), summary_name=summary)
    q = np.array([(a / qmesh[0], b / qmesh[1], c / qmesh[2]) for a in range(qmesh[0]) for b in range(qmesh[1])
                  for c in range(qmesh[2])])
    m = efc.calculate_qpoint_phonon_modes(q, asr="reciprocal")
    f = m.frequencies.to("1/cm").magnitude.copy()
    f[f < 1.0] = 1e-3  # park the Γ acoustic modes (abinslib drops modes < 10 cm⁻¹)
    m = QpointPhononModes(m.crystal, m.qpts, Quantity(f, "1/cm"), m.eigenvectors, weights=np.full(len(q), 1 / len(q)))
    disp = Displacements.from_modes(m, Quantity(cfg.temperature_k, "K"), frequency_min=Quantity(10.0, "1/cm"))
    a_half = disp.to_atomic_displacements()
    angle = np.deg2rad(inst.angles_deg[0])
    ef = Quantity(inst.final_energy_cm1, "1/cm")
    i1 = calculate_almost_isotropic_incoherent_fundamentals(disp, a_half, calculate_indirect_q2(m.frequencies, angle, ef))
    e2 = f[:, :, None, None] + f[None, None, :, :]
    i2 = calculate_almost_isotropic_incoherent_combinations(disp, a_half, calculate_indirect_q2(
        Quantity(e2, "1/cm"), angle, ef), include_dw=True)
    xs = cross_sections(np.array([{"H": 1, "C": 6}[t] for t in m.crystal.atom_type]),
                        m.crystal.atom_mass.to("amu").magnitude, "incoherent")
    w = m.weights
    s1 = (i1 @ xs) * w[:, None]
    s2 = (i2 @ xs) * w[:, None, None, None] * w[None, None, :, None]
    nq, nb = f.shape
    same = np.eye(nq * nb, dtype=bool).reshape(nq, nb, nq, nb)
    s2 = s2 * np.where(same, 1.0, 0.5)  # abinslib's ordered pairs 2/15 → exact 1/15 per unordered pair
    keep1 = f > 10.0
    keep2 = keep1[:, :, None, None] & keep1[None, None, :, :]
    edges = cfg.e_min_cm1 + np.arange(cfg.n_bins + 1) * cfg.bin_width_cm1
    centres = 0.5 * (edges[1:] + edges[:-1])
    c0, c1, c2 = inst.resolution_cm1
    out = []
    for pos, wts in ((f[keep1], s1[keep1]), (e2[keep2], s2[keep2])):
        hist, _ = np.histogram(pos, bins=edges, weights=wts)
        sig = c0 + c1 * centres + c2 * centres**2
        src = np.nonzero(hist)[0]
        y = np.zeros_like(centres)
        for j in src:  # each bin's content spread with its own σ (as hessfit's order ≥ 2)
            y += hist[j] * np.exp(-0.5 * ((centres - centres[j]) / sig[j]) ** 2) / (np.sqrt(2 * np.pi) * sig[j])
        out.append(y)
    return centres, out


def main():
    meas = read_spectrum(D / "hexane_tfxa.dat")
    cfg = InsConfig(instrument="tfxa", temperature_k=TEMPERATURE, max_order=4, e_max_cm1=4000.0)
    ph_file = D / "hexane_crystal_gfn2_phonopy_params.yaml"
    fc = read_phonopy(ph_file)
    cell = read_structure(D / "hexane_crystal_gfn2_opt.extxyz")
    qmesh = tuple(int(v) for v in np.diag(fc.supercell_matrix))
    cases = {
        "molecule MMFF94": (read_structure(D / "hexane_rdkit_mmff.xyz"), np.load(D / "hexane_rdkit_mmff_hessian_mmff94.npy")),
        "molecule GFN2-xTB": (read_structure(D / "hexane_gfn2_molecule_opt.xyz"), np.load(D / "hexane_gfn2_molecule_hessian.npy")),
        "crystal GFN2-xTB, Γ": (cell, fold_to_cell(fc, cell)),
        f"crystal GFN2-xTB, {qmesh[0]}x{qmesh[1]}x{qmesh[2]} q-mesh": (fc.structure, fc.hessian),
    }
    relaxed = read_phonopy(D / "hexane_crystal_gfn2_cellrelax_phonopy_params.yaml")  # cell relaxed too
    cases[f"crystal GFN2-xTB, relaxed cell, {qmesh[0]}x{qmesh[1]}x{qmesh[2]} q-mesh"] = (relaxed.structure,
                                                                                       relaxed.hessian)
    fine = interpolate_supercell(ph_file, FINE_MESH)
    cases[f"crystal GFN2-xTB, {FINE_MESH[0]}x{FINE_MESH[1]}x{FINE_MESH[2]} q-mesh (interpolated)"] = (fine.structure,
                                                                                                  fine.hessian)
    results, spectra, info = {}, {}, {}
    for name, (s, h) in cases.items():
        t0 = time.perf_counter()
        ds = simulate(s, h, cfg)
        dt = time.perf_counter() - t0
        from hessfit.ins import spectrum_fn_for

        fn = spectrum_fn_for(s, cfg)
        fn(jax.numpy.asarray(h)).block_until_ready()  # compile
        t0 = time.perf_counter()
        fn(jax.numpy.asarray(h)).block_until_ready()
        warm = time.perf_counter() - t0
        m = normal_modes(s, h)
        f = np.asarray(m.frequencies_cm1)
        lab = lattice_character(s, m)["label"] if s.is_crystal else np.array(["internal"] * f.size)
        lattice = f[lab != "internal"]
        info[name] = {"structure": describe(s), "n_modes": int(f.size), "lowest_cm1": float(f.min()),
                      "n_imaginary": int((f < -1).sum()), "lattice_modes_cm1": np.round(np.sort(lattice), 1).tolist(),
                      "simulate_first_s": round(dt, 2), "simulate_warm_s": round(warm, 2)}
        results[name] = scores(meas, ds)
        spectra[name] = ds
        print(f"{name}: {describe(s)}; lowest {f.min():.1f} cm-1; lattice modes {np.round(np.sort(lattice), 0)}; "
              f"simulate {dt:.1f} s first / {warm:.2f} s warm", flush=True)

    # fallback without the crystal: the GFN2-xTB molecule with the external-mode model, centre/width fitted
    from hessfit.ins import to_dataset
    from hessfit.refine import fit_external_modes

    s, h = cases["molecule GFN2-xTB"]
    t0 = time.perf_counter()
    c, w, r, spec = fit_external_modes(s, h, meas, cfg, window_cm1=(50, 1800))
    name = f"molecule GFN2-xTB + external modes ({c:g} ± {w:g} cm-1, fitted)"
    ds = to_dataset(spec, cfg, name=s.name, formula=s.formula)
    results[name] = scores(meas, ds)
    spectra[name] = ds
    info[name] = {"centre_cm1": c, "width_cm1": w, "fit_s": round(time.perf_counter() - t0, 1),
                  "fit": "grid search, Spearman 50-1800 cm-1 on the measured grid"}
    print(f"{name}: fitted in {time.perf_counter() - t0:.0f} s", flush=True)

    # hessfit vs abinslib on the same phonopy force constants (orders 1-2)
    cfg2 = cfg.replace(max_order=2)
    t0 = time.perf_counter()
    ours = simulate(fc.structure, fc.hessian, cfg2)
    t_ours = time.perf_counter() - t0
    ours12 = (ours["order_1"].values + ours["order_2"].values) / fc.n_cells
    import tempfile

    import phonopy

    with tempfile.TemporaryDirectory() as tmp:  # Euphonic reads force constants, not force sets
        ph = phonopy.load(str(ph_file), log_level=0, produce_fc=True, is_nac=False)
        ph.save(Path(tmp) / "phonopy.yaml", settings={"force_constants": True})
        t0 = time.perf_counter()
        e, (a1, a2) = abinslib_orders12(tmp, "phonopy.yaml", qmesh, cfg2)
        t_ab = time.perf_counter() - t0
    from scipy.stats import spearmanr

    cross = {}
    for lo, hi in [(50, 1800), (20, 4000)]:
        sel = (e >= lo) & (e <= hi)
        cross[f"{lo}-{hi}"] = {"spearman": round(float(spearmanr(ours12[sel], (a1 + a2)[sel]).statistic), 5),
                               "max_abs_diff_rel_peak": float(np.abs(ours12 - a1 - a2)[sel].max() / (a1 + a2)[sel].max())}
    cross["area_ratio_order1"] = float(ours["order_1"].values.sum() / fc.n_cells / a1.sum())
    cross["area_ratio_order2"] = float(ours["order_2"].values.sum() / fc.n_cells / a2.sum())
    cross["time_hessfit_s"], cross["time_abinslib_s"] = round(t_ours, 2), round(t_ab, 2)
    print("hessfit vs abinslib (orders 1-2, same force constants):", cross, flush=True)

    print("\n| spectrum | " + " | ".join(results[next(iter(results))]) + " |")
    for name, row in results.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row.values()) + " |")
    (ROOT / "benchmarks/hexane_crystal.json").write_text(json.dumps(
        {"settings": {"instrument": cfg.instrument, "temperature_K": TEMPERATURE, "max_order": cfg.max_order,
                      "windows_cm1": WINDOWS, "grids": ["measured", "uniform 2 cm-1"]},
         "spearman": results, "info": info, "hessfit_vs_abinslib": cross}, indent=1))
    ext = next(k for k in spectra if "external modes" in k)
    plot(meas, spectra, f"crystal GFN2-xTB, {FINE_MESH[0]}x{FINE_MESH[1]}x{FINE_MESH[2]} q-mesh (interpolated)", ext)


def plot(meas, spectra, key, ext):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hessfit.compare._preprocess import preprocess

    show = ["molecule GFN2-xTB", key, ext]
    colors = {"molecule GFN2-xTB": "tab:blue", key: "tab:red", ext: "tab:green"}
    for fname, window, grid in (("hexane_crystal.png", (50, 1800), "measured"),
                                ("hexane_crystal_zoom.png", (50, 600), 1.0)):
        fig, ax = plt.subplots(figsize=(11, 5.5), layout="constrained")
        offset = 0.0
        p = preprocess(meas, spectra[show[0]], window_cm1=window, grid=grid)
        ax.plot(p.energy_cm1, p.measured, color="k", lw=1.2, label="measured TFXA")
        for k, name in enumerate(show):
            offset -= 1.1 * p.measured.max() if k == 0 else 0.8 * p.measured.max()
            q = preprocess(meas, spectra[name], window_cm1=window, grid=grid)
            sp = compare_spectra(meas, spectra[name], window_cm1=window, grid=grid)["spearman"]
            ax.plot(q.energy_cm1, q.calculated + offset, color=colors[name], lw=1.0,
                    label=f"{name} (Spearman {sp:.2f})")
            if name == key:
                lat = spectra[name]
                e = lat["energy"].values
                sel = (e >= window[0]) & (e <= window[1])
                higher = sum(lat[f"order_{o}"].values for o in range(3, 5))[sel]
                ax.fill_between(e[sel], offset, higher / q.record["normalize"]["calculated_divisor"] + offset,
                                color=colors[name], alpha=0.25, lw=0, label="crystal: orders 3–4 (wings, multi-phonon)")
        ax.set_xlim(*window)
        ax.set_yticks([])
        ax.set_xlabel("energy transfer (cm$^{-1}$)")
        ax.set_ylabel("S (area-normalised in the window, offset)")
        ax.set_title(f"n-hexane, TFXA, {TEMPERATURE:g} K, orders 1–4: isolated molecule vs crystal (periodic GFN2-xTB)")
        ax.legend(frameon=False, fontsize=9, loc="upper right")
        out = ROOT / "docs/images" / fname
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
        print("wrote", out)


if __name__ == "__main__":
    main()
