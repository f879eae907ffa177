"""Registry, result type, missing optional backends."""

import sys

import numpy as np
import pytest

from hessfit.errors import ConfigError, MissingDependencyError, ValidationError
from hessfit.sources import HessianResult, get_source, source_names

from .conftest import needs_rdkit, needs_xtb


def test_registry_names():
    assert source_names() == ["auto", "dft", "file", "mmff", "nequip", "xtb"]


def test_unknown_source_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown Hessian source 'gaussian'; use one of auto, dft, file, mmff"):
        get_source("gaussian")


@needs_rdkit
def test_unknown_option_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"source 'mmff' has no option\(s\) basis; valid options: charge"):
        get_source("mmff", basis="6-31G*")


@needs_rdkit
def test_none_options_are_dropped():
    assert get_source("mmff", charge=None).charge == 0


@pytest.mark.parametrize("name, modules, extra", [
    ("xtb", ["tblite", "tblite.interface"], "xtb"),
    ("mmff", ["rdkit", "rdkit.Chem", "rdkit.Chem.rdDetermineBonds"], "mmff"),
    ("dft", ["pyscf"], "dft"),
])
def test_missing_backend_names_the_extra(monkeypatch, name, modules, extra):
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)  # makes `import m` raise ImportError
    with pytest.raises(MissingDependencyError, match=rf"pip install 'hessfit\[{extra}\]'"):
        get_source(name)


def test_missing_backend_is_one_line_in_the_cli(monkeypatch, tmp_path, water, capsys):
    from hessfit.cli import main
    from hessfit.structures import write_xyz

    write_xyz(tmp_path / "w.xyz", water)
    monkeypatch.setitem(sys.modules, "tblite", None)
    monkeypatch.setitem(sys.modules, "tblite.interface", None)
    assert main(["optimize", str(tmp_path / "w.xyz"), "-o", str(tmp_path / "o.xyz"), "--method", "xtb"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("error: the xtb source (GFN-xTB) needs the optional package 'tblite'")
    assert err.endswith("pip install 'hessfit[xtb]'")


def test_result_validates_and_freezes_metadata(water):
    h = np.eye(9)
    r = HessianResult(hessian=h, structure=water, metadata={"source": "x", "level_of_theory": "y"})
    assert r.level_of_theory == "y" and r.source == "x"
    with pytest.raises(TypeError):
        r.metadata["source"] = "z"
    with pytest.raises(ValidationError, match="structure has 3 atoms"):
        HessianResult(hessian=np.eye(6), structure=water, metadata={"source": "x", "level_of_theory": "y"})
    with pytest.raises(ConfigError, match="lacks"):
        HessianResult(hessian=h, structure=water, metadata={"source": "x"})


@needs_xtb
def test_xtb_bad_method():
    with pytest.raises(ConfigError, match="unknown xTB method 'GFN3'"):
        get_source("xtb", method="GFN3")
