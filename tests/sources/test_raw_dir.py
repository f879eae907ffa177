"""Reader for the raw/<name>.xyz + raw/hessian_<name>.npy (Hartree/Bohr²) layout."""

import numpy as np
import pytest

from hessfit.errors import InputFormatError
from hessfit.structures.readers.raw_dir import raw_dir, raw_dir_names, read_raw_entry, write_raw_entry
from hessfit.units import BOHR_A, HARTREE_EV


def test_round_trip_and_units(tmp_path, water):
    h = np.arange(81, dtype=float).reshape(9, 9)
    h = h + h.T
    raw = write_raw_entry(tmp_path, "w1", water, h)
    assert raw == tmp_path / "raw"
    stored = np.load(raw / "hessian_w1.npy")
    np.testing.assert_allclose(stored * HARTREE_EV / BOHR_A**2, h)  # file holds Hartree/Bohr²
    d = read_raw_entry(tmp_path, "w1")
    np.testing.assert_allclose(d["hessian"], h, rtol=1e-12)
    np.testing.assert_allclose(d["positions"], water.positions, atol=1e-8)
    assert d["numbers"].tolist() == [8, 1, 1]
    assert read_raw_entry(tmp_path / "raw", "w1")["name"] == "w1"  # ROOT/raw also accepted


def test_han_et_al_conversion_factor(tmp_path, water):
    """INS_molecule's load_data.py converts with 27.2114079527 / 0.529177249²; CODATA differs by < 1e-6."""
    write_raw_entry(tmp_path, "w", water, np.eye(9))
    stored = np.load(tmp_path / "raw" / "hessian_w.npy")
    np.testing.assert_allclose(stored * 27.2114079527 / 0.529177249**2, np.eye(9), rtol=1e-6)


def test_names_sorted_or_from_data_list(tmp_path, water):
    for name in ("b", "a", "c"):
        write_raw_entry(tmp_path, name, water, np.eye(9))
    (tmp_path / "raw" / "orphan.xyz").write_text((tmp_path / "raw" / "a.xyz").read_text())  # no Hessian: not listed
    assert raw_dir_names(tmp_path) == ["a", "b", "c"]
    (tmp_path / "data_list.txt").write_text("c\na\n")
    assert raw_dir_names(tmp_path) == ["c", "a"]


def test_errors(tmp_path, water, ethanol):
    with pytest.raises(InputFormatError, match="not a directory"):
        raw_dir(tmp_path / "nope")
    with pytest.raises(InputFormatError, match="no raw/ folder and no hessian_<name>.npy"):
        raw_dir(tmp_path)
    write_raw_entry(tmp_path, "w", water, np.eye(9))
    with pytest.raises(InputFormatError, match=r"x.xyz: file not found \(raw layout needs x.xyz and hessian_x.npy\)"):
        read_raw_entry(tmp_path, "x")
    np.save(tmp_path / "raw" / "hessian_w.npy", np.eye(27))
    with pytest.raises(InputFormatError, match=r"shape \(27, 27\), but w.xyz has 3 atoms"):
        read_raw_entry(tmp_path, "w")
