"""phonopy / Euphonic force constants → supercell Γ Hessian, checked against the force model that made them
and against Euphonic's own phonons at the commensurate q-points (an independent Fourier-sum path)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("phonopy")

from hessfit.errors import InputFormatError  # noqa: E402
from hessfit.modes import normal_modes  # noqa: E402
from hessfit.sources._phonopy import from_euphonic, read_phonopy  # noqa: E402

A = 3.0
K = 0.08


def spring_forces(positions, cell, masses_pattern, u):
    """Scalar nearest-neighbour springs (distance A) in a periodic orthorhombic cell: F = −H u."""
    n = len(positions)
    f = np.zeros((n, 3))
    lengths = np.diag(cell)
    for i, j in itertools.combinations(range(n), 2):
        d = positions[j] - positions[i]
        d -= np.round(d / lengths) * lengths
        if abs(np.linalg.norm(d) - A) < 0.1:
            f[i] += K * (u[j] - u[i])
            f[j] += K * (u[i] - u[j])
    return f


def make_dataset(folder, *, split=False, with_fc=False):
    """2-atom cell (H, D along x) of a simple-cubic spring lattice, 2×3×3 supercell, phonopy ± displacements."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    unit = PhonopyAtoms(symbols=["H", "H"], cell=np.diag([2 * A, A, A]), scaled_positions=[[0, 0, 0], [0.5, 0, 0]],
                        masses=[1.008, 2.014])
    ph = Phonopy(unit, supercell_matrix=np.diag([2, 3, 3]), primitive_matrix="P")
    ph.generate_displacements(distance=0.01, is_plusminus=True)
    ref = ph.supercell.positions
    forces = [spring_forces(ref, ph.supercell.cell, None, sc.positions - ref)
              for sc in ph.supercells_with_displacements]
    ph.forces = np.array(forces)
    if split:
        ph.save(folder / "phonopy_disp.yaml", settings={"force_sets": False, "displacements": True,
                                                        "force_constants": False})
        from phonopy.file_IO import write_FORCE_SETS

        write_FORCE_SETS(ph.dataset, filename=str(folder / "FORCE_SETS"))
    else:
        if with_fc:  # Euphonic reads force constants, not force sets
            ph.produce_force_constants()
        ph.save(folder / "phonopy_params.yaml", settings={"force_sets": True, "displacements": True,
                                                          "force_constants": with_fc})
    u = np.eye(3 * len(ref))
    h = -np.stack([spring_forces(ref, ph.supercell.cell, None, u[k].reshape(-1, 3)).ravel()
                   for k in range(3 * len(ref))])
    return h


def test_phonopy_files_give_the_model_force_constants(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    h_ref = make_dataset(tmp_path / "a")
    make_dataset(tmp_path / "b", split=True)
    for path in (tmp_path / "a" / "phonopy_params.yaml", tmp_path / "b" / "phonopy_disp.yaml", tmp_path / "b"):
        fc = read_phonopy(path)
        assert fc.structure.is_crystal and fc.structure.n_atoms == 36 and fc.n_cells == 18
        np.testing.assert_allclose(fc.hessian, h_ref, atol=1e-6)
        np.testing.assert_allclose(np.sort(fc.structure.masses)[[0, -1]], [1.008, 2.014])


def test_against_euphonic_at_commensurate_qpoints(tmp_path):
    pytest.importorskip("euphonic")
    from euphonic import ForceConstants

    make_dataset(tmp_path, with_fc=True)
    fc = read_phonopy(tmp_path / "phonopy_params.yaml")
    ours = np.sort(np.asarray(normal_modes(fc.structure, fc.hessian).frequencies_cm1))
    efc = ForceConstants.from_phonopy(path=str(tmp_path), summary_name="phonopy_params.yaml")
    qpts = np.array([(a / 2, b / 3, c / 3) for a in range(2) for b in range(3) for c in range(3)])
    modes = efc.calculate_qpoint_phonon_modes(qpts, asr="reciprocal")
    theirs = np.sort(modes.frequencies.to("1/cm").magnitude.ravel())[3:]  # drop the 3 acoustic Γ modes
    np.testing.assert_allclose(ours, theirs, atol=1e-6 * theirs.max())
    # folded onto the 2-atom cell: the Γ modes of the cell = Euphonic's optical modes at q = 0
    from hessfit.sources._phonopy import fold_to_cell
    from hessfit.structures import Structure

    cry = efc.crystal
    cell = Structure(np.ones(2, int), cry.atom_r @ cry.cell_vectors.to("angstrom").magnitude,
                     cry.atom_mass.to("amu").magnitude, cell=cry.cell_vectors.to("angstrom").magnitude)
    gamma = np.asarray(normal_modes(cell, fold_to_cell(fc, cell)).frequencies_cm1)
    np.testing.assert_allclose(gamma, np.sort(modes.frequencies.to("1/cm").magnitude[0])[3:], atol=1e-6 * gamma.max())
    # Euphonic's compact force constants unfolded by hessfit give the same supercell spectrum of modes
    unfolded = from_euphonic(efc)
    again = np.sort(np.asarray(normal_modes(unfolded.structure, unfolded.hessian).frequencies_cm1))
    np.testing.assert_allclose(again, ours, atol=1e-6 * ours.max())


def test_bad_phonopy_input_gives_one_line(tmp_path):
    make_dataset(tmp_path, split=True)
    (tmp_path / "FORCE_SETS").unlink()
    with pytest.raises(InputFormatError, match="no FORCE_SETS or FORCE_CONSTANTS"):
        read_phonopy(tmp_path / "phonopy_disp.yaml")
    with pytest.raises(InputFormatError, match="file not found"):
        read_phonopy(tmp_path / "phonopy_disp.yaml", force_sets=tmp_path / "nope")
    # FORCE_SETS of a different supercell (inconsistent atom counts)
    (tmp_path / "FORCE_SETS").write_text("10\n1\n\n1\n0.01 0 0\n" + "0 0 0\n" * 10)
    with pytest.raises(InputFormatError, match="phonopy could not load it"):
        read_phonopy(tmp_path / "phonopy_disp.yaml")


def test_order1_spectrum_against_abinslib_on_the_qpoint_mesh(tmp_path):
    """hessfit's Γ spectrum of the 2×3×3 supercell (÷ 18 cells) = abinslib's order 1 from Euphonic's modes on
    the commensurate 2×3×3 q-mesh (weights 1/18), Debye–Waller factor from the whole mesh, TOSCA back, 10 K.

    abinslib's displacement tensors use the q-point weights for A; the fundamentals are weighted here with
    the same weights and hessfit's cross sections, and broadened with the same exact Gaussians.
    """
    pytest.importorskip("abinslib")
    from abinslib.almost_isotropic_incoherent import calculate_almost_isotropic_incoherent_fundamentals
    from abinslib.displacements import Displacements
    from abinslib.util import calculate_indirect_q2
    from euphonic import ForceConstants, QpointPhononModes, Quantity

    from hessfit.ins import InsConfig, simulate
    from hessfit.structures._elements import cross_sections

    make_dataset(tmp_path, with_fc=True)
    fc = read_phonopy(tmp_path / "phonopy_params.yaml")
    cfg = InsConfig(instrument="tosca_back", temperature_k=10.0, max_order=1, e_max_cm1=800.0)
    ours = simulate(fc.structure, fc.hessian, cfg)["order_1"].values / fc.n_cells

    efc = ForceConstants.from_phonopy(path=str(tmp_path), summary_name="phonopy_params.yaml")
    qpts = np.array([(a / 2, b / 3, c / 3) for a in range(2) for b in range(3) for c in range(3)])
    m = efc.calculate_qpoint_phonon_modes(qpts, asr="reciprocal")
    f = m.frequencies.to("1/cm").magnitude.copy()
    f[np.abs(f) < 1.0] = 1e-3  # park the acoustic Γ modes (abinslib zeroes modes below 10 cm⁻¹)
    m = QpointPhononModes(m.crystal, m.qpts, Quantity(f, "1/cm"), m.eigenvectors, weights=np.full(18, 1 / 18))
    disp = Displacements.from_modes(m, Quantity(10.0, "K"), frequency_min=Quantity(10.0, "1/cm"))
    q2 = calculate_indirect_q2(m.frequencies, np.deg2rad(134.98885653282196), Quantity(32.0, "1/cm"))
    i1 = calculate_almost_isotropic_incoherent_fundamentals(disp, disp.to_atomic_displacements(), q2)
    xs = cross_sections(np.ones(2, int), m.crystal.atom_mass.to("amu").magnitude, "incoherent")
    sticks = (i1 @ xs) * m.weights[:, None]
    e = cfg.e_min_cm1 + (np.arange(cfg.n_bins) + 0.5) * cfg.bin_width_cm1
    keep = f > 10.0
    pos, wts = f[keep], sticks[keep]
    sig = 2.5 + 0.005 * pos + 1e-7 * pos**2
    ref = wts @ (np.exp(-0.5 * ((e[None, :] - pos[:, None]) / sig[:, None]) ** 2) / (np.sqrt(2 * np.pi) * sig[:, None]))
    np.testing.assert_allclose(ours, ref, atol=1e-6 * ref.max())


def test_interpolated_qmesh_supercell_matches_euphonic(tmp_path):
    """A 4×3×3 q-mesh from the 2×3×3 calculation (no new forces): Γ modes of the interpolated supercell = Euphonic's
    phonons at those q-points; on the calculated mesh the interpolation returns the calculated force constants."""
    pytest.importorskip("euphonic")
    from euphonic import ForceConstants

    from hessfit.sources._phonopy import interpolate_supercell

    make_dataset(tmp_path, with_fc=True)
    path = tmp_path / "phonopy_params.yaml"
    fc = interpolate_supercell(path, (4, 3, 3))
    assert fc.structure.n_atoms == 72 and fc.n_cells == 36
    ours = np.sort(np.asarray(normal_modes(fc.structure, fc.hessian).frequencies_cm1))
    efc = ForceConstants.from_phonopy(path=str(tmp_path), summary_name="phonopy_params.yaml")
    qpts = np.array([(a / 4, b / 3, c / 3) for a in range(4) for b in range(3) for c in range(3)])
    ref = efc.calculate_qpoint_phonon_modes(qpts, asr="reciprocal").frequencies.to("1/cm").magnitude.ravel()
    ref = np.sort(np.delete(ref, np.argsort(np.abs(ref))[:3]))
    np.testing.assert_allclose(ours, ref, atol=1e-5 * ref.max())
    same = interpolate_supercell(path, (2, 3, 3))
    direct = read_phonopy(path)
    np.testing.assert_allclose(np.sort(np.asarray(normal_modes(same.structure, same.hessian).frequencies_cm1)),
                               np.sort(np.asarray(normal_modes(direct.structure, direct.hessian).frequencies_cm1)),
                               atol=1e-8)


def test_real_triclinic_hexane_data_against_euphonic(tmp_path, data_dir):
    """The bundled periodic GFN2-xTB phonopy data of n-hexane (triclinic, 2×2×1): supercell Γ modes = Euphonic's
    phonons at the 4 commensurate q-points (the spectra are compared in benchmarks/hexane_crystal.py)."""
    pytest.importorskip("euphonic")
    import phonopy
    from euphonic import ForceConstants

    src = data_dir / "hexane/hexane_crystal_gfn2_phonopy_params.yaml"
    fc = read_phonopy(src)
    assert fc.n_cells == 4 and fc.structure.n_atoms == 80
    ph = phonopy.load(str(src), log_level=0, produce_fc=True, is_nac=False)
    ph.save(tmp_path / "phonopy.yaml", settings={"force_constants": True})
    efc = ForceConstants.from_phonopy(path=str(tmp_path), summary_name="phonopy.yaml")
    qpts = np.array([(a / 2, b / 2, 0.0) for a in range(2) for b in range(2)])
    ref = efc.calculate_qpoint_phonon_modes(qpts, asr="reciprocal").frequencies.to("1/cm").magnitude.ravel()
    ref = np.sort(np.delete(ref, np.argsort(np.abs(ref))[:3]))
    ours = np.sort(np.asarray(normal_modes(fc.structure, fc.hessian).frequencies_cm1))
    np.testing.assert_allclose(ours, ref, atol=2e-3)  # cm⁻¹ (Euphonic's ASR correction vs hessfit's projection)
    assert (ours < -1).sum() == 1  # the one imaginary librational mode at q ≠ 0 (data/hexane/README.md)
