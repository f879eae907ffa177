"""Structure and Hessian readers: round trips, real formats, and one clear error per bad input."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hessfit.errors import HessfitError, InputFormatError, ValidationError
from hessfit.structures import (HessfitWarning, Structure, read_hessian, read_structure, read_structures,
                                validate_hessian, write_hessian, write_xyz)
from hessfit.units import HESSIAN_UNITS

WATER_XYZ = "3\nwater\nO 0.0 0.0 0.1173\nH 0.0 0.7572 -0.4692\nH 0.0 -0.7572 -0.4692\n"


def test_xyz_reads_and_masses(tmp_path):
    p = tmp_path / "w.xyz"
    p.write_text(WATER_XYZ)
    s = read_structure(p)
    assert s.n_atoms == 3 and s.formula == "H2O"
    assert s.masses[0] == pytest.approx(15.999, abs=1e-3) and s.masses[1] == pytest.approx(1.008, abs=1e-3)
    assert s.deuterated().masses[1] == pytest.approx(2.01410178)
    assert s.deuterated([2]).symbols == ["O", "H", "D"]
    assert s.with_isotopes({0: 17.999}).masses[0] == 17.999


def test_extxyz_and_other_ase_formats(tmp_path):
    import ase.io

    atoms = read_structure(_write(tmp_path, "w.xyz", WATER_XYZ)).to_ase()
    for name in ("w.extxyz", "w.pdb", "w.json"):
        ase.io.write(tmp_path / name, atoms)
        s = read_structure(tmp_path / name)
        assert s.n_atoms == 3 and np.allclose(s.positions, atoms.positions, atol=1e-3)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_multiframe_xyz_round_trip(tmp_path, qm9_molecule):
    s, _ = qm9_molecule
    write_xyz(tmp_path / "two.xyz", [s, s.deuterated()])
    frames = read_structures(tmp_path / "two.xyz")
    assert len(frames) == 2 and np.allclose(frames[1].positions, s.positions, atol=1e-8)
    assert frames[1].symbols.count("D") == 16
    with pytest.raises(HessfitError, match="exists"):
        write_xyz(tmp_path / "two.xyz", s)


@pytest.mark.parametrize("text,match", [
    ("", "empty"),
    ("3\nwater\nO 0 0 0\nH 0 0 1\n", "truncated"),
    ("x\n", "atom count"),
    ("2\n\nO 0 0 0\nQq 0 0 1\n", "unknown element 'Qq'"),
    ("2\n\nO 0 0 0\nH 0 zero 1\n", "not numbers"),
    ("2\n\nO 0 0 0\nH 0 0\n", "expected 'element x y z'"),
    ("2\n\nO 0 0 0\nH 0 0 nan\n", "NaN"),
])
def test_malformed_xyz_one_line_errors(tmp_path, text, match):
    p = _write(tmp_path, "bad.xyz", text)
    with pytest.raises(InputFormatError, match=match) as info:
        read_structure(p)
    assert str(p) in str(info.value) and "\n" not in str(info.value)


def test_missing_file():
    with pytest.raises(InputFormatError, match="not found"):
        read_structure("/nonexistent/mol.xyz")


@pytest.mark.parametrize("unit", list(HESSIAN_UNITS))
def test_npy_units(tmp_path, qm9_molecule, unit):
    _, h = qm9_molecule
    np.save(tmp_path / "h.npy", h / HESSIAN_UNITS[unit])
    assert np.allclose(read_hessian(tmp_path / "h.npy", units=unit), h, rtol=1e-12)


def test_unit_factors_against_reference():
    assert HESSIAN_UNITS["hartree/bohr^2"] == pytest.approx(97.1736, rel=1e-6)
    assert HESSIAN_UNITS["kcal/mol/A^2"] == pytest.approx(0.0433641, rel=1e-6)
    assert HESSIAN_UNITS["mdyn/A"] == pytest.approx(6.241509, rel=1e-6)


@pytest.mark.parametrize("suffix", [".fchk", ".hess", ".npy"])
def test_hessian_round_trips(tmp_path, qm9_molecule, suffix):
    s, h = qm9_molecule
    path = write_hessian(tmp_path / f"h{suffix}", h, structure=s)
    assert np.allclose(read_hessian(path, n_atoms=s.n_atoms), h, rtol=1e-7, atol=1e-8)
    with pytest.raises(HessfitError, match="exists"):
        write_hessian(path, h, structure=s)


def test_fchk_structure_and_orca_structure(tmp_path, qm9_molecule):
    from hessfit.structures.readers.fchk import read_fchk
    from hessfit.structures.readers.orca import read_orca_hess

    s, h = qm9_molecule
    for suffix, reader in ((".fchk", read_fchk), (".hess", read_orca_hess)):
        out = reader(write_hessian(tmp_path / f"x{suffix}", h, structure=s))
        assert np.array_equal(out["numbers"], s.numbers)
        assert np.allclose(out["positions"], s.positions, atol=1e-7)


def test_gaussian_log_block(tmp_path):
    """A hand-written 'Force constants in Cartesian coordinates' block (Gaussian's lower-triangle layout, D exponents)."""
    h = np.array([[0.5, -0.1, 0.0], [-0.1, 0.4, 0.02], [0.0, 0.02, 0.3]]) / 3  # padded to 3N×3N below
    big = np.zeros((6, 6))
    big[:3, :3] = h
    big[3:, 3:] = h
    big[:3, 3:] = big[3:, :3] = -h
    lines = [" Force constants in Cartesian coordinates: "]
    for c0 in range(0, 6, 5):
        cols = list(range(c0, min(c0 + 5, 6)))
        lines.append("                " + "".join(f"{c + 1:14d}" for c in cols))
        for r in range(c0, 6):
            vals = [big[r, c] for c in cols if c <= r]
            lines.append(f"{r + 1:6d} " + "".join(f"{v:14.6E}".replace("E", "D") for v in vals))
    lines.append(" Leave Link  716")
    p = _write(tmp_path, "g.log", "\n".join(lines) + "\n")
    assert np.allclose(read_hessian(p), big * HESSIAN_UNITS["hartree/bohr^2"], rtol=1e-6)


def test_hessian_validation_errors(qm9_molecule):
    s, h = qm9_molecule
    with pytest.raises(ValidationError, match="square"):
        validate_hessian(h[:, :-1])
    with pytest.raises(ValidationError, match="structure has 25 atoms"):
        validate_hessian(h[:72, :72], n_atoms=25)
    bad = h.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        validate_hessian(bad)
    asym = h.copy()
    asym[0, 1] += 5.0
    with pytest.raises(ValidationError, match="asymmetric"):
        validate_hessian(asym)
    slight = h.copy()
    slight[0, 1] += 1e-4
    with pytest.warns(HessfitWarning, match="symmetrised"):
        out = validate_hessian(slight)
    assert np.allclose(out, out.T)


def test_unknown_hessian_format(tmp_path):
    p = _write(tmp_path, "h.xyz2", "1")
    with pytest.raises(InputFormatError, match="unknown Hessian format"):
        read_hessian(p)


_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_settings
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".xyz", ".fchk", ".hess", ".npy", ".log", ".txt"]))
def test_fuzz_random_bytes_only_raise_hessfit_errors(tmp_path, data, suffix):
    p = tmp_path / f"fuzz{suffix}"
    p.write_bytes(data)
    reader = read_structure if suffix == ".xyz" else read_hessian
    try:
        reader(p)
    except HessfitError as exc:
        assert "\n" not in str(exc)


@_settings
@given(cut=st.integers(min_value=0, max_value=10_000), suffix=st.sampled_from([".fchk", ".hess", ".xyz"]))
def test_fuzz_truncated_real_files(tmp_path, qm9_molecule, cut, suffix):
    s, h = qm9_molecule
    full = tmp_path / f"full{suffix}"
    if not full.exists():
        (write_xyz(full, s) if suffix == ".xyz" else write_hessian(full, h, structure=s))
    text = full.read_text()
    p = tmp_path / f"cut{suffix}"
    p.write_text(text[: cut % (len(text) + 1)])
    try:
        out = read_structure(p) if suffix == ".xyz" else read_hessian(p, n_atoms=s.n_atoms)
    except HessfitError:
        return
    if suffix == ".xyz":
        assert isinstance(out, Structure)
    else:
        assert out.shape == h.shape and np.all(np.isfinite(out))
