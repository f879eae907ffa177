"""Normal modes for molecular viewers: Molden files, xyz animations and PNGs with displacement arrows.

Contract::

    write_molden("modes.molden", structure, modes)                     # all modes (Jmol, Avogadro, ChemCraft)
    write_mode_animation("mode7.xyz", structure, modes, [7])           # multi-frame xyz, 1-based mode numbers
    ax = plot_mode(structure, modes, 7)                                # 2-D projection with arrows

Mode numbers are 1-based, as the ``mode`` coordinate of `hessfit.ins.simulate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from hessfit.errors import ConfigError
from hessfit.structures import check_writable
from hessfit.units import BOHR_A

#: element → matplotlib colour for `plot_mode` (CPK-like).
ELEMENT_COLOURS = {"H": "#d9d9d9", "D": "#bfbfbf", "C": "#404040", "N": "#3050f8", "O": "#ff0d0d", "F": "#90e050",
                   "S": "#e6c619", "P": "#ff8000", "Cl": "#1ff01f", "Br": "#a62929", "I": "#940094"}


def _check_modes(modes, numbers: Sequence[int]) -> list[int]:
    n = int(np.asarray(modes.frequencies_cm1).shape[0])
    out = []
    for k in numbers:
        if not 1 <= int(k) <= n:
            raise ConfigError(f"mode {k} does not exist; modes are numbered 1..{n}")
        out.append(int(k))
    return out


def write_molden(path: str | Path, structure, modes, *, overwrite: bool = False, title: str = "") -> Path:
    """Write a Molden file with the geometry and every normal mode ([FREQ], [FR-COORD], [FR-NORM-COORD]).

    Displacements are the Cartesian patterns (``modes.cartesian_displacements``, unit length); coordinates in Bohr.
    Imaginary modes are written with negative frequencies (Molden's convention).
    """
    path = check_writable(path, overwrite)
    sym = structure.symbols
    pos_bohr = np.asarray(structure.positions) / BOHR_A
    freqs = np.asarray(modes.frequencies_cm1)
    disp = np.asarray(modes.cartesian_displacements)
    lines = ["[Molden Format]", "[Title]", title or f"{structure.name} normal modes (hessfit)", "[Atoms] Angs"]
    for i, (s, z, r) in enumerate(zip(sym, structure.numbers, structure.positions)):
        lines.append(f"{s if s != 'D' else 'H':<2s} {i + 1:5d} {int(z):3d} {r[0]:14.8f} {r[1]:14.8f} {r[2]:14.8f}")
    lines.append("[FREQ]")
    lines += [f"{f:12.4f}" for f in freqs]
    lines.append("[FR-COORD]")
    for s, r in zip(sym, pos_bohr):
        lines.append(f"{s if s != 'D' else 'H':<2s} {r[0]:14.8f} {r[1]:14.8f} {r[2]:14.8f}")
    lines.append("[FR-NORM-COORD]")
    for k, d in enumerate(disp):
        lines.append(f"vibration {k + 1:5d}")
        lines += [f"{v[0]:12.8f} {v[1]:12.8f} {v[2]:12.8f}" for v in d]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_mode_animation(path: str | Path, structure, modes, mode_numbers: Sequence[int], *, n_frames: int = 20,
                         amplitude_angstrom: float = 0.3, overwrite: bool = False) -> Path:
    """Multi-frame xyz: one sinusoidal period per mode (``n_frames`` frames each), modes one after another.

    The largest atomic displacement reaches ``amplitude_angstrom``. Comment lines name the mode and frame.
    """
    numbers = _check_modes(modes, mode_numbers)
    if n_frames < 2 or amplitude_angstrom <= 0:
        raise ConfigError("write_mode_animation: n_frames must be ≥ 2 and amplitude_angstrom > 0")
    path = check_writable(path, overwrite)
    sym = structure.symbols
    pos = np.asarray(structure.positions)
    disp = np.asarray(modes.cartesian_displacements)
    freqs = np.asarray(modes.frequencies_cm1)
    lines = []
    for k in numbers:
        d = disp[k - 1]
        d = d / max(np.linalg.norm(d, axis=1).max(), 1e-12) * amplitude_angstrom
        for f in range(n_frames):
            x = pos + np.sin(2.0 * np.pi * f / n_frames) * d
            lines.append(str(len(sym)))
            lines.append(f"mode {k} {freqs[k - 1]:.1f} cm-1 frame {f + 1}/{n_frames}")
            lines += [f"{s:<2s} {r[0]:12.6f} {r[1]:12.6f} {r[2]:12.6f}" for s, r in zip(sym, x)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _projection(positions, tilt_deg: float = 25.0):
    """Orthonormal (3, 2) viewing basis: the largest principal axis, and the second tilted by ``tilt_deg`` towards the
    third so that atoms stacked along the viewing direction (e.g. CH2 hydrogens) do not hide each other."""
    c = positions - positions.mean(0)
    if len(c) < 3:
        return np.eye(3)[:, :2]
    _, _, vt = np.linalg.svd(c, full_matrices=True)
    t = np.deg2rad(tilt_deg)
    return np.stack([vt[0], np.cos(t) * vt[1] + np.sin(t) * vt[2]], axis=1)


def plot_mode(structure, modes, mode_number: int, *, ax=None, scale_angstrom: float = 0.8, title: str | None = None):
    """Draw the molecule projected on its best plane with arrows for the displacements of mode ``mode_number``.

    The longest arrow is ``scale_angstrom`` long. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    from hessfit.structures import bonds_from_radii

    (k,) = _check_modes(modes, [mode_number])
    pos = np.asarray(structure.positions)
    basis = _projection(pos)
    xy = (pos - pos.mean(0)) @ basis
    d = np.asarray(modes.cartesian_displacements)[k - 1]
    d = d / max(np.linalg.norm(d, axis=1).max(), 1e-12) * scale_angstrom
    dxy = d @ basis
    depth = (pos - pos.mean(0)) @ np.cross(basis[:, 0], basis[:, 1])
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4), layout="constrained")
    for i, j in bonds_from_radii(structure):
        ax.plot(xy[[i, j], 0], xy[[i, j], 1], color="0.55", lw=2.0, zorder=1)
    sym = structure.symbols
    for i in np.argsort(depth):
        size = 220 if sym[i] not in ("H", "D") else 90
        ax.scatter(*xy[i], s=size, color=ELEMENT_COLOURS.get(sym[i], "#b07cc6"), edgecolors="k", linewidths=0.6,
                   zorder=2)
    ax.quiver(xy[:, 0], xy[:, 1], dxy[:, 0], dxy[:, 1], angles="xy", scale_units="xy", scale=1.0, color="tab:red",
              width=0.008, zorder=3)
    ax.set_aspect("equal")
    ax.axis("off")
    freq = float(np.asarray(modes.frequencies_cm1)[k - 1])
    ax.set_title(title if title is not None else f"{structure.name}: mode {k}, {freq:.0f} cm$^{{-1}}$", fontsize=10)
    pad = scale_angstrom + 0.5
    ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
    ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    return ax


def write_mode_png(path: str | Path, structure, modes, mode_number: int, *, title: str | None = None,
                   overwrite: bool = False, dpi: int = 120) -> Path:
    """Save `plot_mode` as a PNG."""
    import matplotlib.pyplot as plt

    path = check_writable(path, overwrite)
    ax = plot_mode(structure, modes, mode_number, title=title)
    ax.figure.savefig(path, dpi=dpi)
    plt.close(ax.figure)
    return path
