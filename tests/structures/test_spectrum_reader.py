"""Reading measured INS spectra: formats, units, banks, cleaning, bad files, fuzzing."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hessfit.errors import ConfigError, HessfitError, InputFormatError, ValidationError
from hessfit.structures import HessfitWarning
from hessfit.structures.readers.spectrum import MeasuredSpectrum, read_spectrum
from hessfit.units import CM1_PER_MEV

HEXANE = Path(__file__).resolve().parents[2] / "data" / "hexane" / "hexane_tfxa.dat"
E = np.linspace(20.0, 4000.0, 50)
Y = 1.0 + np.exp(-0.5 * ((E - 800.0) / 20.0) ** 2)


def _write(tmp_path, text, name="s.dat"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _one_line(exc_info):
    msg = str(exc_info.value)
    assert "\n" not in msg and msg
    return msg


# ----------------------------------------------------------------------------- the real file

def test_hexane_tfxa_reads_as_documented():
    s = read_spectrum(HEXANE)
    ref = np.loadtxt(HEXANE)
    assert s.n_points == 794 == ref.shape[0]
    np.testing.assert_array_equal(s.energy_cm1, ref[:, 0])
    np.testing.assert_array_equal(s.intensity, ref[:, 1])
    np.testing.assert_array_equal(s.error, ref[:, 2])
    assert s.energy_cm1[0] == pytest.approx(20.29187) and s.energy_cm1[-1] == pytest.approx(3998.738)
    steps = np.diff(s.energy_cm1) / s.energy_cm1[:-1]                   # non-uniform: 2 % below 118, 0.5 % above 120
    np.testing.assert_allclose(steps[s.energy_cm1[:-1] < 118], 0.02, atol=2e-4)
    np.testing.assert_allclose(steps[s.energy_cm1[:-1] >= 120], 0.005, atol=2e-4)
    assert np.median(s.intensity[s.energy_cm1 > 2000]) == pytest.approx(1.0, abs=0.15)   # baseline ≈ 1
    assert s.energy_cm1[np.argmax(s.intensity)] < 500                    # strongest bands below 500 cm-1
    assert s.metadata["n_banks"] == 1 and "Braden" in s.metadata["header"]


# ----------------------------------------------------------------------------- layouts

@pytest.mark.parametrize("sep", [" ", "\t", ",", ";", " , "])
@pytest.mark.parametrize("with_error", [False, True])
def test_separators_and_columns(tmp_path, sep, with_error):
    cols = [E, Y, 0.01 * Y] if with_error else [E, Y]
    body = "\n".join(sep.join(f"{v:.8g}" for v in row) for row in zip(*cols))
    p = _write(tmp_path, "# comment line\n! another comment\nenergy intensity error\n" + body + "\n\n")
    s = read_spectrum(p)
    np.testing.assert_allclose(s.energy_cm1, E, rtol=1e-7)
    np.testing.assert_allclose(s.intensity, Y, rtol=1e-7)
    assert (s.error is not None) == with_error


def test_mev_conversion_and_unit_checks(tmp_path):
    e_mev = E / CM1_PER_MEV
    p = _write(tmp_path, "\n".join(f"{a} {b}" for a, b in zip(e_mev, Y)))
    s = read_spectrum(p, energy_units="meV")
    np.testing.assert_allclose(s.energy_cm1, E, rtol=1e-12)
    with pytest.raises(ConfigError, match="look like meV") as exc:
        read_spectrum(p, energy_units="cm-1")
    _one_line(exc)
    assert read_spectrum(p, energy_units="cm-1", check_units=False).energy_cm1[-1] == pytest.approx(e_mev[-1])
    q = _write(tmp_path, "\n".join(f"{a} {b}" for a, b in zip(E, Y)), "cm.dat")
    with pytest.raises(ConfigError, match="look like cm-1"):
        read_spectrum(q, energy_units="meV")
    with pytest.raises(ConfigError, match="unknown energy unit"):
        read_spectrum(q, energy_units="THz")


def test_sorts_and_drops_nans_with_warning(tmp_path):
    rows = [f"{a} {b} 0.1" for a, b in zip(E[::-1], Y[::-1])]
    rows[3] = f"{E[-4]} nan 0.1"
    rows[7] = f"{E[-8]} 1.0 inf"
    p = _write(tmp_path, "\n".join(rows))
    with pytest.warns(HessfitWarning, match="dropped 2 row"):
        s = read_spectrum(p)
    assert s.n_points == len(E) - 2 and np.all(np.diff(s.energy_cm1) > 0)
    assert s.metadata["n_dropped_nan"] == 2


def _mantid_v2(blocks, header="# X , Y , E"):
    out = [header]
    for k, (e, y, err) in enumerate(blocks, start=1):
        out.append(str(k))
        out += [f"{a:.6f},{b:.6f},{c:.6f}" for a, b, c in zip(e, y, err)]
    return "\n".join(out) + "\n"


def test_mantid_saveascii2_banks(tmp_path):
    e_mev = E / CM1_PER_MEV
    y2 = 2.0 * Y
    p = _write(tmp_path, _mantid_v2([(e_mev, Y, 0.03 + 0 * Y), (e_mev, y2, 0.04 + 0 * Y)]), "m.txt")
    with pytest.raises(ConfigError, match="2 banks") as exc:
        read_spectrum(p, energy_units="meV")
    _one_line(exc)
    b1 = read_spectrum(p, energy_units="meV", bank=1)
    np.testing.assert_allclose(b1.intensity, y2, atol=1e-6)
    tot = read_spectrum(p, energy_units="meV", bank="sum")
    np.testing.assert_allclose(tot.intensity, 3.0 * Y, atol=2e-6)
    np.testing.assert_allclose(tot.error, 0.05, atol=1e-9)                # errors add in quadrature
    assert tot.metadata["bank"] == "sum" and tot.metadata["n_banks"] == 2
    with pytest.raises(ConfigError, match="bank 5 requested"):
        read_spectrum(p, energy_units="meV", bank=5)
    with pytest.raises(ConfigError, match="bank must be"):
        read_spectrum(p, energy_units="meV", bank="forward")


def test_mantid_dx_column_is_ignored(tmp_path):
    rows = "\n".join(f"{a:.5f},{b:.5f},0.01,0.5" for a, b in zip(E, Y))
    s = read_spectrum(_write(tmp_path, "# X , Y , E , DX\n" + rows))
    assert s.metadata["format"] == "mantid-ascii" and s.metadata["n_banks"] == 1
    np.testing.assert_allclose(s.error, 0.01)


def test_mantid_saveascii_v1_side_by_side_and_different_grids(tmp_path):
    rows = "\n".join(f"{a:.5f} , {b:.5f} , 0.01 , {2 * b:.5f} , 0.02" for a, b in zip(E, Y))
    p = _write(tmp_path, "# X , Y0 , E0 , Y1 , E1\n" + rows)
    s0 = read_spectrum(p, bank=0)
    s1 = read_spectrum(p, bank="sum")
    assert s0.metadata["format"] == "mantid-ascii-v1"
    np.testing.assert_allclose(s1.intensity, 3 * s0.intensity, rtol=1e-5)
    # blank-line separated blocks on different grids are summed on bank 0's grid, with a warning
    e2 = E + 7.0
    q = _write(tmp_path, "\n".join(f"{a} {b}" for a, b in zip(E, Y)) + "\n\n" +
               "\n".join(f"{a} {b}" for a, b in zip(e2, Y)), "blocks.dat")
    with pytest.warns(HessfitWarning, match="different energy grids"):
        s = read_spectrum(q, bank="sum")
    assert s.energy_cm1[0] >= e2[0] and s.energy_cm1[-1] <= E[-1]


# ----------------------------------------------------------------------------- bad input: one-line errors

BAD = {
    "empty": ("", InputFormatError, "no data rows"),
    "comments only": ("# a\n# b\n", InputFormatError, "no data rows"),
    "one column": ("1.0\n2.5\n3.5\n", InputFormatError, "one column"),
    "ragged / truncated": ("100 1 0.1\n200 2 0.1\n300 3\n", InputFormatError, "line 3: 2 columns"),
    "text inside data": ("100 1\n200 2\nhello world\n300 3\n", InputFormatError, "line 3: not numbers"),
    "too many columns": ("100 1 2 3\n200 2 3 4\n300 3 4 5\n", InputFormatError, "4 columns"),
    "constant": ("\n".join(f"{e} 2.0" for e in (1000, 1100, 1200, 1300)), ValidationError, "constant"),
    "two points": ("1000 1\n2000 2\n", ValidationError, "need at least 3"),
    "duplicate energy": ("1000 1\n1000 2\n2000 3\n", ValidationError, "duplicate energy 1000"),
    "negative error": ("1000 1 -0.1\n1500 2 0.1\n2000 3 0.1\n", ValidationError, "negative errors"),
    "all nan": ("1000 nan\n1500 nan\n2000 nan\n", ValidationError, "no finite data"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_give_one_line_errors(tmp_path, name):
    text, exc_type, match = BAD[name]
    p = _write(tmp_path, text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HessfitWarning)
        with pytest.raises(exc_type, match=match) as exc:
            read_spectrum(p)
    msg = _one_line(exc)
    assert str(p) in msg


def test_missing_binary_and_directory(tmp_path):
    with pytest.raises(InputFormatError, match="file not found"):
        read_spectrum(tmp_path / "nope.dat")
    with pytest.raises(InputFormatError, match="is a directory"):
        read_spectrum(tmp_path)
    b = tmp_path / "b.dat"
    b.write_bytes(b"\x00\x01\x02binary" * 10)
    with pytest.raises(InputFormatError, match="binary file"):
        read_spectrum(b)


def test_measured_spectrum_validates_and_windows():
    s = MeasuredSpectrum(E, Y, None, source="mem")
    w = s.window(100.0, 1000.0)
    assert w.energy_cm1.min() >= 100 and w.energy_cm1.max() <= 1000 and w.error is None
    with pytest.raises(ValidationError, match="strictly increasing"):
        MeasuredSpectrum(E[::-1], Y)
    with pytest.raises(ValidationError, match="constant"):
        MeasuredSpectrum(E, np.ones_like(E))
    with pytest.raises(ValidationError, match="errors for"):
        MeasuredSpectrum(E, Y, Y[:3])
    assert not s.energy_cm1.flags.writeable


# ----------------------------------------------------------------------------- fuzzing

VALID = HEXANE.read_text()


def _check_invariants(s):
    assert isinstance(s, MeasuredSpectrum)
    assert s.n_points >= 3 and np.all(np.diff(s.energy_cm1) > 0)
    assert np.all(np.isfinite(s.intensity)) and np.ptp(s.intensity) > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=len(VALID)), junk=st.text(max_size=30))
def test_fuzz_truncated_real_file(tmp_path, cut, junk):
    p = tmp_path / "fuzz.dat"
    p.write_text(VALID[:cut] + junk)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HessfitWarning)
        try:
            s = read_spectrum(p, check_units=False)
        except HessfitError as exc:
            assert "\n" not in str(exc)
        else:
            _check_invariants(s)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=300),
                      st.lists(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4)),
                                        min_size=0, max_size=4), max_size=12)))
def test_fuzz_random_content(tmp_path, data):
    p = tmp_path / "fuzz.dat"
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text("\n".join(" ".join(str(v) for v in row) for row in data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HessfitWarning)
        try:
            s = read_spectrum(p, check_units=False, bank="sum")
        except HessfitError as exc:
            assert "\n" not in str(exc)
        else:
            _check_invariants(s)
