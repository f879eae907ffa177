"""CLI: crystals in `hessfit modes` / `hessfit spectrum` (phonopy files, periodic structure + Hessian) and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from hessfit.cli import main

pytest.importorskip("phonopy")
PH = "hexane/hexane_crystal_gfn2_phonopy_params.yaml"

def test_modes_says_crystal_or_molecule(capsys, data_dir):
    assert main(["modes", str(data_dir / PH)]) == 0
    out = capsys.readouterr().out
    assert "crystal: 80 atoms, 4 molecules" in out and "3 acoustic translations removed" in out
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert len(rows) == 3 * 80 - 3
    assert main(["modes", str(data_dir / "hexane/hexane_rdkit_mmff.xyz"), "--hessian",
                 str(data_dir / "hexane/hexane_rdkit_mmff_hessian_mmff94.npy")]) == 0
    assert "# molecule: 20 atoms (C6H14)" in capsys.readouterr().out

def test_spectrum_of_a_periodic_structure_with_a_hessian(tmp_path, capsys, data_dir):
    from hessfit.sources._phonopy import fold_to_cell, read_phonopy
    from hessfit.structures import read_structure

    cell = data_dir / "hexane/hexane_crystal_gfn2_opt.extxyz"
    h = fold_to_cell(read_phonopy(data_dir / PH), read_structure(cell))
    np.save(tmp_path / "h.npy", h)
    rc = main(["spectrum", str(cell), "--hessian", str(tmp_path / "h.npy"), "--instrument", "tfxa", "--orders", "3",
               "-o", str(tmp_path / "s.dat")])
    assert rc == 0
    assert "crystal: 20 atoms, 1 molecules" in capsys.readouterr().out
    assert np.loadtxt(tmp_path / "s.dat").shape == (4000, 2)

def test_phonopy_without_forces_is_one_line(tmp_path, capsys, data_dir):
    src = (data_dir / PH).read_text()
    cut = src.index("displacements:")  # structure only: no displacement dataset, no forces
    (tmp_path / "phonopy.yaml").write_text(src[:cut])
    rc = main(["modes", str(tmp_path / "phonopy.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "no FORCE_SETS or FORCE_CONSTANTS" in err[0] and "Traceback" not in err[0]


def test_refine_a_phonopy_crystal_uses_its_force_constants(tmp_path, capsys, data_dir):
    """refine takes the file's force constants as the seed (not the network on the supercell as a cluster), adds
    the intermolecular scale, and the assignment table says what each mode is."""
    import csv

    rc = main(["refine", str(data_dir / PH), str(data_dir / "hexane/hexane_tfxa.dat"), "--instrument", "tfxa",
               "--recipe", "global", "--e-min", "50", "--e-max", "1800", "--stages", "1", "--steps", "3",
               "--accept-worse", "--quiet", "-o", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert rc == 0 and "crystal: 80 atoms, 4 molecules" in out
    assert "seed Hessian from phonopy force constants (4 cells)" in out and "intermolecular scale" in out
    with open(tmp_path / "r" / "modes.csv") as f:
        characters = {row["character"] for row in csv.DictReader(f)}
    assert {"internal", "librational", "translational"} <= characters
