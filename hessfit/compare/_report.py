"""Write a comparison: CSV assignment table, NetCDF of both spectra, overlay PNG, Molden/xyz/PNG of the modes.

Contract::

    paths = write_report(result, "outdir")     # dict name → Path; never overwrites unless overwrite=True
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr

from hessfit.structures import check_writable


def write_table_csv(path: str | Path, rows: Sequence[dict], *, overwrite: bool = False) -> Path:
    """Write rows (dicts with the same keys) as CSV; floats with 6 significant digits, NaN as empty."""
    path = check_writable(path, overwrite)
    rows = list(rows)
    keys = list(rows[0]) if rows else ["measured", "calculated"]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(v, float) and not np.isfinite(v) else
                            f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return path


def comparison_dataset(result) -> xr.Dataset:
    """Both spectra, the peaks, modes and scores as one xarray Dataset (units in ``attrs``)."""
    prep = result.prepared
    m = result.measured
    sim = result.simulated
    a = result.assignment
    cm = {"units": "cm-1"}
    data = {
        "measured": ("energy", prep.measured, {"units": "normalised", "long_name": "measured, processed"}),
        "calculated": ("energy", prep.calculated, {"units": "normalised", "long_name": "calculated on common grid"}),
        "background": ("energy", prep.background, {"units": "normalised", "long_name": "subtracted background"}),
        "measured_raw": ("energy_measured", np.asarray(m.intensity), {"units": "arb.", "long_name": "measured as read"}),
    }
    if prep.measured_error is not None:
        data["measured_error"] = ("energy", prep.measured_error, {"units": "normalised", "long_name": "1 sigma"})
    if m.error is not None:
        data["measured_raw_error"] = ("energy_measured", np.asarray(m.error), {"units": "arb.", "long_name": "1 sigma"})
    for v in sim.data_vars:
        if "energy" in sim[v].dims:
            data[f"simulated_{v}"] = ("energy_simulated", np.asarray(sim[v].values),
                                      dict(sim[v].attrs, long_name=f"simulated {v}"))
    data["frequency"] = ("mode", np.asarray(result.frequencies_cm1), cm)
    data["mode_description"] = ("mode", np.array(result.descriptions, dtype=object).astype(str))
    data["measured_peak_energy"] = ("measured_peak", a.measured.energy_cm1, cm)
    data["measured_peak_prominence"] = ("measured_peak", a.measured.prominence, {"units": "normalised"})
    data["calculated_peak_energy"] = ("calculated_peak", a.calculated.energy_cm1, cm)
    data["calculated_peak_prominence"] = ("calculated_peak", a.calculated.prominence, {"units": "normalised"})
    partner = np.full(len(a.measured), -1, dtype=int)
    partner[a.pairs[:, 0]] = a.pairs[:, 1]
    data["measured_peak_partner"] = ("measured_peak", partner,
                                     {"long_name": "index of the assigned calculated peak, -1 if none"})
    coords = {
        "energy": ("energy", prep.energy_cm1, {"units": "cm-1", "long_name": "common comparison grid"}),
        "energy_measured": ("energy_measured", np.asarray(m.energy_cm1), cm),
        "energy_simulated": ("energy_simulated", np.asarray(sim["energy"].values), dict(sim["energy"].attrs)),
        "mode": ("mode", np.arange(1, len(result.frequencies_cm1) + 1)),
        "measured_peak": ("measured_peak", np.array(a.measured.labels, dtype=str)),
        "calculated_peak": ("calculated_peak", np.array(a.calculated.labels, dtype=str)),
    }
    attrs = {f"score_{k}": float(v) for k, v in result.scores.items() if isinstance(v, (int, float))}
    attrs.update(window_cm1=json.dumps(result.scores["window_cm1"]), measured_source=str(m.source),
                 settings=json.dumps(result.settings, default=str), molecule=str(sim.attrs.get("molecule", "")),
                 instrument=str(sim.attrs.get("instrument", "")), software="hessfit")
    return xr.Dataset(data, coords=coords, attrs=attrs)


#: files `write_report` always writes (others depend on the modes drawn).
REPORT_FILES = ("assignment.csv", "spectra.nc", "overlay.png", "modes.molden", "scores.json")


def check_report_writable(outdir: str | Path, overwrite: bool = False) -> Path:
    """Refuse (ConfigError) an output directory that already holds a report, unless ``overwrite``."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        from hessfit.errors import ConfigError

        raise ConfigError(f"{outdir}: exists and is not a directory; choose another -o/--output")
    for name in REPORT_FILES:
        if outdir.is_dir():
            check_writable(outdir / name, overwrite)
    return outdir


def write_report(result, outdir: str | Path, *, overwrite: bool = False, animate_modes: Sequence[int] | None = None,
                 mode_pngs: str | Sequence[int] = "assigned", inset_max_cm1: float | None = 1000.0) -> dict[str, Path]:
    """Write every output of a comparison into ``outdir``.

    Files: ``assignment.csv``, ``spectra.nc``, ``overlay.png``, ``modes.molden``, ``modes_animation.xyz``
    (modes ``animate_modes``, default the main mode of each assigned peak), ``mode_<k>.png`` for each mode in
    ``mode_pngs`` ('assigned' = main modes of assigned peaks, or a list of 1-based mode numbers), and
    ``scores.json``.

    Returns:
        dict name → Path of what was written.
    """
    import matplotlib.pyplot as plt

    from hessfit.compare._plot import plot_comparison
    from hessfit.compare._viewers import write_molden, write_mode_animation, write_mode_png

    outdir = check_report_writable(outdir, overwrite)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = result.table()
    paths = {"table": write_table_csv(outdir / "assignment.csv", rows, overwrite=overwrite)}
    nc = check_writable(outdir / "spectra.nc", overwrite)
    comparison_dataset(result).to_netcdf(nc, engine="h5netcdf")
    paths["netcdf"] = nc
    png = check_writable(outdir / "overlay.png", overwrite)
    ax = plot_comparison(result, inset_max_cm1=inset_max_cm1)
    ax.figure.savefig(png, dpi=150)
    plt.close(ax.figure)
    paths["overlay"] = png
    paths["molden"] = write_molden(outdir / "modes.molden", result.structure, result.modes, overwrite=overwrite)
    assigned = []
    for r in rows:
        if r["measured"] and r["calculated"] and r["main_mode"] and "+" not in r["main_mode"]:
            k = int(r["main_mode"].lstrip("ν"))
            if k not in assigned:
                assigned.append(k)
    anim = list(animate_modes) if animate_modes is not None else assigned
    if anim:
        paths["animation"] = write_mode_animation(outdir / "modes_animation.xyz", result.structure, result.modes,
                                                  anim, overwrite=overwrite)
    pngs = assigned if isinstance(mode_pngs, str) and mode_pngs == "assigned" else list(mode_pngs)
    for k in pngs:
        title = f"ν{k} {result.frequencies_cm1[k - 1]:.0f} cm$^{{-1}}$: {result.descriptions[k - 1].split(';')[0]}"
        paths[f"mode_{k}"] = write_mode_png(outdir / f"mode_{k}.png", result.structure, result.modes, k,
                                            title=title, overwrite=overwrite)
    sj = check_writable(outdir / "scores.json", overwrite)
    sj.write_text(json.dumps({"scores": result.scores, "settings": result.settings}, indent=2, default=str))
    paths["scores"] = sj
    return paths
