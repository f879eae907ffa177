"""CLI: `hessfit modes` and `hessfit spectrum` end to end, and one-line errors without tracebacks."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from hessfit.cli import main

MOL = "data/qm9/qm9_100001.xyz"
HESS = "data/qm9/qm9_100001_hessian.npy"


def test_modes_table(capsys, data_dir):
    assert main(["modes", str(data_dir / "qm9/qm9_100001.xyz"), "--hessian", str(data_dir / "qm9/qm9_100001_hessian.npy")]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out if line.strip() and line.split()[0].isdigit()]
    assert len(rows) == 69
    cm, mev = float(rows[-1][1]), float(rows[-1][2])
    assert mev == pytest.approx(cm / 8.065544, abs=2e-3)


def test_spectrum_writes_netcdf_and_plot(tmp_path, data_dir):
    out, png = tmp_path / "s.nc", tmp_path / "s.png"
    rc = main(["spectrum", str(data_dir / "qm9/qm9_100001.xyz"), "--hessian", str(data_dir / "qm9/qm9_100001_hessian.npy"),
               "--instrument", "vision", "--orders", "2", "-o", str(out), "--plot", str(png)])
    assert rc == 0 and png.stat().st_size > 10_000
    ds = xr.open_dataset(out, engine="h5netcdf")
    assert set(["order_1", "order_2", "total"]) <= set(ds.data_vars) and ds.attrs["instrument"] == "vision"
    assert np.allclose(ds["total"], ds["order_1"] + ds["order_2"])
    # refuses to overwrite without --overwrite
    assert main(["spectrum", str(data_dir / "qm9/qm9_100001.xyz"), "--hessian",
                 str(data_dir / "qm9/qm9_100001_hessian.npy"), "-o", str(out)]) == 1


@pytest.mark.parametrize("args,message", [
    (["spectrum", "missing.xyz", "--hessian", HESS], "file not found"),
    (["spectrum", MOL, "--hessian", "data/qm9/qm9_100003_hessian.npy"], "structure has 25 atoms"),
    (["spectrum", MOL, "--hessian", HESS, "--instrument", "nosuch"], "unknown instrument"),
    (["spectrum", MOL, "--hessian", HESS, "--orders", "11"], "max_order"),
    (["modes", MOL, "--hessian", HESS, "--hessian-units", "furlongs"], "unknown Hessian unit"),
])
def test_errors_are_one_line_without_traceback(tmp_path, args, message, data_dir):
    proc = subprocess.run([sys.executable, "-m", "hessfit.cli", *args, "-o", str(tmp_path / "x.nc")]
                          if args[0] == "spectrum" else [sys.executable, "-m", "hessfit.cli", *args],
                          capture_output=True, text=True, cwd=data_dir.parent)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0]
