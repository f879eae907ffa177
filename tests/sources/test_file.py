"""The file source: round trips through every writable format, a real Gaussian .fchk, geometry checks."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from hessfit.errors import ConfigError, InputFormatError, ValidationError
from hessfit.sources import get_source
from hessfit.structures import HessfitWarning, Structure, write_hessian
from hessfit.units import HESSIAN_UNITS

from ._reference import frequencies

DATA = Path(__file__).resolve().parents[1] / "data" / "sources"



def _spring_hessian(s: Structure) -> np.ndarray:
    """A symmetric Hessian obeying the sum rule: unit springs between all atom pairs closer than 1.6 Å."""
    n = s.n_atoms
    h = np.zeros((3 * n, 3 * n))
    for i in range(n):
        for j in range(i + 1, n):
            d = s.positions[i] - s.positions[j]
            r = np.linalg.norm(d)
            if r < 1.6:
                k = 30.0 * np.outer(d, d) / r**2
                for a, b, sgn in ((i, i, 1), (j, j, 1), (i, j, -1), (j, i, -1)):
                    h[3 * a:3 * a + 3, 3 * b:3 * b + 3] += sgn * k
    return h


@pytest.mark.parametrize("suffix, units", [(".npy", None), (".npy", "hartree/bohr^2"), (".fchk", None),
                                           (".hess", None)])
def test_round_trip(tmp_path, ethanol, suffix, units):
    h = _spring_hessian(ethanol)
    path = tmp_path / f"h{suffix}"
    write_hessian(path, h, structure=ethanol, units=units or "eV/A^2")
    res = get_source("file", path=str(path), units=units).hessian(ethanol)
    np.testing.assert_allclose(res.hessian, h, rtol=1e-7, atol=1e-7)
    assert res.metadata["source"] == "file" and res.metadata["path"] == str(path)
    assert res.structure.n_atoms == ethanol.n_atoms


def test_text_matrix_with_units(tmp_path, water):
    h = _spring_hessian(water)
    np.savetxt(tmp_path / "h.txt", h / HESSIAN_UNITS["kcal/mol/A^2"])
    res = get_source("file", path=str(tmp_path / "h.txt"), units="kcal/mol/A^2", level="MP2/cc-pVTZ").hessian(water)
    np.testing.assert_allclose(res.hessian, h, rtol=1e-9)
    assert res.level_of_theory == "MP2/cc-pVTZ"


def test_real_gaussian_fchk_methanol():
    """cclib's ch3oh-freq.fchk (Gaussian 09, B3LYP/6-31G(d)), sections trimmed; geometry from the file."""
    res = get_source("file", path=str(DATA / "ch3oh-freq.fchk")).load()
    s = res.structure
    assert s.numbers.tolist() == [6, 8, 1, 1, 1, 1]
    np.testing.assert_allclose(s.masses, [12.0, 15.9949146, 1.00782504, 1.00782504, 1.00782504, 1.00782504])
    np.testing.assert_allclose(s.positions[0], np.array([1.25230261, -0.0368685569, 1.88972613e-5]) * 0.529177210903,
                               rtol=1e-8)
    sums = res.hessian.reshape(18, 6, 3).sum(axis=1)
    assert np.abs(sums).max() < 1e-3 * np.abs(res.hessian).max()  # translational sum rule of a real Hessian
    f = frequencies(s, res.hessian)
    ref = np.loadtxt(DATA / "ch3oh-freq_pyscf_b3lyp_631gs_cm1.txt")
    np.testing.assert_allclose(f, ref, atol=3.0)


def test_fchk_with_another_frame_warns_and_uses_the_file_geometry(tmp_path, water):
    h = _spring_hessian(water)
    write_hessian(tmp_path / "w.fchk", h, structure=water)
    moved = Structure.from_numbers(water.numbers, water.positions + 0.5, name="water")
    with pytest.warns(HessfitWarning, match="differs from water by up to 0.5 Å"):
        res = get_source("file", path=str(tmp_path / "w.fchk")).hessian(moved)
    np.testing.assert_allclose(res.structure.positions, water.positions, atol=1e-7)


def test_fchk_with_other_atoms_is_refused(tmp_path, water, ethanol):
    write_hessian(tmp_path / "e.fchk", _spring_hessian(ethanol), structure=ethanol)
    with pytest.raises(ValidationError, match=r"the file's atoms \(C2H6O\) differ from water"):
        get_source("file", path=str(tmp_path / "e.fchk")).hessian(water)


def test_npy_of_the_wrong_size(tmp_path, water, ethanol):
    np.save(tmp_path / "h.npy", _spring_hessian(ethanol))
    with pytest.raises(ValidationError, match="structure has 3 atoms"):
        get_source("file", path=str(tmp_path / "h.npy")).hessian(water)


def test_matrix_without_structure(tmp_path, water):
    np.save(tmp_path / "h.npy", _spring_hessian(water))
    with pytest.raises(ConfigError, match="holds no geometry; pass the structure"):
        get_source("file", path=str(tmp_path / "h.npy")).load()


def test_missing_path_option_and_file():
    with pytest.raises(ConfigError, match="the file source needs a path"):
        get_source("file")
    with pytest.raises(InputFormatError, match="file not found"):
        get_source("file", path="/nonexistent/h.npy").hessian(Structure.from_numbers([1, 1], [[0, 0, 0], [0, 0, .7]]))


def test_no_forces(water):
    with pytest.raises(ConfigError, match="source 'file' gives no forces"):
        get_source("file", path="x.npy").energy_forces(water)


def test_raw_directory_source(tmp_path, water, ethanol):
    from hessfit.structures.readers.raw_dir import write_raw_entry

    for s in (water, ethanol):
        write_raw_entry(tmp_path, s.name, s, _spring_hessian(s))
    src = get_source("file", path=str(tmp_path))
    for s in (water, ethanol):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # same geometry: no warning
            res = src.hessian(s)
        np.testing.assert_allclose(res.hessian, _spring_hessian(s), rtol=1e-10, atol=1e-10)
    with pytest.raises(ConfigError, match="holds 2 molecules"):
        src.load()


def _gaussian_log_block(h_hartree_bohr2: np.ndarray) -> str:
    """Gaussian's '#p freq' layout: lower triangle in blocks of 5 columns, Fortran D exponents."""
    n = h_hartree_bohr2.shape[0]
    lines = [" Force constants in Cartesian coordinates: "]
    for c0 in range(0, n, 5):
        cols = range(c0, min(c0 + 5, n))
        lines.append("      " + "".join(f"{c + 1:14d}" for c in cols))
        for r in range(c0, n):
            vals = [f"{h_hartree_bohr2[r, c]:14.6E}".replace("E", "D") for c in cols if c <= r]
            lines.append(f"{r + 1:7d}" + "".join(vals))
    lines.append(" FormGI is forming the generalized inverse of G from B-inverse, IUseBI=4.")
    return "\n".join(lines) + "\n"


def test_gaussian_log_layout(tmp_path, ethanol):
    """Hand-built sample in Gaussian's layout (27 coordinates → 6 column blocks); 7 significant digits."""
    h = _spring_hessian(ethanol)
    text = " Entering Link 1\n" + _gaussian_log_block(h / HESSIAN_UNITS["hartree/bohr^2"]) + " Normal termination\n"
    (tmp_path / "eth.log").write_text(text)
    res = get_source("file", path=str(tmp_path / "eth.log")).hessian(ethanol)
    np.testing.assert_allclose(res.hessian, h, rtol=1e-6, atol=1e-6 * np.abs(h).max())
