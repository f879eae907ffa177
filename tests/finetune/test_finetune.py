"""Fine-tuning on spectra: exact gradient of the full loss, parameter masks, regulariser, a tiny run, the CLI.

One tiny float64 model and one small molecule (methanol) throughout, so the model's Hessian pull-back is compiled
once for the whole file (readout mask); the other masks are checked through the optimiser they configure.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.cli import main
from hessfit.compare import MeasuredSpectrum
from hessfit.finetune import (FinetuneConfig, Objective, SpectrumEntry, finetune, param_l2, prepare_entry,
                              trainable_mask)
from hessfit.finetune._finetune import make_optimizer
from hessfit.model import Model, ModelConfig, init_params, load_model, save_model
from hessfit.structures import Structure

TINY = dict(n_layers=2, n_scalars=4, n_vectors=2, n_tensors=0, max_ell=1, n_radial_basis=4, radial_hidden=(4,),
            cutoff_angstrom=4.0, avg_num_neighbors=10.0, dtype="float64")
METHANOL = (np.array([6, 8, 1, 1, 1, 1]),
            np.array([[-0.047, 0.665, 0.0], [-0.047, -0.758, 0.0], [-1.086, 0.969, 0.0], [0.434, 1.080, 0.891],
                      [0.434, 1.080, -0.891], [0.869, -1.080, 0.0]]))
ENTRY = SpectrumEntry(structure="methanol.xyz", spectrum="methanol.dat", instrument="ideal", max_order=1,
                      e_min_cm1=50.0, e_max_cm1=3000.0)


@pytest.fixture(scope="module")
def tiny_model():
    cfg = ModelConfig(**TINY)
    params = init_params(cfg, jax.random.PRNGKey(3))
    params["params"]["energy_scale"] = jnp.array([40.0, 60.0, 50.0, 60.0])
    return Model(cfg, jax.tree_util.tree_map(np.asarray, params), {"training_data": {}})


@pytest.fixture(scope="module")
def methanol():
    return Structure.from_numbers(*METHANOL, name="methanol")


@pytest.fixture(scope="module")
def measured():
    """A 'measured' spectrum: four Gaussian bands on a sloping background (no model compilation needed)."""
    e = np.arange(20.0, 3100.0, 2.0)
    y = sum(a * np.exp(-0.5 * ((e - c) / 25.0) ** 2) for a, c in ((1.0, 420.0), (0.6, 900.0), (0.8, 1350.0),
                                                                    (0.3, 2900.0)))
    return MeasuredSpectrum(energy_cm1=e, intensity=y + 0.02 + 1e-5 * e)


def _entry(methanol, measured, model, cfg):
    return prepare_entry(methanol, measured, ENTRY, cfg, elements=model.config.elements)


def _leaves_by_path(tree):
    return {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(tree)}


def test_masks_select_groups_and_the_optimiser_freezes_the_rest(tiny_model):
    params = tiny_model.params
    expected = {"readout": ("readout", "energy_scale", "energy_shift"),
                "last_layer": ("readout", "energy_scale", "energy_shift", "layer_1"),
                "all": ("readout", "energy_scale", "energy_shift", "layer_1", "layer_0", "embedding")}
    for which, groups in expected.items():
        mask = trainable_mask(params, which, tiny_model.config.n_layers)
        for path, m in _leaves_by_path(mask).items():
            assert m == any(f"'{g}'" in path for g in groups), (which, path)
        opt = make_optimizer(FinetuneConfig(trainable=which, learning_rate=0.1), mask)
        p = jax.tree_util.tree_map(jnp.asarray, params)
        updates, _ = jax.jit(opt.update)(jax.tree_util.tree_map(jnp.ones_like, p), opt.init(p), p)
        p = jax.tree_util.tree_map(lambda a, u: a + u, p, updates)
        old, new, msk = _leaves_by_path(params), _leaves_by_path(p), _leaves_by_path(mask)
        for path in old:
            changed = not np.array_equal(np.asarray(old[path]), np.asarray(new[path]))
            assert changed == msk[path], (which, path)


def test_param_l2_is_zero_at_pretrained_and_counts_only_trainable(tiny_model):
    p0 = tiny_model.params
    mask = trainable_mask(p0, "readout", 2)
    r, g = param_l2(p0, p0, mask)
    assert r == 0.0 and all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree_util.tree_leaves(g))
    p = jax.tree_util.tree_map(np.array, p0)
    p["params"]["layer_0"]["linear_up"] = jax.tree_util.tree_map(lambda a: a + 1.0, p["params"]["layer_0"]["linear_up"])
    assert param_l2(p, p0, mask)[0] == 0.0  # frozen leaf changed: no penalty
    w = p["params"]["readout"]
    key = next(iter(w))
    w[key] = w[key] + 0.1
    den = float(np.sum(np.asarray(p0["params"]["readout"][key]) ** 2) + np.sum(np.asarray(p0["params"]["energy_scale"]) ** 2)
                + np.sum(np.asarray(p0["params"]["energy_shift"]) ** 2))
    np.testing.assert_allclose(param_l2(p, p0, mask)[0], 0.01 * w[key].size / den, rtol=1e-12)


def test_gradient_of_full_loss_matches_central_differences(tiny_model, methanol, measured):
    cfg = FinetuneConfig(trainable="readout", steps=10, w_spearman=1.0, w_l2=0.5, param_l2_weight=0.3)
    obj = Objective(tiny_model, [_entry(methanol, measured, tiny_model, cfg)], cfg)
    p = jax.tree_util.tree_map(np.array, tiny_model.params)
    key = next(iter(p["params"]["readout"]))
    p["params"]["readout"][key] = p["params"]["readout"][key] * 1.1  # away from θ0: the L2 term has a gradient
    step = 3
    total, grads, terms, _ = obj.value_and_grad(p, step)
    assert terms["param_l2"] > 0 and np.isclose(total, obj.value(p, step), rtol=1e-12)
    checks = [("readout", key, (0, 0)), ("readout", key, (2, 0)), ("energy_scale", None, (1,)),
              ("energy_scale", None, (3,))]  # species 1 = C, 3 = O (methanol has no N)
    for group, k, idx in checks:
        def get(tree):
            return tree["params"][group][k] if k else tree["params"][group]

        g = float(np.asarray(get(grads))[idx])
        eps = 1e-6 * max(1.0, abs(float(get(p)[idx])))  # the soft-rank loss is strongly curved: small steps
        vals = []
        for sign in (1, -1):
            q = jax.tree_util.tree_map(np.array, p)
            get(q)[idx] += sign * eps
            vals.append(obj.value(q, step))
        fd = (vals[0] - vals[1]) / (2 * eps)
        assert abs(fd) > 1e-6, (group, idx)  # the loss really depends on this parameter
        np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-9, err_msg=f"{group}{idx}")
    # frozen parameters get exactly zero gradient
    assert float(jnp.abs(grads["params"]["layer_0"]["linear_up"][next(iter(grads["params"]["layer_0"]["linear_up"]))]).max()) == 0.0


def test_tiny_finetune_reduces_the_spectral_loss_and_writes_a_loadable_model(tiny_model, methanol, measured, tmp_path):
    cfg = FinetuneConfig(trainable="readout", steps=8, learning_rate=0.05, w_l2=1.0, param_l2_weight=0.0,
                         softness_start=0.05, softness_end=0.05)
    entry = _entry(methanol, measured, tiny_model, cfg)
    res = finetune(tiny_model, [entry], cfg, tmp_path / "run", progress=False)
    spectral = [h["spectral"] for h in res.history]
    assert len(spectral) == 8
    assert min(spectral[-3:]) < 0.93 * spectral[0], spectral  # measured: 1.74 -> 1.54
    loaded = load_model(tmp_path / "run")
    assert loaded.config == tiny_model.config and loaded.metadata["finetune"]["steps"] == 8
    base, new = _leaves_by_path(tiny_model.params), _leaves_by_path(loaded.params)
    mask = _leaves_by_path(trainable_mask(tiny_model.params, "readout", 2))
    for path in base:
        if not mask[path]:
            assert np.array_equal(base[path], new[path]), path
    assert not np.array_equal(base["['params']['energy_scale']"], new["['params']['energy_scale']"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["entries"][0]["name"] == "methanol" and (tmp_path / "run" / "checkpoint.msgpack").exists()
    # resuming a finished run with more steps continues from the checkpoint
    res2 = finetune(tiny_model, [entry], cfg.replace(steps=9), tmp_path / "run", progress=False)
    assert [h["step"] for h in res2.history] == list(range(1, 10))


def _write_inputs(tmp_path, measured, **entry_extra):
    from hessfit.structures._structure import write_xyz

    write_xyz(tmp_path / "methanol.xyz", Structure.from_numbers(*METHANOL, name="methanol"), overwrite=True)
    np.savetxt(tmp_path / "methanol.dat", np.column_stack([measured.energy_cm1, measured.intensity]))
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry_extra.items())
    toml = tmp_path / "set.toml"
    toml.write_text('[finetune]\ntrainable = "readout"\nsteps = 2\nlearning_rate = 0.01\n\n[[entry]]\n'
                    'structure = "methanol.xyz"\nspectrum = "methanol.dat"\ninstrument = "ideal"\nmax_order = 1\n'
                    f'e_min_cm1 = 50.0\ne_max_cm1 = 3000.0\n{extra}')
    return toml


def test_cli_finetune_writes_a_model_folder(tiny_model, measured, tmp_path, capsys):
    mdir = save_model(tmp_path / "base", tiny_model)
    toml = _write_inputs(tmp_path, measured)
    out = tmp_path / "runs" / "ft"
    assert main(["finetune", "--spectra", str(toml), "--out", str(out), "--model", str(mdir), "--no-progress"]) == 0
    assert "mean Spearman" in capsys.readouterr().out
    m = load_model(out)
    assert m.config == tiny_model.config and m.metadata["finetune"]["config"]["trainable"] == "readout"
    assert m.metadata["finetune"]["steps"] == 2 and m.metadata["training_data"] == {}
    changed = [not np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(m.params),
                                                          jax.tree_util.tree_leaves(tiny_model.params))]
    assert any(changed)


def test_cli_bad_input_gives_one_line_errors(tiny_model, measured, tmp_path, capsys):
    mdir = save_model(tmp_path / "base", tiny_model)
    toml = _write_inputs(tmp_path, measured)

    def run(spectra):
        rc = main(["finetune", "--spectra", str(spectra), "--out", str(tmp_path / "o"), "--model", str(mdir),
                   "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 1 and "Traceback" not in err and err.count("\n") == 1, err
        return err

    assert "spectra set file not found" in run(tmp_path / "nope.toml")
    (tmp_path / "methanol.dat").unlink()
    err = run(toml)
    assert "methanol.dat" in err and "not found" in err
    toml = _write_inputs(tmp_path, measured)
    toml.write_text(toml.read_text().replace("steps = 2", "steps = 2\nlearnig_rate = 0.1"))
    assert "learnig_rate" in run(toml)
    toml = _write_inputs(tmp_path, measured, colour="red")
    err = run(toml)
    assert "entry 1" in err and "colour" in err
    toml.write_text(toml.read_text().replace('colour = "red"\n', "") + "\n[extra]\na = 1\n")
    assert "unknown top-level keys ['extra']" in run(toml)
