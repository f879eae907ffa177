"""CLI: hessfit optimize, hessfit dataset build / info (errors are one line)."""

import numpy as np
import pytest

from hessfit.cli import main
from hessfit.structures import load_dataset, read_structure, write_xyz

from tests.sources.conftest import needs_rdkit


@pytest.fixture
def distorted_xyz(tmp_path, ethanol):
    rng = np.random.default_rng(3)
    s = type(ethanol).from_numbers(ethanol.numbers, ethanol.positions + rng.normal(scale=0.05, size=(9, 3)),
                                   name="ethanol")
    write_xyz(tmp_path / "eth.xyz", s)
    return tmp_path / "eth.xyz"


@needs_rdkit
def test_optimize_command(distorted_xyz, tmp_path, capsys):
    out = tmp_path / "opt.xyz"
    assert main(["optimize", str(distorted_xyz), "--method", "mmff", "-o", str(out), "--fmax", "0.005"]) == 0
    msg = capsys.readouterr().out
    assert "optimised with MMFF94 (BFGS)" in msg and "final max force" in msg
    assert read_structure(out).n_atoms == 9
    # output exists: one-line error naming the fix
    assert main(["optimize", str(distorted_xyz), "--method", "mmff", "-o", str(out)]) == 1
    assert capsys.readouterr().err.strip().endswith("file exists; pass --overwrite (overwrite=True) to replace it")


@needs_rdkit
def test_optimize_not_converged_and_bad_option(distorted_xyz, tmp_path, capsys):
    out = tmp_path / "o.xyz"
    assert main(["optimize", str(distorted_xyz), "-m", "mmff", "-o", str(out), "--steps", "1", "--fmax", "1e-5"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not converged in 1 steps" in err and out.exists()
    assert main(["optimize", str(distorted_xyz), "-m", "mmff", "-o", str(out), "--basis", "sto-3g"]) == 1
    assert "source 'mmff' has no option(s) basis" in capsys.readouterr().err


def test_optimize_cell_of_a_crystal(tmp_path, capsys, distorted_xyz):
    """--cell with --electronic-supercell relaxes diamond's cell (written as extended XYZ); a molecule, a bad
    supercell string and a source without a stress are one-line errors."""
    pytest.importorskip("tblite")
    from hessfit.structures import Structure

    fcc = 3.70 * np.array([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    write_xyz(tmp_path / "d.xyz", Structure(np.array([6, 6]), np.array([[0, 0, 0], [0.25, 0.25, 0.25]]) @ fcc,
                                            np.full(2, 12.011), name="diamond", cell=fcc))
    out = tmp_path / "d_opt.xyz"
    assert main(["optimize", str(tmp_path / "d.xyz"), "-o", str(out), "--cell", "--electronic-supercell",
                 "2x2x2"]) == 0
    assert "cell relaxed: volume 12.66 -> 11.9" in capsys.readouterr().out
    assert abs(np.linalg.det(read_structure(out).cell)) == pytest.approx(11.95, abs=0.05)
    for args, msg in (([str(distorted_xyz), "--cell"], "not a periodic structure"),
                      ([str(tmp_path / "d.xyz"), "--electronic-supercell", "2x2"], "expected N1xN2xN3"),
                      ([str(tmp_path / "d.xyz"), "--cell", "-m", "dft"], "gives no stress")):
        assert main(["optimize", *args, "-o", str(tmp_path / "x.xyz"), "--overwrite"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and msg in err


@needs_rdkit
def test_dataset_build_and_info(tmp_path, capsys):
    smi = tmp_path / "m.smi"
    smi.write_text("O water\nCO methanol\nXX bad\n")
    out = tmp_path / "d.npz"
    assert main(["dataset", "build", str(smi), "-m", "mmff", "-o", str(out), "--workers", "0", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "2 added, 1 failed, 0 skipped" in text and "failures and their reasons" in text
    assert len(load_dataset(out)) == 2
    assert main(["dataset", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "2 molecules" in info and "atoms per molecule: 3–6" in info and "MMFF94 (2)" in info
    assert "elements (atoms): H 6, C 1, O 2" in info and "1 failures recorded" in info
    assert main(["dataset", "info", str(tmp_path / "missing.npz")]) == 1
    assert capsys.readouterr().err.strip().endswith("missing.npz: file not found")


@needs_rdkit
def test_dataset_build_warns_about_unoptimised_geometries(tmp_path, distorted_xyz, capsys):
    d = tmp_path / "in"
    d.mkdir()
    distorted_xyz.rename(d / "eth.xyz")
    out = tmp_path / "d.npz"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["dataset", "build", str(d), "-m", "mmff", "-o", str(out), "--workers", "0", "--no-progress",
                     "--no-optimize"]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 molecules were added at geometries with a maximum force above 0.05 eV/Å" in err
    assert load_dataset(out).extra["max_force_eV_A"][0] > 0.05
