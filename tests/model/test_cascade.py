"""Cascades: the fallback's Hessian exactly where the primary's has a mode below the threshold and the fallback's
lowest mode is higher; saved and loaded as folders, with clear errors."""

import json

import numpy as np
import pytest

from hessfit.errors import InputFormatError
from hessfit.model import (CASCADE_THRESHOLD_CM1, Cascade, choose_sounder, domain_network, load_model,
                           lowest_internal_frequency, network_leaves, predict_hessian, predict_hessians, save_cascade,
                           save_ensemble)
from hessfit.modes import vibrational_basis
from tests.helpers import hessian_with_frequencies
from tests.model.test_hessian import _molecule


def test_lowest_internal_frequency_is_the_closed_form():
    mol = _molecule(seed=3)
    n_modes = vibrational_basis(mol).shape[1]
    freqs = np.linspace(300.0, 3000.0, n_modes)
    freqs[4] = -123.0
    assert lowest_internal_frequency(mol, hessian_with_frequencies(mol, freqs)) == pytest.approx(-123.0, abs=1e-6)
    freqs[4] = 45.0
    assert lowest_internal_frequency(mol, hessian_with_frequencies(mol, freqs)) == pytest.approx(45.0, abs=1e-6)


def test_choose_sounder_takes_the_fallback_only_where_the_primary_fails_and_the_fallback_is_sounder():
    mols = [_molecule(seed=s) for s in (3, 4, 5, 6)]
    n = vibrational_basis(mols[0]).shape[1]

    def h(lowest):
        return lambda m: hessian_with_frequencies(m, np.r_[lowest, np.linspace(400.0, 3000.0, n - 1)])

    primary = [h(-30.0)(mols[0]), h(-80.0)(mols[1]), h(-200.0)(mols[2]), None]  # -30 passes: above -50
    fallback_lowest = {1: -10.0, 2: -250.0}  # molecule 1: sounder fallback; molecule 2: a worse one
    asked = []

    def fallback(structures):
        asked.extend(structures)
        return [h(fallback_lowest[mols.index(s)])(s) for s in structures]

    out, weights = choose_sounder(mols, primary, fallback, CASCADE_THRESHOLD_CM1)
    assert asked == [mols[1], mols[2]]  # called once, only for the failing molecules
    assert weights == [0.0, 1.0, 0.0, 0.0]
    assert out[0] is primary[0] and out[2] is primary[2] and out[3] is None
    assert lowest_internal_frequency(mols[1], out[1]) == pytest.approx(-10.0, abs=1e-6)


def test_blend_steps_take_the_least_fallback_that_passes():
    """Primary and fallback share their modes, so the blend's eigenvalues are the blended eigenvalues:
    λ(w) = (1 − w) λ_P + w λ_F, and the least passing w on the grid follows in closed form."""
    from hessfit.units import FREQ_FACTOR_EV_A2

    mol = _molecule(seed=3)
    n = vibrational_basis(mol).shape[1]
    rest = np.linspace(400.0, 3000.0, n - 1)
    p = hessian_with_frequencies(mol, np.r_[-200.0, rest])
    f = hessian_with_frequencies(mol, np.r_[300.0, rest])
    lam = lambda nu: np.sign(nu) * (nu / FREQ_FACTOR_EV_A2) ** 2  # noqa: E731
    # smallest w with λ(w) ≥ λ(−50): w ≥ (λ(−50) − λ_P) / (λ_F − λ_P)
    w_min = (lam(-50.0) - lam(-200.0)) / (lam(300.0) - lam(-200.0))
    expect = np.ceil(w_min * 10 - 1e-9) / 10
    (h,), (w,) = choose_sounder([mol], [p], lambda ss: [f], CASCADE_THRESHOLD_CM1, blend_steps=10)
    assert w == pytest.approx(expect) and 0 < w < 1
    np.testing.assert_allclose(h, (1 - w) * p + w * f, atol=1e-12)
    nu = FREQ_FACTOR_EV_A2 * np.sign(lam(-200.0) * (1 - w) + lam(300.0) * w) * np.sqrt(
        abs(lam(-200.0) * (1 - w) + lam(300.0) * w))
    assert lowest_internal_frequency(mol, h) == pytest.approx(nu, abs=1e-6) and nu >= -50.0
    # a fallback that never passes: the weight with the highest lowest mode (here the whole fallback)
    f_bad = hessian_with_frequencies(mol, np.r_[-80.0, rest])
    (_,), (w,) = choose_sounder([mol], [p], lambda ss: [f_bad], CASCADE_THRESHOLD_CM1, blend_steps=10)
    assert w == 1.0


def test_cascade_folder_predicts_the_per_molecule_choice(members, tmp_path):
    root, energy, blocks = members
    save_ensemble(root / "mix", ["../energy", "../blocks"], [0.5, 0.5])
    mols = [_molecule(seed=s) for s in (7, 8)]
    p = predict_hessians(mols, energy, max_atoms_per_batch=1)  # one graph each: compiled code reused
    f = predict_hessians(mols, root / "mix", max_atoms_per_batch=1)
    lowest = [lowest_internal_frequency(m, x) for m, x in zip(mols, p)]
    # a threshold between the two molecules' lowest primary modes: the fallback is considered for one of them
    threshold = float(np.mean(lowest))
    save_cascade(tmp_path / "casc", str(root / "energy"), str(root / "mix"), threshold, {"note": "test"})
    casc = load_model(tmp_path / "casc")
    assert isinstance(casc, Cascade) and casc.threshold_cm1 == threshold and casc.metadata == {"note": "test"}
    assert network_leaves(casc) == (casc.primary, *casc.fallback.members)
    # the domain is the primary's (never the fallback's); an ensemble's: its member of longest cutoff, first on ties
    mix = casc.fallback
    assert domain_network(casc) is casc.primary and domain_network(casc.primary) is casc.primary
    widest = max(m.config.cutoff_angstrom for m in mix.members)
    assert domain_network(mix) is next(m for m in mix.members if m.config.cutoff_angstrom == widest)
    got = predict_hessians(mols, casc, max_atoms_per_batch=1)
    k = int(np.argmin(lowest))  # the failing one
    expect_fallback = lowest_internal_frequency(mols[k], f[k]) > lowest[k]
    np.testing.assert_allclose(got[k], f[k] if expect_fallback else p[k], atol=1e-12)
    np.testing.assert_allclose(got[1 - k], p[1 - k], atol=1e-12)
    np.testing.assert_allclose(predict_hessian(mols[1 - k], casc), p[1 - k], atol=1e-12)
    # every molecule fails a threshold of 1e6 cm⁻¹; with the less sound network as primary the fallback is taken
    worse, better = (("energy", p), ("mix", f)) if lowest[k] < lowest_internal_frequency(mols[k], f[k]) else \
        (("mix", f), ("energy", p))
    save_cascade(tmp_path / "forced", str(root / worse[0]), str(root / better[0]), 1e6)
    got = predict_hessians([mols[k]], load_model(tmp_path / "forced"), max_atoms_per_batch=1)[0]
    np.testing.assert_allclose(got, better[1][k], atol=1e-12)
    assert not np.allclose(got, worse[1][k])


def test_bad_cascades_are_one_line_errors(members, tmp_path):
    root, *_ = members
    save_cascade(tmp_path / "inner", str(root / "energy"), str(root / "blocks"))
    save_cascade(tmp_path / "outer", "../inner", str(root / "energy"))
    with pytest.raises(InputFormatError, match="cascades") as err:
        load_model(tmp_path / "outer")
    assert "model.json" in str(err.value) and "\n" not in str(err.value)
    save_cascade(tmp_path / "five", str(root / "energy"), str(root / "blocks"), blend_steps=5)
    assert load_model(tmp_path / "five").blend_steps == 5
    doc = json.loads((tmp_path / "five" / "model.json").read_text())
    for steps, ok in ((10.0, True), (2.5, False), (float("inf"), False), (10**6, False), (True, False)):
        (tmp_path / "five" / "model.json").write_text(json.dumps({**doc, "blend_steps": steps}))
        if ok:
            steps_read = load_model(tmp_path / "five").blend_steps
            assert steps_read == 10 and type(steps_read) is int
        else:
            with pytest.raises(InputFormatError, match="blend_steps must be a whole number") as err:
                load_model(tmp_path / "five")
            assert "model.json" in str(err.value) and "\n" not in str(err.value)
    save_cascade(tmp_path / "neg", str(root / "energy"), str(root / "blocks"), blend_steps=-1)
    with pytest.raises(InputFormatError, match="blend_steps must be a whole number"):
        load_model(tmp_path / "neg")
    save_cascade(tmp_path / "half", str(root / "energy"), "")
    with pytest.raises(InputFormatError, match="needs 'primary' and 'fallback'"):
        load_model(tmp_path / "half")
    save_ensemble(tmp_path / "ens", ["../inner", str(root / "energy")], [0.5, 0.5])
    with pytest.raises(InputFormatError, match="itself an ensemble or a cascade"):
        load_model(tmp_path / "ens")


def test_finetuning_a_cascade_is_a_clear_error(members, tmp_path):
    from hessfit.errors import ConfigError
    from hessfit.finetune._finetune import finetune_from_toml

    root, *_ = members
    save_cascade(tmp_path / "casc", str(root / "energy"), str(root / "blocks"))
    spectra = tmp_path / "set.toml"
    spectra.write_text("")
    with pytest.raises(ConfigError, match=r"a cascade cannot be fine-tuned; fine-tune one network "
                                          r"\(--model nequip_mf or blocks_mf\)"):
        finetune_from_toml(spectra, tmp_path / "out", model_path=tmp_path / "casc")


def test_the_default_is_the_shipped_cascade_of_shipped_ensembles():
    import json

    from hessfit.model import DEFAULT_WEIGHTS, Ensemble, shipped_model_names

    doc = json.loads((DEFAULT_WEIGHTS / "model.json").read_text())
    assert doc["format"] == "hessfit-cascade-1" and {doc["primary"], doc["fallback"]} <= set(shipped_model_names())
    default = load_model(None)
    # docs/class_stacking.md: threshold -20 (the least blend lifting the lowest mode above -20 cm-1)
    assert isinstance(default, Cascade) and default.threshold_cm1 == -20.0 and default.blend_steps == 10
    assert isinstance(default.primary, Ensemble) and isinstance(default.fallback, Ensemble)
    assert default.fallback.weights == (0.3, 0.7) and default.fallback.class_weights is None
    # the primary: weights per atom-pair class, the energy member's share growing with the atoms' distance
    energy, blocks = default.primary.class_weights
    assert np.allclose(np.add(energy, blocks), 1.0) and energy[3] > energy[0] and energy[7] > energy[4]
    assert default.primary.weights == pytest.approx((np.mean(energy), np.mean(blocks)))
    assert default.primary.references == ("nequip_qm9", "blocks_qm9")
    assert default.fallback.references == ("nequip_mf", "blocks_hinge_mf")
    from hessfit.sources import disagreement_limit

    assert disagreement_limit(default) == 65.0  # calibrated on its two members (docs/model_card_stacked.md)
    from hessfit.sources import GUARD_IMAGINARY_CM1

    assert CASCADE_THRESHOLD_CM1 == GUARD_IMAGINARY_CM1


def test_lowest_internal_frequency_agrees_with_normal_modes():
    from hessfit.modes import normal_modes

    mol = _molecule(seed=11)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3 * mol.n_atoms,) * 2)
    h = a + a.T  # symmetric, with negative eigenvalues; normal_modes projects out the rigid-body part
    expect = float(np.min(np.asarray(normal_modes(mol, h).frequencies_cm1)))
    assert lowest_internal_frequency(mol, h) == pytest.approx(expect, rel=1e-6)


def test_networks_shared_by_primary_and_fallback_are_loaded_and_predicted_once(members, tmp_path, monkeypatch):
    import hessfit.model._predict as pred

    root, *_ = members
    save_ensemble(root / "mix_a", ["../energy", "../blocks"], [0.5, 0.5])
    save_ensemble(root / "mix_b", ["../energy", "../blocks"], [0.2, 0.8])
    save_cascade(tmp_path / "casc", str(root / "mix_a"), str(root / "mix_b"), threshold_cm1=1e6)  # every primary fails
    casc = load_model(tmp_path / "casc")
    assert casc.primary.members[0] is casc.fallback.members[0] and casc.primary.members[1] is casc.fallback.members[1]
    mols = [_molecule(seed=7)]
    expect = predict_hessians(mols, casc.fallback)
    calls = []
    real = pred.predict_hessians
    monkeypatch.setattr(pred, "predict_hessians", lambda ss, m, **kw: calls.append(id(m)) or real(ss, m, **kw))
    (got,) = real(mols, casc)
    assert sorted(calls) == sorted({id(m) for m in casc.primary.members})  # each network once
    p = predict_hessians(mols, casc.primary)[0]
    takes_fallback = lowest_internal_frequency(mols[0], expect[0]) > lowest_internal_frequency(mols[0], p)
    np.testing.assert_allclose(got, expect[0] if takes_fallback else p, atol=1e-12)
