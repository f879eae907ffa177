"""Out-of-domain evaluation: low-mode metrics, unsupported elements skipped, extra datasets beside the main one."""

import json
import types

import numpy as np
import pytest

from hessfit.errors import ConfigError
from hessfit.structures import Structure
from hessfit.train import hessian_metrics, summarise
from hessfit.train._evaluate import network_predict_fn, ood_dataset_paths
from hessfit.units import FREQ_FACTOR_EV_A2


def water() -> Structure:
    pos = [[0.0, 0.0, 0.119], [0.0, 0.763, -0.477], [0.0, -0.763, -0.477]]
    return Structure.from_numbers([8, 1, 1], pos, name="water")


def with_frequencies(structure, freqs_cm1):
    """Hessian (eV/Å²) whose internal modes have exactly ``freqs_cm1`` (negative = imaginary)."""
    from hessfit.modes import internal_basis

    b = internal_basis(structure.positions, structure.masses)
    f = np.asarray(freqs_cm1, float)
    sq = np.repeat(np.sqrt(structure.masses), 3)
    return sq[:, None] * (b @ np.diag(np.sign(f) * (f / FREQ_FACTOR_EV_A2) ** 2) @ b.T) * sq[None, :]


def test_low_mode_metrics():
    s = water()
    ref = with_frequencies(s, [150.0, 1600.0, 3700.0])
    m = hessian_metrics(s, with_frequencies(s, [-80.0, 1600.0, 3800.0]), ref)
    assert m["n_below_guard_pred"] == 1 and m["n_below_guard_ref"] == 0 and m["n_imaginary_pred"] == 1
    assert m["min_frequency_pred_cm1"] == pytest.approx(-80.0, abs=1e-3)
    assert m["min_frequency_ref_cm1"] == pytest.approx(150.0, abs=1e-3)
    assert m["n_low_modes"] == 1 and m["frequency_mae_low_cm1"] == pytest.approx(230.0, abs=1e-3)
    assert m["frequency_mae_cm1"] == pytest.approx(110.0, abs=1e-3)
    # -40 cm⁻¹ is imaginary but above the -50 cm⁻¹ guard
    m2 = hessian_metrics(s, with_frequencies(s, [-40.0, 1600.0, 3700.0]), ref)
    assert m2["n_imaginary_pred"] == 1 and m2["n_below_guard_pred"] == 0
    pooled = summarise([m, m2])
    assert pooled["molecules_with_mode_below_guard"] == 1 and pooled["molecules_with_imaginary_modes"] == 2
    assert pooled["min_frequency_cm1"] == pytest.approx(-80.0, abs=1e-3)
    assert pooled["frequency_mae_low_cm1"] == pytest.approx((230.0 + 190.0) / 2, abs=1e-3)
    assert pooled["reference_molecules_with_mode_below_guard"] == 0


def test_network_predict_fn_skips_unknown_elements(monkeypatch):
    import hessfit.model as hm

    seen = []

    def fake(structures, model, max_atoms_per_batch=400):
        seen.append([s.name for s in structures])
        return [np.eye(3 * s.n_atoms) for s in structures]

    monkeypatch.setattr(hm, "predict_hessians", fake)
    model = types.SimpleNamespace(config=types.SimpleNamespace(elements=(1, 6, 7, 8)))
    hf = Structure.from_numbers([9, 1], [[0, 0, 0], [0, 0, 0.92]], name="HF")
    out = network_predict_fn(model)([water(), hf])
    assert seen == [["water"]] and out[1] is None and out[0].shape == (9, 9)
    assert network_predict_fn(model)([hf]) == [None]


def test_ood_dataset_paths(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="missing.npz: out-of-domain dataset not found"):
        ood_dataset_paths([tmp_path / "missing.npz"])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "ood").mkdir(parents=True)
    (tmp_path / "data" / "ood" / "panel_xtb.npz").write_bytes(b"x")
    assert ood_dataset_paths(None, True) == [tmp_path / "data" / "ood" / "panel_xtb.npz"]
    assert ood_dataset_paths(None, False) == []


def test_evaluate_cli_with_ood_set(tiny32, data_dir, tmp_path, capsys):
    """--ood-data: the set is evaluated in full beside the main one; molecules with unknown elements are skipped,
    a baseline of the set's own level of theory is left out."""
    import jax

    from hessfit.cli import main
    from hessfit.model import Model, ModelConfig, init_params, save_model
    from hessfit.structures import read_hessian, read_structure, save_dataset
    from hessfit.structures._dataset import from_arrays

    cfg = ModelConfig.from_dict({**tiny32.to_dict(), "n_layers": 1, "kind": "blocks",
                                 "head_irreps": "4x0e + 2x1o + 2x2e", "head_channels": 2})
    save_model(tmp_path / "m", Model(cfg, init_params(cfg, jax.random.PRNGKey(0)), {}))
    s = read_structure(data_dir / "qm9" / "qm9_100001.xyz")
    h = read_hessian(data_dir / "qm9" / "qm9_100001_hessian.npy", n_atoms=s.n_atoms)
    save_dataset(tmp_path / "d.npz", from_arrays([s.numbers], [s.positions], [h]))
    hf = Structure.from_numbers([9, 1], [[0, 0, 0], [0, 0, 0.92]], name="HF")
    ood = from_arrays([s.numbers, hf.numbers], [s.positions, hf.positions], [h, np.eye(6)],
                      extra={"key": np.array(["qm9_100001", "HF"]), "level_of_theory": np.array(["MMFF94"] * 2)})
    save_dataset(tmp_path / "ood.npz", ood)
    assert main(["evaluate", "--data", str(tmp_path / "d.npz"), "--model", str(tmp_path / "m"), "--subset", "all",
                 "--no-spectra", "--out", str(tmp_path / "ev"), "--ood-data", str(tmp_path / "ood.npz"),
                 "--baseline", "mmff"]) == 0
    text = capsys.readouterr().out
    main_metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    ood_metrics = json.loads((tmp_path / "ev" / "ood" / "metrics.json").read_text())
    assert set(main_metrics) == {"nequip-blocks", "mmff"} and set(ood_metrics) == {"nequip-blocks"}
    assert ood_metrics["nequip-blocks"]["n_molecules"] == 1 and ood_metrics["nequip-blocks"]["skipped_molecules"] == 1
    # the same molecule in both sets: the same numbers
    assert ood_metrics["nequip-blocks"]["frequency_mae_cm1"] == pytest.approx(
        main_metrics["nequip-blocks"]["frequency_mae_cm1"], rel=1e-9)
    assert "(ood.npz, MMFF94), 1 skipped" in text and "with a mode < -50 cm⁻¹" in text
    per = (tmp_path / "ev" / "ood" / "per_molecule_nequip-blocks.csv").read_text()
    assert "qm9_100001" in per and "min_frequency_pred_cm1" in per
    assert main(["evaluate", "--data", str(tmp_path / "d.npz"), "--model", str(tmp_path / "m"), "--subset", "all",
                 "--ood-data", str(tmp_path / "nope.npz")]) == 1
    assert "nope.npz: out-of-domain dataset not found" in capsys.readouterr().err


def test_candidate_predictions_blend_and_reuse(monkeypatch):
    import hessfit.model as hm
    from hessfit.train._evaluate import blend_hessians, candidate_predictions

    loaded = []
    monkeypatch.setattr(hm, "load_model", lambda name: loaded.append(name) or name)
    monkeypatch.setattr("hessfit.train._evaluate.network_predict_fn",
                        lambda model: (lambda ss: [np.full((3, 3), 10.0 if model == "c" else 1.0)] * len(ss)))
    a, b = [np.eye(3), None], [3 * np.eye(3), np.eye(3)]
    out = candidate_predictions([water(), water()], ["c"], ["a+b@0.25", "a+c@0.5"], known={"a": a, "b": b})
    np.testing.assert_allclose(out["a+b@0.25"][0], 0.75 * np.eye(3) + 0.25 * 3 * np.eye(3))
    assert out["a+b@0.25"][1] is None  # a molecule missing from one side is missing from the blend
    np.testing.assert_allclose(out["a+c@0.5"][0], 0.5 * np.eye(3) + 5.0)
    assert loaded == ["c"] and set(out) == {"c", "a+b@0.25", "a+c@0.5"}  # 'c' predicted once, a and b reused
    assert blend_hessians([None], [np.eye(3)], 0.5) == [None]


def test_candidate_predictions_weighted_sum_of_several_models():
    from hessfit.errors import ConfigError
    from hessfit.train._evaluate import candidate_predictions

    known = {"a": [np.eye(9), np.eye(9)], "b": [2 * np.eye(9), None], "c": [np.ones((9, 9)), np.ones((9, 9))]}
    spec = "a*0.2+b*0.3+c*0.5"
    out = candidate_predictions([water(), water()], [], [spec], known=known)[spec]
    np.testing.assert_allclose(out[0], 0.2 * np.eye(9) + 0.6 * np.eye(9) + 0.5 * np.ones((9, 9)))
    assert out[1] is None  # missing from one model: missing from the sum
    out = candidate_predictions([water(), water()], [], [], known=known, cascades=[f"{spec}>a"])
    assert out[f"{spec}>a"][1] is None  # a weighted sum can be a cascade's primary
    spaced = "a * 0.2 + b * 0.3 + c * 0.5"  # spaces around names and weights are allowed
    np.testing.assert_allclose(candidate_predictions([water()], [], [spaced], known=known)[spaced][0],
                               0.2 * np.eye(9) + 0.6 * np.eye(9) + 0.5 * np.ones((9, 9)))
    for bad, match in (("a*0.2+b*0.3", "sum to 1"), ("a*x+b*1", "expected MODEL"), ("a*1.5+b*-0.5", ">= 0"),
                       ("a*nan+b*nan", "finite"), ("a*1", "two or more"), ("a*0.5+*0.5", "expected MODEL")):
        with pytest.raises(ConfigError, match=match):
            candidate_predictions([water()], [], [bad], known=known)


def test_candidate_predictions_cascade_takes_the_sounder_fallback_where_the_primary_fails():
    from hessfit.model import lowest_internal_frequency
    from hessfit.train._evaluate import candidate_predictions
    from tests.helpers import hessian_with_frequencies

    mols = [water(), water()]

    def h(lowest):
        return hessian_with_frequencies(mols[0], [lowest, 1600.0, 3700.0])

    known = {"p": [h(-120.0), h(900.0)], "a": [h(-60.0), h(800.0)], "b": [h(100.0), h(700.0)]}
    out = candidate_predictions(mols, [], [], known=known, cascades=["p>a+b@0.5"])
    got = [lowest_internal_frequency(m, x) for m, x in zip(mols, out["p>a+b@0.5"])]
    blend = 0.5 * known["a"][0] + 0.5 * known["b"][0]
    np.testing.assert_allclose(out["p>a+b@0.5"][0], blend)  # the blend of a and b, sounder than p's −120
    assert got[1] == pytest.approx(900.0, abs=1e-6)  # the primary passes: kept


def test_candidate_predictions_cascade_blend_steps_missing_molecules_and_bad_specs():
    from hessfit.errors import ConfigError
    from hessfit.model import lowest_internal_frequency
    from hessfit.train._evaluate import candidate_predictions
    from tests.helpers import hessian_with_frequencies

    mols = [water(), water()]
    known = {"p": [hessian_with_frequencies(mols[0], [-120.0, 1600.0, 3700.0]), None],
             "f": [hessian_with_frequencies(mols[0], [100.0, 1600.0, 3700.0]), np.eye(9)]}
    out = candidate_predictions(mols, [], [], known=known, cascades=["p>f~10"])["p>f~10"]
    assert out[1] is None  # no primary Hessian: none
    low = lowest_internal_frequency(mols[0], out[0])
    assert -50.0 <= low < 0.0  # the least blend that passes: still imaginary, just above the threshold
    for bad in ("p", "p>f>g", "p>", "p>f~x"):
        with pytest.raises(ConfigError, match="expected PRIMARY>FALLBACK"):
            candidate_predictions(mols, [], [], known=known, cascades=[bad])
