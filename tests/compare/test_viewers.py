"""Molden, xyz animation and displacement-arrow PNG writers."""

from __future__ import annotations

import numpy as np
import pytest

from hessfit.compare import plot_mode, write_mode_animation, write_mode_png, write_molden
from hessfit.errors import ConfigError
from hessfit.structures import read_structures
from hessfit.units import BOHR_A


def test_molden_has_every_mode_and_round_trips(tmp_path, hexane, hexane_modes):
    s, _ = hexane
    p = write_molden(tmp_path / "m.molden", s, hexane_modes)
    lines = p.read_text().splitlines()
    for tag in ("[Molden Format]", "[Atoms] Angs", "[FREQ]", "[FR-COORD]", "[FR-NORM-COORD]"):
        assert tag in lines
    i = lines.index("[FREQ]")
    freqs = np.array([float(x) for x in lines[i + 1:i + 55]])
    np.testing.assert_allclose(freqs, np.asarray(hexane_modes.frequencies_cm1), atol=1e-4)
    assert lines[i + 55] == "[FR-COORD]"
    xyz = np.array([[float(v) for v in ln.split()[1:]] for ln in lines[i + 56:i + 76]])
    np.testing.assert_allclose(xyz * BOHR_A, s.positions, atol=1e-6)
    assert sum(ln.startswith("vibration") for ln in lines) == 54
    k = lines.index("vibration     7")
    d = np.array([[float(v) for v in ln.split()] for ln in lines[k + 1:k + 21]])
    np.testing.assert_allclose(d, np.asarray(hexane_modes.cartesian_displacements)[6], atol=1e-7)
    with pytest.raises(ConfigError, match="file exists"):
        write_molden(p, s, hexane_modes)


def test_animation_frames(tmp_path, hexane, hexane_modes):
    s, _ = hexane
    p = write_mode_animation(tmp_path / "a.xyz", s, hexane_modes, [1, 50], n_frames=8, amplitude_angstrom=0.25)
    frames = read_structures(p)
    assert len(frames) == 16
    np.testing.assert_allclose(frames[0].positions, s.positions, atol=1e-6)      # sin(0) = 0
    moved = np.linalg.norm(frames[2].positions - s.positions, axis=1)            # quarter period: full amplitude
    assert moved.max() == pytest.approx(0.25, abs=1e-5)
    with pytest.raises(ConfigError, match="modes are numbered 1..54"):
        write_mode_animation(tmp_path / "b.xyz", s, hexane_modes, [55])


def test_mode_png(tmp_path, hexane, hexane_modes):
    s, _ = hexane
    p = write_mode_png(tmp_path / "m.png", s, hexane_modes, 5)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = plot_mode(s, hexane_modes, 5)
    assert "mode 5" in ax.get_title()
