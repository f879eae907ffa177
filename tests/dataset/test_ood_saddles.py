"""scripts/build_ood_sets.py: a reference at a saddle is pushed along its imaginary mode and re-optimised.

Toy molecule: NH3-like, N–H and H–H springs plus a double well c (h² − h0²)² in the height h of N above the H
plane. The springs' rest lengths are those of the pyramid with h = h0, so the two pyramids are the minima, at
energy 0; a planar geometry has an imaginary umbrella mode.
"""

import dataclasses
import importlib.util
import itertools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.dataset._build import _entry_dataset
from hessfit.sources._base import HessianSource
from hessfit.structures import Structure, load_dataset

ROOT = Path(__file__).resolve().parents[2]
C_EV_A4, H0_A, R_NH, K = 1.0, 0.4, 1.0, 20.0
R_HH = np.sqrt(3.0 * (R_NH**2 - H0_A**2))  # H–H distance of the pyramid with h = h0


def _energy(x):
    x = x.reshape(4, 3)
    e = sum(K * (jnp.linalg.norm(x[0] - x[i]) - R_NH) ** 2 for i in (1, 2, 3))
    e += sum(K * (jnp.linalg.norm(x[i] - x[j]) - R_HH) ** 2 for i, j in itertools.combinations((1, 2, 3), 2))
    n = jnp.cross(x[2] - x[1], x[3] - x[1])
    h = jnp.dot(x[0] - x[1], n / jnp.linalg.norm(n))
    return e + C_EV_A4 * (h**2 - H0_A**2) ** 2


@dataclasses.dataclass(frozen=True)
class Umbrella(HessianSource):
    name = "unit_test_umbrella"
    has_forces = True

    @property
    def level_of_theory(self):
        return "toy"

    def energy_forces(self, structure):
        x = jnp.asarray(structure.positions.ravel(), jnp.float32)
        return float(_energy(x)), -np.asarray(jax.grad(_energy)(x), float).reshape(-1, 3)

    def hessian(self, structure):
        h = np.asarray(jax.hessian(_energy)(jnp.asarray(structure.positions.ravel(), jnp.float32)), float)
        return self._result(0.5 * (h + h.T), structure)


def _script():
    spec = importlib.util.spec_from_file_location("build_ood_sets", ROOT / "scripts" / "build_ood_sets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _entry(structure, source, key):
    h = source.hessian(structure).hessian
    return _entry_dataset({"key": key, "smiles": "N", "numbers": structure.numbers, "positions": structure.positions,
                           "H_triu": h[np.triu_indices(h.shape[0])].astype(np.float32), "level_of_theory": "toy",
                           "energy_eV": source.energy_forces(structure)[0], "max_force_eV_A": 0.0})


def test_saddle_is_replaced_by_the_lower_minimum(tmp_path):
    from hessfit.dataset._build import _atomic_save, concat_datasets

    build = _script()
    src = Umbrella()
    ang = np.deg2rad([90.0, 210.0, 330.0])
    rho = np.sqrt(R_NH**2 - H0_A**2)  # H–H springs at rest, N–H compressed
    ring = rho * np.c_[np.cos(ang), np.sin(ang), 0 * ang]
    planar = Structure.from_numbers([7, 1, 1, 1], np.vstack([[0, 0, 0], ring]), name="planar")
    low, _ = build._lowest_mode(planar, src.hessian(planar).hessian)
    assert low < build.SADDLE_CM1  # the toy's planar point is a saddle
    pyramid = dataclasses.replace(planar, positions=planar.positions + [[0, 0, H0_A], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    ds = concat_datasets([_entry(planar, src, "planar"), _entry(pyramid, src, "pyramid")])
    path = tmp_path / "set.npz"
    _atomic_save(path, ds)

    new = dict(build._saddle_replacements(load_dataset(path), src, fmax_eV_A=1e-3, max_steps=500,
                                         stop_at_first=True))
    assert list(new) == [0]  # only the saddle; the minimum is left alone
    fixed = new[0]
    s = fixed.structure(0)
    assert build._lowest_mode(s, fixed.hessian(0))[0] > 0
    x = s.positions
    n = np.cross(x[2] - x[1], x[3] - x[1])
    assert abs(abs(np.dot(x[0] - x[1], n / np.linalg.norm(n))) - H0_A) < 0.01  # pyramidal: |h| = h0
    assert float(fixed.extra["energy_eV"][0]) < 1e-5 < float(ds.extra["energy_eV"][0])  # the minimum, at 0 eV
    assert str(fixed.extra["key"][0]) == "planar" and str(fixed.extra["level_of_theory"][0]) == "toy"


def test_a_relaxation_stopped_and_resumed_from_its_checkpoint_ends_where_an_uninterrupted_one_does(tmp_path):
    """`hessfit.sources.optimize` with a checkpoint (what the DFT saddle fix uses): 3 steps, stopped (not
    converged), then rerun: it continues from the saved geometry and BFGS state and reaches the same minimum in the
    same total number of steps as one run; a cell relaxation cannot be checkpointed."""
    from hessfit.errors import ConfigError
    from hessfit.sources import optimize

    src = Umbrella()
    start = Structure.from_numbers([7, 1, 1, 1], [[0.05, 0.02, 0.1], [0, 0.92, 0], [-0.8, -0.46, 0.05],
                                                  [0.8, -0.46, -0.03]], name="bent")
    whole = optimize(start, src, fmax_eV_A=1e-3, max_steps=500, checkpoint=tmp_path / "whole")
    first = optimize(start, src, fmax_eV_A=1e-3, max_steps=3, checkpoint=tmp_path / "split")
    assert not first.converged and first.n_steps == 3 and (tmp_path / "split.xyz").exists()
    assert (tmp_path / "split.bfgs.json").exists()
    rest = optimize(start, src, fmax_eV_A=1e-3, max_steps=500, checkpoint=tmp_path / "split")
    assert whole.converged and rest.converged and whole.n_steps > 6
    assert first.n_steps + rest.n_steps == whole.n_steps
    np.testing.assert_allclose(rest.structure.positions, whole.structure.positions, atol=1e-5)
    assert rest.energy_eV == pytest.approx(whole.energy_eV, abs=1e-8)
    with pytest.raises(ConfigError, match="cannot resume a cell relaxation"):
        optimize(start, src, cell=True, checkpoint=tmp_path / "cell")


def test_dft_claims_are_exclusive_and_a_dead_workers_claim_is_taken_over(tmp_path, monkeypatch):
    """A DFT worker claims a molecule once; a claim held by a live process (pid 1) is refused; a claim whose
    process is gone is taken over."""
    import os
    import subprocess
    import sys

    mod = _script()
    monkeypatch.setattr(mod, "WORK", tmp_path)
    assert mod._claim("a") and mod._claim("a")  # this process holds it
    (tmp_path / "claims" / "b").write_text("1")
    assert not mod._claim("b")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "claims" / "c").write_text(dead.stdout.strip())
    assert not mod._claim_holder_alive(tmp_path / "claims" / "c")
    assert mod._claim("c") and (tmp_path / "claims" / "c").read_text() == str(os.getpid())
