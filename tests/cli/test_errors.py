"""Every exception that reaches the CLI is one line (exit 1); --debug, anywhere on the line, prints the traceback."""

import subprocess
import sys

import pytest

import hessfit.cli._common as common
from hessfit.cli import main
from hessfit.errors import ValidationError

MOL = "data/qm9/qm9_100001.xyz"
HESS = "data/qm9/qm9_100001_hessian.npy"


def _boom(exc):
    def load_structure(*args, **kwargs):
        raise exc

    return load_structure


@pytest.mark.parametrize("exc, prefix", [
    (ZeroDivisionError("float division by zero"), "internal error: ZeroDivisionError: float division by zero"),
    (ValidationError("mol.xyz: 3 masses for 4 atoms"), "error: mol.xyz: 3 masses for 4 atoms"),
    (PermissionError(13, "Permission denied"), "error: PermissionError: [Errno 13] Permission denied"),
    (KeyError("multi\nline"), "internal error: KeyError: 'multi\\nline'"),
])
def test_exceptions_are_one_line(monkeypatch, capsys, data_dir, exc, prefix):
    monkeypatch.setattr(common, "load_structure", _boom(exc))
    rc = main(["modes", str(data_dir.parent / MOL), "--hessian", str(data_dir.parent / HESS)])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(prefix), err
    assert ("--debug" in err) == prefix.startswith("internal error")


def test_debug_anywhere_prints_the_traceback(monkeypatch, capsys, data_dir):
    monkeypatch.setattr(common, "load_structure", _boom(ZeroDivisionError("float division by zero")))
    rc = main(["modes", str(data_dir.parent / MOL), "--debug", "--hessian", str(data_dir.parent / HESS)])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback (most recent call last)" in err and "in load_structure" in err
    assert err.strip().endswith("ZeroDivisionError: float division by zero")


def test_usage_errors_and_help_still_work(capsys):
    assert main(["modes"]) == 2 and "Missing argument" in capsys.readouterr().err
    assert main(["modes", "--help"]) == 0 and "--thermo" in capsys.readouterr().out


def test_internal_error_in_a_fresh_process(data_dir, tmp_path):
    """A real non-hessfit failure from the scientific stack, through the installed entry point."""
    bad = tmp_path / "h.npy"
    import numpy as np

    np.save(bad, np.array(["not", "numbers"]))
    proc = subprocess.run([sys.executable, "-m", "hessfit.cli", "modes", MOL, "--hessian", str(bad)],
                          capture_output=True, text=True, cwd=data_dir.parent)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith(("error: ", "internal error: ")), proc.stderr
