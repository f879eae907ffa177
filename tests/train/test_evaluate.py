"""Evaluation metrics: perfect predictions give perfect scores; a scaled Hessian gives the expected errors."""

import json

import numpy as np
import pytest

from hessfit.train import evaluate, hessian_metrics, summarise
from tests.helpers import load_script


def test_metrics_of_perfect_and_scaled_hessian(qm9_molecule):
    s, h = qm9_molecule
    perfect = hessian_metrics(s, h, h, spectra=True)
    assert perfect["hessian_r2"] == pytest.approx(1.0)
    assert perfect["hessian_mae"] == 0.0 and perfect["frequency_mae_cm1"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["spearman_order1"] == pytest.approx(1.0) and perfect["spearman_order1_2"] == pytest.approx(1.0)
    scaled = hessian_metrics(s, 0.98 * h, h)
    # frequencies scale with √0.98: a 1 % shift of every mode
    freqs = scaled["frequency_mae_cm1"]
    assert 5.0 < freqs < 20.0
    assert scaled["hessian_mae"] == pytest.approx(0.02 * np.mean(np.abs(h)), rel=1e-6)


def test_evaluate_pools_and_skips(tiny_dataset):
    calls = []

    def predict(structures):
        calls.append(len(structures))
        return [tiny_dataset.hessian(0), None, tiny_dataset.hessian(2) * 1.01]

    res = evaluate(predict, tiny_dataset, [0, 1, 2], source="fake", spectra=False)
    assert calls == [3]
    assert res.summary["n_molecules"] == 2 and res.summary["skipped_molecules"] == 1
    assert 0.999 < res.summary["hessian_r2"] < 1.0
    assert summarise([])["n_molecules"] == 0


def test_ensemble_weight_scan_and_build(tiny_dataset, tiny32, tmp_path):
    """The scan's end points are the members' own evaluations; the chosen weight follows the criterion; the built
    ensemble folder loads and stores its bundled-molecule metrics."""
    import jax

    from hessfit.model import Ensemble, Model, ModelConfig, init_params, load_model, predict_hessians, save_model
    from hessfit.train import choose_weight, weight_scan
    main = load_script("build_ensemble").main

    # two direct block models (cheap to compile), B a perturbed copy of A
    cfg = ModelConfig.from_dict({**tiny32.to_dict(), "n_layers": 1, "kind": "blocks",
                                 "head_irreps": "4x0e + 2x1o + 2x2e", "head_channels": 2})
    a = Model(cfg, init_params(cfg, jax.random.PRNGKey(0)), {})
    leaves, tree = jax.tree_util.tree_flatten(a.params)
    noise = np.random.default_rng(0)
    b = Model(cfg, jax.tree_util.tree_unflatten(tree, [x * (1 + 0.3 * noise.normal(size=np.shape(x))).astype(x.dtype)
                                                       for x in leaves]), {})
    idx = [0, 1, 2]
    rows = weight_scan(tiny_dataset, idx, a, b, [0.0, 0.5, 1.0], spectra=False, progress=False)
    for w, m in ((0.0, a), (1.0, b)):
        alone = evaluate(lambda ss, m=m: predict_hessians(ss, m), tiny_dataset, idx, spectra=False).summary
        row = next(r for r in rows if r["weight_b"] == w)
        assert row["hessian_r2"] == pytest.approx(alone["hessian_r2"], rel=1e-9, abs=1e-9)
        assert row["frequency_mae_cm1"] == pytest.approx(alone["frequency_mae_cm1"], rel=1e-9)
    fake = [{"weight_b": 0.0, "hessian_r2": 0.9, "frequency_mae_cm1": 20.0},
            {"weight_b": 0.4, "hessian_r2": 0.95, "frequency_mae_cm1": 12.0},
            {"weight_b": 0.7, "hessian_r2": 0.97, "frequency_mae_cm1": 14.0}]
    assert choose_weight(fake, "frequency_mae_cm1") == 0.4 and choose_weight(fake, "hessian_r2") == 0.7
    tied = [dict(r, **{"spearman_order1_2_fraction_above_0.6": f}) for r, f in zip(fake, (0.9, 0.98, 0.98))]
    assert choose_weight(tied, "spearman_order1_2_fraction_above_0.6") in (0.4, 0.7)
    assert choose_weight(tied, "spearman_order1_2_fraction_above_0.6", "frequency_mae_cm1") == 0.4
    assert choose_weight(tied, "spearman_order1_2_fraction_above_0.6", "hessian_r2") == 0.7
    guarded = [dict(r, n_molecules=100, molecules_with_mode_below_guard=g) for r, g in zip(fake, (3, 20, 5))]
    assert choose_weight(guarded, "frequency_mae_cm1", max_below_guard_fraction=0.05) == 0.7  # 0.4 has 20 %
    assert choose_weight(guarded, "frequency_mae_cm1", max_below_guard_fraction=0.01) == 0.0  # none: fewest

    save_model(tmp_path / "a", a)
    save_model(tmp_path / "b", b)
    main(["--members", str(tmp_path / "a"), str(tmp_path / "b"), "--weight", "0.25", "--dest", str(tmp_path / "mix")])
    mix = load_model(tmp_path / "mix")
    assert isinstance(mix, Ensemble) and mix.weights == (0.75, 0.25)
    assert 0 < mix.metadata["bundled_molecule_metrics"]["hessian_mae"]
    # several members with given weights, and the guard's calibrated limit
    main(["--members", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "a"), "--weights", "0.5", "0.3",
          "0.2", "--guard-disagreement", "48", "--dest", str(tmp_path / "three")])
    three = load_model(tmp_path / "three")
    assert three.weights == (0.5, 0.3, 0.2) and three.metadata["guard_disagreement_cm1"] == 48.0
    ref = load_model(tmp_path / "mix")  # 0.75 a + 0.25 b: not the same mix, different metrics
    assert three.metadata["bundled_molecule_metrics"]["hessian_mae"] != ref.metadata["bundled_molecule_metrics"]["hessian_mae"]
    with pytest.raises(SystemExit, match="summing to 1"):
        main(["--members", str(tmp_path / "a"), str(tmp_path / "b"), "--weights", "0.5", "0.6",
              "--dest", str(tmp_path / "bad")])
    # per-class weights from benchmarks/class_stacking.py, which names a run's ".../NAME/best" NAME
    from hessfit.model import PAIR_CLASSES

    save_model(tmp_path / "run_a" / "best", a)
    fitted = {"run_a": {c: 0.1 * (k % 3) for k, c in enumerate(PAIR_CLASSES)}, "b": {}}
    fitted["b"] = {c: 1 - w for c, w in fitted["run_a"].items()}
    (tmp_path / "w.json").write_text(json.dumps({"weights": fitted}))
    main(["--members", str(tmp_path / "run_a" / "best"), str(tmp_path / "b"), "--class-weights",
          str(tmp_path / "w.json"), "--dest", str(tmp_path / "classes")])
    classes = load_model(tmp_path / "classes")
    assert [list(row) for row in classes.class_weights] == [[fitted[m][c] for c in PAIR_CLASSES] for m in ("run_a", "b")]
    with pytest.raises(SystemExit, match="are not --members"):
        main(["--members", str(tmp_path / "a"), str(tmp_path / "b"), "--class-weights", str(tmp_path / "w.json"),
              "--dest", str(tmp_path / "bad")])
