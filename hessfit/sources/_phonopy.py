"""Crystal force constants from files: phonopy (through the phonopy library) and CASTEP (through Euphonic).

Both give the force constants of a supercell; hessfit uses them as the Γ-point Hessian of that supercell,
whose 3N−3 modes are the phonons of the primitive cell at the q-points commensurate with the supercell
(hessfit.modes._crystal). Units are converted to Å and eV/Å².

* phonopy: ``phonopy_params.yaml`` (structure and forces or force constants in one file), or
  ``phonopy.yaml`` / ``phonopy_disp.yaml`` with ``FORCE_SETS`` or ``FORCE_CONSTANTS`` beside it.
  Force constants are produced by phonopy (symmetrised, translational invariance imposed) from the
  displacement dataset. Optional extra ``crystal`` (``pip install 'hessfit[crystal]'``).
* CASTEP ``.castep_bin`` / ``.check`` (force constants) through Euphonic's ``ForceConstants.from_castep``;
  the compact (primitive × supercell) force constants are unfolded onto the supercell. ``.phonon`` files
  hold modes on a q-point list, not force constants, and are refused with that explanation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hessfit.errors import ConfigError, InputFormatError, ValidationError
from hessfit.sources._base import require
from hessfit.structures import Structure

_PHONOPY_YAML = ("phonopy_params.yaml", "phonopy.yaml", "phonopy_disp.yaml")
_ENERGY_EV = {"ev": 1.0, "ry": 13.605693122994, "mry": 0.013605693122994, "hartree": 27.211386245988}
_LENGTH_A = {"angstrom": 1.0, "au": 0.529177210903, "bohr": 0.529177210903, "nm": 10.0}


@dataclasses.dataclass(frozen=True, eq=False)
class CrystalForceConstants:
    """A supercell and its force constants.

    Attributes:
        structure: the supercell (crystal Structure, Å, amu).
        hessian: (3N, 3N) force constants of the supercell = its Γ-point Hessian, eV/Å².
        n_cells: number of primitive (or unit) cells in the supercell.
        supercell_matrix: (3, 3) int, supercell lattice in units of the unit cell.
        source: file the data came from; program: 'phonopy' or 'castep (euphonic)'.
    """

    structure: Structure
    hessian: np.ndarray
    n_cells: int
    supercell_matrix: np.ndarray
    source: str
    program: str


def is_phonopy_file(path: str | Path) -> bool:
    """True for a phonopy yaml (by name) or a directory holding one."""
    path = Path(path)
    if path.is_dir():
        return any((path / n).exists() for n in _PHONOPY_YAML)
    return path.name in _PHONOPY_YAML or (path.suffix in (".yaml", ".yml") and "phonopy" in path.name)


def _fc_unit_factor(unit: str, source: str) -> float:
    """'eV/angstrom^2', 'Ry/au^2', 'eV/angstrom.au', … → factor to eV/Å²."""
    try:
        energy, length = unit.split("/", 1)
        e = _ENERGY_EV[energy.strip().lower()]
        if length.endswith("^2"):
            lens = [length[:-2]] * 2
        else:
            lens = length.split(".")
        return e / (_LENGTH_A[lens[0].strip().lower()] * _LENGTH_A[lens[1].strip().lower()])
    except (KeyError, ValueError, IndexError):
        raise ConfigError(f"{source}: force-constant unit {unit!r} of this phonopy calculator is not supported; "
                          "use an eV/Å² (VASP, FHI-aims, CASTEP) or Ry/bohr² calculator setting") from None


def read_phonopy(path: str | Path, *, force_sets: str | Path | None = None,
                 force_constants: str | Path | None = None) -> CrystalForceConstants:
    """Supercell and force constants from a phonopy calculation (see module docstring for the files)."""
    require("phonopy", extra="crystal", what="reading phonopy force constants")
    import phonopy

    path = Path(path)
    if path.is_dir():
        found = [path / n for n in _PHONOPY_YAML if (path / n).exists()]
        if not found:
            raise InputFormatError(f"{path}: no {', '.join(_PHONOPY_YAML)} in this directory")
        path = found[0]
    if not path.exists():
        raise InputFormatError(f"{path}: file not found")
    folder = path.parent
    fs = Path(force_sets) if force_sets else folder / "FORCE_SETS"
    fc = Path(force_constants) if force_constants else None
    if fc is None:
        for name in ("FORCE_CONSTANTS", "force_constants.hdf5"):
            if (folder / name).exists():
                fc = folder / name
                break
    for given, what in ((force_sets, fs), (force_constants, fc)):
        if given and not Path(what).exists():
            raise InputFormatError(f"{what}: file not found")
    text = path.read_text(errors="replace")
    has_data = "forces:" in text or "force_constants:" in text
    if not has_data and not fs.exists() and fc is None:
        raise InputFormatError(f"{path}: holds no forces or force constants, and there is no FORCE_SETS or "
                               f"FORCE_CONSTANTS beside it in {folder}/")
    kwargs = {}
    if fc is not None and not has_data:
        kwargs["force_constants_filename"] = str(fc)
    elif fs.exists() and not has_data:
        kwargs["force_sets_filename"] = str(fs)
    try:
        ph = phonopy.load(str(path), is_compact_fc=False, log_level=0, produce_fc=True, is_nac=False, **kwargs)
    except Exception as exc:  # phonopy raises RuntimeError, ValueError, KeyError, yaml errors …
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFormatError(f"{path}: phonopy could not load it ({msg})") from None
    if ph.force_constants is None:
        raise InputFormatError(f"{path}: phonopy produced no force constants (no forces in the dataset?)")
    from phonopy.interface.calculator import get_calculator_physical_units

    units = get_calculator_physical_units(ph.calculator)
    to_a = float(units.distance_to_A)
    fc_factor = _fc_unit_factor(str(units.force_constants_unit), str(path))
    sc = ph.supercell
    n = len(sc.numbers)
    fcs = np.asarray(ph.force_constants, float)
    if fcs.shape != (n, n, 3, 3):
        raise ValidationError(f"{path}: force constants have shape {fcs.shape}, expected ({n}, {n}, 3, 3) for the "
                              f"{n}-atom supercell")
    hessian = fcs.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n) * fc_factor
    structure = Structure(np.asarray(sc.numbers, int), np.asarray(sc.positions, float) * to_a,
                          np.asarray(sc.masses, float), name=f"{path.stem}_supercell",
                          cell=np.asarray(sc.cell, float) * to_a)
    smat = np.rint(np.asarray(ph.supercell_matrix, float)).astype(int)
    return CrystalForceConstants(structure=structure, hessian=0.5 * (hessian + hessian.T),
                                 n_cells=int(round(abs(np.linalg.det(smat)))), supercell_matrix=smat,
                                 source=str(path), program="phonopy")


def supercell_hessian(fc_compact: np.ndarray, cell_origins: np.ndarray, sc_matrix: np.ndarray) -> np.ndarray:
    """Unfold compact force constants onto the supercell.

    Args:
        fc_compact: (n_cells, 3n, 3n), Φ[L][(i,a),(j,b)] = ∂²E/∂u_(i,0)a ∂u_(j,L)b in eV/Å² (Euphonic's layout).
        cell_origins: (n_cells, 3) int, origin of each cell L of the supercell in unit-cell vectors.
        sc_matrix: (3, 3) int, supercell lattice in unit-cell vectors (rows).

    Returns:
        (3·n_cells·n, 3·n_cells·n) supercell Hessian, atoms ordered cell by cell as ``cell_origins``.
    """
    fc_compact = np.asarray(fc_compact, float)
    origins = np.asarray(cell_origins, int)
    n_cells, n3, _ = fc_compact.shape
    inv = np.linalg.inv(np.asarray(sc_matrix, float))

    def key(r):  # reduce a lattice vector modulo the supercell: fractional supercell coordinates in [0, 1)
        f = r @ inv
        return tuple(np.round((f - np.floor(f + 1e-9)) * 1e6).astype(np.int64))

    index = {key(o): k for k, o in enumerate(origins)}
    if len(index) != n_cells:
        raise ValidationError("cell origins are not distinct modulo the supercell")
    h = np.zeros((n_cells * n3, n_cells * n3))
    for a, ra in enumerate(origins):
        for b, rb in enumerate(origins):
            k = index.get(key(rb - ra))
            if k is None:
                raise ValidationError("cell origins do not form the supercell lattice")
            h[a * n3:(a + 1) * n3, b * n3:(b + 1) * n3] = fc_compact[k]
    return h


def read_castep_force_constants(path: str | Path) -> CrystalForceConstants:
    """Supercell and force constants from a CASTEP .castep_bin/.check file (through Euphonic)."""
    path = Path(path)
    if path.suffix == ".phonon":
        raise InputFormatError(f"{path}: a CASTEP .phonon file holds modes on q-points, not force constants; "
                               "give the .castep_bin (or .check) of the same run")
    if not path.exists():
        raise InputFormatError(f"{path}: file not found")
    require("euphonic", extra="crystal", what="reading CASTEP force constants")
    from euphonic import ForceConstants

    try:
        fc = ForceConstants.from_castep(str(path))
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFormatError(f"{path}: Euphonic could not read force constants ({msg})") from None
    return from_euphonic(fc, source=str(path), program="castep (euphonic)")


def from_euphonic(fc, *, source: str = "euphonic", program: str = "euphonic") -> CrystalForceConstants:
    """Supercell structure and Hessian from a ``euphonic.ForceConstants`` (compact layout unfolded)."""
    cry = fc.crystal
    cell = cry.cell_vectors.to("angstrom").magnitude
    frac = cry.atom_r
    origins = np.asarray(fc.cell_origins, int)
    masses = cry.atom_mass.to("amu").magnitude
    from ase.data import atomic_numbers

    numbers = np.array([atomic_numbers[t] for t in cry.atom_type])
    pos = ((origins[:, None, :] + frac[None, :, :]) @ cell).reshape(-1, 3)
    smat = np.asarray(fc.sc_matrix, int)
    h = supercell_hessian(fc.force_constants.to("eV/angstrom**2").magnitude, origins, smat)
    n_cells = len(origins)
    structure = Structure(np.tile(numbers, n_cells), pos, np.tile(masses, n_cells), name=f"{Path(source).stem}_sc",
                          cell=smat @ cell)
    return CrystalForceConstants(structure=structure, hessian=0.5 * (h + h.T), n_cells=n_cells,
                                 supercell_matrix=smat, source=source, program=program)


def fold_to_cell(fc: CrystalForceConstants, cell: Structure) -> np.ndarray:
    """Γ-point Hessian (3n, 3n) of the unit ``cell`` from supercell force constants: H_Γ(i, j) = Σ_L Φ(i0, jL),
    averaged over the images of i. Atoms are matched by position modulo the cell (tolerance 1e-3 Å)."""
    from hessfit.errors import ValidationError

    sc = fc.structure
    n = cell.n_atoms
    if sc.n_atoms % n:
        raise ValidationError(f"{fc.source}: supercell has {sc.n_atoms} atoms, not a multiple of the cell's {n}")
    owner = -np.ones(sc.n_atoms, int)
    for k in range(n):
        frac = np.linalg.solve(cell.cell.T, (sc.positions - cell.positions[k]).T).T
        match = np.abs(frac - np.rint(frac)).max(axis=1) * np.abs(cell.cell).max() < 1e-3
        owner[match & (sc.numbers == cell.numbers[k])] = k
    if (owner < 0).any() or np.bincount(owner, minlength=n).min() != sc.n_atoms // n:
        raise ValidationError(f"{fc.source}: the supercell atoms do not map onto the {n} atoms of {cell.name}")
    proj = np.zeros((sc.n_atoms, n))
    proj[np.arange(sc.n_atoms), owner] = 1.0
    p3 = np.kron(proj, np.eye(3))
    return p3.T @ fc.hessian @ p3 / (sc.n_atoms // n)


def interpolate_supercell(path: str | Path, mesh) -> CrystalForceConstants:
    """Phonopy's Fourier interpolation of a calculation onto an n1×n2×n3 q-mesh, as the force constants of the
    n1×n2×n3 supercell of its primitive cell: Φ(iR, jR′) = √(m_i m_j)/N_q Σ_q D_ij(q) e^{−2πi q·(r_j + R′ − r_i − R)}
    (phonopy's phase convention, fractional coordinates). Its Γ modes are phonopy's phonons at the mesh
    q-points, so a finer mesh than the calculated supercell costs no new force calculation.
    """
    require("phonopy", extra="crystal", what="interpolating phonopy force constants")
    import phonopy

    fc0 = read_phonopy(path)  # validates the files, gives clear errors
    mesh = tuple(int(m) for m in np.broadcast_to(np.asarray(mesh, int), (3,)))
    if min(mesh) < 1:
        raise ConfigError(f"q-mesh must be three integers ≥ 1, got {mesh}")
    ph = phonopy.load(fc0.source, is_compact_fc=False, log_level=0, produce_fc=True, is_nac=False)
    from phonopy.interface.calculator import get_calculator_physical_units

    units = get_calculator_physical_units(ph.calculator)
    to_a = float(units.distance_to_A)
    factor = _fc_unit_factor(str(units.force_constants_unit), fc0.source)
    prim = ph.primitive
    n = len(prim.numbers)
    frac = np.asarray(prim.scaled_positions, float)
    masses = np.asarray(prim.masses, float)
    cells = np.array([(a, b, c) for a in range(mesh[0]) for b in range(mesh[1]) for c in range(mesh[2])], float)
    qs = cells / np.asarray(mesh, float)
    n_c = len(cells)
    h = np.zeros((n_c, n, 3, n_c, n, 3))
    sqm = np.sqrt(np.outer(masses, masses))[:, None, :, None]
    for q in qs:
        d = np.asarray(ph.get_dynamical_matrix_at_q(q)).reshape(n, 3, n, 3) * sqm  # √(m_i m_j) D_ij(q)
        phase_atoms = np.exp(-2j * np.pi * ((frac[None, :, :] - frac[:, None, :]) @ q))  # (i, j)
        phase_cells = np.exp(-2j * np.pi * ((cells[None, :, :] - cells[:, None, :]) @ q))  # (R, R′)
        h += np.real(phase_cells[:, None, None, :, None, None] * (d * phase_atoms[:, None, :, None])[None, :, :, None])
    h = h.reshape(n_c * n * 3, n_c * n * 3) / n_c * factor
    cell = np.asarray(prim.cell, float) * to_a
    pos = ((cells[:, None, :] + frac[None, :, :]) @ cell).reshape(-1, 3)
    structure = Structure(np.tile(np.asarray(prim.numbers, int), n_c), pos, np.tile(masses, n_c),
                          name=f"{Path(fc0.source).stem}_{mesh[0]}x{mesh[1]}x{mesh[2]}",
                          cell=np.diag(mesh).astype(float) @ cell)
    return CrystalForceConstants(structure=structure, hessian=0.5 * (h + h.T), n_cells=n_c,
                                 supercell_matrix=np.diag(mesh), source=fc0.source,
                                 program=f"phonopy (interpolated to a {mesh[0]}x{mesh[1]}x{mesh[2]} q-mesh)")
