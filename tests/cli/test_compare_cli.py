"""`hessfit compare` end to end on the bundled hexane data, and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hessfit.cli import main

HEX = Path(__file__).resolve().parents[2] / "data" / "hexane"


def test_compare_command_runs(tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(["compare", str(HEX / "hexane_rdkit_mmff.xyz"), str(HEX / "hexane_tfxa.dat"),
               "--hessian", str(HEX / "hexane_rdkit_mmff_hessian_mmff94.npy"), "--instrument", "tfxa",
               "--orders", "1", "--e-max", "2000", "--animate", "5,7", "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "Spearman" in text and "P1" in text and "window 50-2000 cm-1" in text
    for name in ("assignment.csv", "spectra.nc", "overlay.png", "modes.molden", "modes_animation.xyz"):
        assert (out / name).exists()
    # refuses to overwrite before doing any work
    rc = main(["compare", str(HEX / "hexane_rdkit_mmff.xyz"), str(HEX / "hexane_tfxa.dat"),
               "--hessian", str(HEX / "hexane_rdkit_mmff_hessian_mmff94.npy"), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "file exists" in err and err.count("\n") == 1


@pytest.mark.parametrize("extra, message", [
    (["--hessian", "x.npy", "--optimize"], "--optimize needs --source"),
    (["--energy-units", "meV", "--hessian", "x.npy"], "look like cm-1"),
    (["--source", "mmff", "--hessian", "x.npy"], "either --hessian FILE or --source NAME"),
    (["--background", "spline", "--hessian", "x.npy"], "background must be one of"),
    (["--animate", "a,b", "--hessian", "x.npy"], "comma-separated 1-based mode numbers"),
])
def test_compare_errors_are_one_line(tmp_path, capsys, extra, message):
    rc = main(["compare", str(HEX / "hexane_rdkit_mmff.xyz"), str(HEX / "hexane_tfxa.dat"), *extra,
               "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and message in err and err.startswith("error: ") and err.count("\n") == 1, err


def test_missing_spectrum_file(tmp_path, capsys):
    rc = main(["compare", str(HEX / "hexane_rdkit_mmff.xyz"), str(tmp_path / "none.dat"), "--hessian", "x.npy",
               "-o", str(tmp_path / "o")])
    assert rc == 1 and "file not found" in capsys.readouterr().err


def test_source_option_uses_hessfit_sources(hexane):
    """--source NAME goes through hessfit.sources.get_source (MMFF94 here; skipped without RDKit)."""
    pytest.importorskip("rdkit")
    import numpy as np

    from hessfit.cli._common import get_hessian

    s, h_bundled = hexane
    _, h, origin = get_hessian(s, hessian=None, source="mmff", hessian_units="eV/A^2")
    assert "MMFF94" in origin
    np.testing.assert_allclose(h, h_bundled, atol=0.02)     # bundled: 0.001 Å steps; source: its own default
