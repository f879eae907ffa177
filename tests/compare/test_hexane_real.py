"""The real n-hexane TFXA spectrum against the bundled MMFF94 Hessian, end to end (analysis, report files)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import xarray as xr

from hessfit.compare import comparison_dataset, compare_spectra, write_report
from hessfit.errors import ConfigError


def test_scores_and_assignment_on_real_data(hexane_result):
    r = hexane_result
    s = r.scores
    # numbers documented in docs/compare.md (MMFF94, TFXA σ, orders 1–2, 10 K, measured grid 50–3500, no background)
    assert s["window_cm1"] == [50.0, 3500.0] and s["n_points"] == 721
    assert s["spearman"] == pytest.approx(0.30, abs=0.03)
    assert s["pearson"] == pytest.approx(0.31, abs=0.03)
    a = r.assignment
    assert len(a.measured) >= 14 and a.n_assigned >= 12
    # the strong low-energy bands are assigned within ~3σ (MMFF positions are 10–35 cm⁻¹ off)
    low = a.pairs[a.measured.energy_cm1[a.pairs[:, 0]] < 500]
    assert len(low) >= 6 and np.all(np.abs(a.shift_cm1[: len(low)]) < 35)
    rows = {row["measured"]: row for row in r.table() if row["measured"]}
    ch = max(rows.values(), key=lambda row: row["measured_cm1"])
    assert 2900 < ch["measured_cm1"] < 3000 and ch["main_mode_description"].startswith("C–H stretch")
    methyl = [row for row in rows.values() if 230 < row["measured_cm1"] < 260]
    assert methyl and "CH3 torsion" in methyl[0]["main_mode_description"]


def test_background_options_change_the_scores_as_documented(hexane_tfxa, hexane_result):
    ds = hexane_result.simulated
    base = compare_spectra(hexane_tfxa, ds)
    als = compare_spectra(hexane_tfxa, ds, background="baseline")
    # removing the smooth multiphonon/lattice background moves W₁ a lot (455 → ~140 cm⁻¹)
    assert als["wasserstein_cm1"] < 0.5 * base["wasserstein_cm1"]
    assert als["preprocessing"]["background"]["fraction_of_area_removed"] > 0.5


def test_report_files(tmp_path, hexane_result):
    out = tmp_path / "out"
    paths = write_report(hexane_result, out, animate_modes=[5])
    for name in ("assignment.csv", "spectra.nc", "overlay.png", "modes.molden", "modes_animation.xyz", "scores.json"):
        assert (out / name).exists(), name
    assert any(k.startswith("mode_") for k in paths)
    with open(out / "assignment.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["measured"] == "P1" and rows[0]["calculated"].startswith("M") and "ν" in rows[0]["modes"]
    with xr.open_dataset(out / "spectra.nc", engine="h5netcdf") as ds:
        assert {"measured", "calculated", "measured_raw", "simulated_total", "frequency"} <= set(ds.data_vars)
        assert ds["energy"].attrs["units"] == "cm-1" and ds.sizes["mode"] == 54
        assert ds.attrs["score_spearman"] == pytest.approx(hexane_result.scores["spearman"])
        assert json.loads(ds.attrs["settings"])["compare"]["window_cm1"] == [50.0, 3500.0]
    assert json.loads((out / "scores.json").read_text())["scores"]["n_points"] == 721
    with pytest.raises(ConfigError, match="file exists"):
        write_report(hexane_result, out)
    assert comparison_dataset(hexane_result).sizes["measured_peak"] == len(hexane_result.assignment.measured)


def test_overlay_plot_layouts(hexane_result):
    import matplotlib.pyplot as plt

    from hessfit.compare import plot_comparison
    from hessfit.errors import ConfigError

    ax = plot_comparison(hexane_result)
    assert len(ax.child_axes) == 1 and "Spearman 0.30" in ax.get_title()
    labels = {t.get_text() for t in ax.texts}
    assert {"P1", "M1"} <= labels
    plt.close(ax.figure)
    ax = plot_comparison(hexane_result, zoom="panel")
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_xlim()[1] == 1000
    plt.close(ax.figure)
    with pytest.raises(ConfigError, match="zoom"):
        plot_comparison(hexane_result, zoom="side")
