"""CASTEP force constants read by hessfit against Euphonic's phonons on the same file.

For each ``.castep_bin`` given (for example Euphonic's own test files, ``tests_and_analysis/test/data/
castep_files/{Si2-sc-skew,graphite}/*.castep_bin`` in github.com/pace-neutrons/Euphonic, GPL-3.0, not copied
here): hessfit unfolds the force constants onto the supercell (`read_castep_force_constants`) and takes its Γ
modes (3N − 3, the uniform translations projected out); Euphonic computes the phonons at the supercell's
commensurate q-points q = S⁻¹ m (S the supercell matrix, skewed or not) without an acoustic sum rule. The two
lists must agree once Euphonic's three acoustic modes at Γ (not zero: the raw force constants break the sum rule)
are removed. Prints the largest difference, cm⁻¹.

    python benchmarks/castep_euphonic.py FILE.castep_bin [...]
"""

from __future__ import annotations

import sys
import warnings

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)


def commensurate_q(sc: np.ndarray) -> np.ndarray:
    """The det(S) q-points (reduced coordinates of the primitive cell) commensurate with supercell matrix S."""
    n = int(round(abs(np.linalg.det(sc))))
    inv = np.linalg.inv(sc)
    span = range(-n, n + 1)
    cand = np.array([inv @ np.array([a, b, c]) for a in span for b in span for c in span])
    qs = np.unique(np.round(np.mod(cand, 1.0), 8) % 1.0, axis=0)
    assert len(qs) == n, (len(qs), n)
    return qs


def main(paths: list[str]) -> None:
    from euphonic import ForceConstants

    from hessfit.modes import normal_modes
    from hessfit.sources._phonopy import read_castep_force_constants

    warnings.simplefilter("ignore")
    print(f"{'file':<40} {'atoms':>6} {'modes':>6} {'max |Δ| cm-1':>14} {'highest cm-1':>13}")
    for path in paths:
        fc = read_castep_force_constants(path)
        ours = np.sort(np.asarray(normal_modes(fc.structure, fc.hessian).frequencies_cm1))
        efc = ForceConstants.from_castep(path)
        ref = np.sort(efc.calculate_qpoint_phonon_modes(commensurate_q(np.asarray(efc.sc_matrix, int)),
                                                        asr=None).frequencies.to("1/cm").magnitude.ravel())
        gamma = np.sort(efc.calculate_qpoint_phonon_modes(np.zeros((1, 3)), asr=None)
                        .frequencies.to("1/cm").magnitude.ravel())[:3]
        for g in gamma:  # Euphonic's acoustic modes at Γ (hessfit projects the translations out)
            ref = np.delete(ref, np.argmin(np.abs(ref - g)))
        print(f"{path.split('/')[-1]:<40} {fc.structure.n_atoms:6d} {ours.size:6d} {np.abs(ours - ref).max():14.2e} "
              f"{ref.max():13.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
