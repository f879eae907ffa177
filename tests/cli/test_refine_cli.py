"""hessfit refine on the command line: the real hexane spectrum end to end."""

import json

import numpy as np
import pytest
import xarray as xr
from scipy.stats import spearmanr


def test_cli_refine_on_real_hexane(tmp_path, data_dir):
    from hessfit.cli import main

    out = tmp_path / "hx"
    args = ["refine", str(data_dir / "hexane/hexane_rdkit_mmff.xyz"), str(data_dir / "hexane/hexane_tfxa.dat"),
            "--hessian", str(data_dir / "hexane/hexane_rdkit_mmff_hessian_mmff94.npy"), "--instrument", "tfxa",
            "--config", "global", "--stages", "1", "--steps", "5", "--quiet", "-o", str(out)]
    assert main(args) == 0
    for name in ("hessian_refined.npy", "summary.json", "spectra.nc", "force_constants.nc", "force_constants_bonds.csv",
                 "force_constants_angles.csv", "modes.csv", "scale_factors.csv", "loss_history.png", "overlay.png",
                 "recipe.toml", "assignment_after.csv"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_measured_peaks"] >= 10
    # the reported scores are the Spearman correlations of the written spectra (scipy, independently)
    ds = xr.load_dataset(out / "spectra.nc", engine="h5netcdf")
    model, y, held = ds["model_after"].values, ds["measured"].values, ds["heldout"].values.astype(bool)
    assert held.any() and not held.all()
    assert summary["spearman_fitted_after"] == pytest.approx(spearmanr(model[~held], y[~held]).statistic, abs=1e-9)
    assert summary["spearman_heldout_after"] == pytest.approx(spearmanr(model[held], y[held]).statistic, abs=1e-9)
    h = np.load(out / "hessian_refined.npy")
    assert h.shape == (60, 60) and np.allclose(h, h.T)
    assert main(args) == 1  # refuses to overwrite without --overwrite
