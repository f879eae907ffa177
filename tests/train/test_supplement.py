"""Supplement datasets (`TrainConfig.supplement_datasets`): Hessians at the main dataset's level of theory whose
molecules all join the training set, ``supplement_repeats`` times per epoch. Checked on a closed form: one molecule
in the main set with Hessian H, the same molecule in the supplement with 0.5·H, so one level of theory can only fit
the repeat-weighted mean, (1·H + r·0.5·H) / (1 + r)."""

import dataclasses
import json

import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.model._predict import training_domain
from hessfit.structures import atom_environments, save_dataset
from hessfit.structures._dataset import from_arrays
from hessfit.train import TrainConfig, train
from tests.train.test_multi_fidelity import _hv
from hessfit.train._data import prepare


def _fitted_scale(model, dataset, i: int) -> float:
    """Least-squares c in H_model·v ≈ c·H_ref·v over a few ±1 probes."""
    cfg = model.config
    sp = prepare(dataset, [i], elements=cfg.elements, cutoff_angstrom=cfg.cutoff_angstrom).species[0]
    pos, h = dataset.positions(i), dataset.hessian(i).astype(float)
    num = den = 0.0
    for seed in range(4):
        probe = np.random.default_rng(seed).choice([-1.0, 1.0], size=pos.shape)
        target = (h @ probe.ravel()).reshape(pos.shape)
        got = _hv(cfg, model.params, sp, pos, probe)
        num, den = num + float(np.vdot(got, target)), den + float(np.vdot(target, target))
    return num / den


@pytest.mark.parametrize("repeats", [1, 3])
def test_supplement_is_level_0_and_weighted_by_repeats(tiny_dataset, tiny32, tmp_path, repeats):
    main = tiny_dataset.subset([0])
    half = from_arrays([main.numbers(0)], [main.positions(0)], [0.5 * main.hessian(0)])
    save_dataset(tmp_path / "half.npz", half)
    tcfg = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=150, learning_rate=1e-2, warmup_steps=5,
                       patience_epochs=1000, max_atoms_per_batch=100, probes_per_molecule=4,
                       supplement_datasets=(str(tmp_path / "half.npz"),), supplement_repeats=repeats)
    assert TrainConfig.from_dict(json.loads(json.dumps(tcfg.to_dict()))) == tcfg
    cfg = dataclasses.replace(tiny32, n_layers=1)
    result = train(main, tmp_path / "run", model_config=cfg, train_config=tcfg, progress=False)
    want = (1.0 + repeats * 0.5) / (1.0 + repeats)  # 0.75 or 0.625
    assert abs(_fitted_scale(result.model, main, 0) - want) < 0.04
    assert result.model.config.n_fidelities == 1
    first, last = result.history[0], result.history[-1]
    assert last["supplement_hessian_mse"] < first["supplement_hessian_mse"]
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["n_molecules"] == 1 and split.get("extra", []) == []  # the supplement is not split


def test_supplement_molecules_join_the_recorded_domain(tiny_dataset, tiny32, tmp_path):
    """A molecule seen only through the supplement is in the trained model's domain; without it, it is not."""
    other = tiny_dataset.subset([1])  # the only one of the three with N
    save_dataset(tmp_path / "other.npz", other)
    base = TrainConfig(split_fractions=(1.0, 0.0, 0.0), max_epochs=1, warmup_steps=1, max_atoms_per_batch=100)
    cfg = dataclasses.replace(tiny32, n_layers=1)
    plain = train(tiny_dataset.subset([0]), tmp_path / "plain", model_config=cfg, train_config=base,
                  progress=False).model
    with_sup = train(tiny_dataset.subset([0]), tmp_path / "sup", model_config=cfg, progress=False,
                     train_config=dataclasses.replace(base, supplement_datasets=(str(tmp_path / "other.npz"),))).model
    envs = set(atom_environments(other.structure(0)))
    assert envs <= training_domain(with_sup.metadata)["atom_environments"]
    assert "N(C,C,C)" in envs and "N(C,C,C)" not in training_domain(plain.metadata)["atom_environments"]
    assert with_sup.metadata["extra_training_data"][0]["supplement_dataset"] == str(tmp_path / "other.npz")


def test_supplement_repeats_must_be_positive():
    with pytest.raises(ConfigError, match="supplement_repeats must be >= 1"):
        TrainConfig(supplement_repeats=0)
