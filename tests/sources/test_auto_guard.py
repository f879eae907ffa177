"""The network guard (modes below −50 cm⁻¹, ensemble member disagreement) and ``--source auto``.

Hessians with known internal frequencies are built exactly: H = M^½ B diag(λ) Bᵀ M^½ with B the internal
(rigid-body-free) mass-weighted basis and λ = sign(ν)(ν / FREQ_FACTOR)², so `normal_modes` returns ν.
"""

import types
import warnings

import numpy as np
import pytest

from hessfit.cli import main
from hessfit.sources import NequipSource, NetworkGuardWarning, get_source, network_guard
from hessfit.structures import write_xyz

from tests.helpers import hessian_with_frequencies
from tests.sources.conftest import needs_xtb


def test_guard_counts_modes_below_threshold(water):
    bad = network_guard(water, hessian_with_frequencies(water, [-120.0, 1600.0, 3700.0]))
    assert not bad.passed and bad.lowest_cm1 == pytest.approx(-120.0, abs=0.01)
    assert [k for k, _ in bad.modes_below] == [1] and bad.modes_below[0][1] == pytest.approx(-120.0, abs=0.01)
    assert bad.disagreement_cm1 is None
    msg = bad.message("water")
    assert "\n" not in msg and "mode 1 at -120" in msg and "--source xtb" in msg
    assert bad.metadata()["n_modes_below_guard"] == 1
    # the threshold is -50 cm⁻¹: -49 passes, -51 fails; a sound Hessian passes with an empty message
    assert network_guard(water, hessian_with_frequencies(water, [-49.0, 1600.0, 3700.0])).passed
    assert not network_guard(water, hessian_with_frequencies(water, [-51.0, 1600.0, 3700.0])).passed
    good = network_guard(water, hessian_with_frequencies(water, [40.0, 1600.0, 3700.0]))
    assert good.passed and good.modes_below == () and good.message("water") == ""
    assert good.lowest_cm1 == pytest.approx(40.0, abs=0.01)


def test_guard_member_disagreement(water):
    a = hessian_with_frequencies(water, [1000.0, 1600.0, 3700.0])
    b = hessian_with_frequencies(water, [1000.0, 1600.0, 3800.0])
    rep = network_guard(water, 0.5 * (a + b), [a, b], max_disagreement_cm1=50.0)
    assert rep.disagreement_cm1 == pytest.approx(100.0 / np.sqrt(3.0), rel=1e-6)  # RMS over the 3 modes
    assert not rep.passed and rep.modes_below == () and "members disagree by 58 cm⁻¹" in rep.message("w")
    assert network_guard(water, 0.5 * (a + b), [a, b], max_disagreement_cm1=60.0).passed


@pytest.fixture
def fake_network(monkeypatch):
    """Make the nequip source return a chosen Hessian (no model is loaded)."""
    state = {}

    def fake_predict(self, structure):
        return state["h"], state.get("members")

    monkeypatch.setattr(NequipSource, "_predict", fake_predict)
    return state


def test_nequip_source_records_and_warns(water, fake_network):
    fake_network["h"] = hessian_with_frequencies(water, [-300.0, 1600.0, 3700.0])
    with pytest.warns(NetworkGuardWarning, match="mode 1 at -300 cm⁻¹"):
        res = get_source("nequip").hessian(water)
    assert res.metadata["guard_passed"] is False and res.metadata["n_modes_below_guard"] == 1
    assert res.metadata["lowest_frequency_cm1"] == pytest.approx(-300.0, abs=0.01)
    fake_network["h"] = hessian_with_frequencies(water, [1500.0, 1600.0, 3700.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", NetworkGuardWarning)
        assert get_source("nequip").hessian(water).metadata["guard_passed"] is True
    # guard=False: no check, no metadata
    fake_network["h"] = hessian_with_frequencies(water, [-300.0, 1600.0, 3700.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", NetworkGuardWarning)
        assert "guard_passed" not in get_source("nequip", guard=False).hessian(water).metadata


def test_ensemble_members_reach_the_guard(water, monkeypatch):
    """An ensemble is predicted member by member: the result is the weighted mean, the spread is the members'."""
    import hessfit.model as hm

    ha = hessian_with_frequencies(water, [1000.0, 1600.0, 3700.0])
    hb = hessian_with_frequencies(water, [1300.0, 1600.0, 3700.0])
    ma = types.SimpleNamespace(config=types.SimpleNamespace(cutoff_angstrom=5.0))
    mb = types.SimpleNamespace(config=types.SimpleNamespace(cutoff_angstrom=4.0))
    checked = []

    def fake_predict_hessians(structures, model, check=True):
        checked.append(check)
        return [ha if model is ma else hb]

    monkeypatch.setattr(hm, "predict_hessians", fake_predict_hessians)
    ens = hm.Ensemble((ma, mb), (0.25, 0.75))
    with pytest.warns(NetworkGuardWarning, match="members disagree by 173 cm⁻¹"):  # 300/√3 > the limit
        res = NequipSource(model=ens).hessian(water)
    np.testing.assert_allclose(res.hessian, 0.25 * ha + 0.75 * hb, atol=1e-12)
    assert res.metadata["member_disagreement_cm1"] == pytest.approx(300.0 / np.sqrt(3.0), rel=1e-6)
    assert checked == [True, False]  # the domain check runs once, with the widest-cutoff member


def test_an_ensemble_with_class_weights_combines_per_pair_class(water, monkeypatch):
    """The network source combines an ensemble's members with its class weights (`Ensemble.combine`), not the
    plain weighted mean."""
    import hessfit.model as hm

    ha = hessian_with_frequencies(water, [1000.0, 1600.0, 3700.0])
    hb = hessian_with_frequencies(water, [1300.0, 1500.0, 3600.0])
    ma = types.SimpleNamespace(config=types.SimpleNamespace(cutoff_angstrom=5.0))
    mb = types.SimpleNamespace(config=types.SimpleNamespace(cutoff_angstrom=4.0))
    monkeypatch.setattr(hm, "predict_hessians", lambda structures, model, check=True: [ha if model is ma else hb])
    rows = [[0.9, 0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [0.1, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]]  # O–H, H···H
    ens = hm.Ensemble((ma, mb), (0.5, 0.5), class_weights=rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NetworkGuardWarning)
        res = NequipSource(model=ens).hessian(water)
    expect = hm.combine_by_class([ha, hb], hm.pair_class_index(water), rows)
    np.testing.assert_allclose(res.hessian, expect, atol=1e-12)
    assert np.abs(expect - 0.5 * (ha + hb)).max() > 1e-3


def test_an_ensembles_own_disagreement_limit(water, monkeypatch):
    """An ensemble whose model.json metadata gives ``guard_disagreement_cm1`` is judged by that limit (a cascade
    by its primary's); without it, by GUARD_DISAGREEMENT_CM1."""
    import hessfit.model as hm
    from hessfit.sources import GUARD_DISAGREEMENT_CM1, disagreement_limit

    ha = hessian_with_frequencies(water, [1000.0, 1600.0, 3700.0])
    hb = hessian_with_frequencies(water, [1100.0, 1600.0, 3700.0])  # 100/√3 = 57.7 cm⁻¹ apart
    ma = types.SimpleNamespace(config=types.SimpleNamespace(cutoff_angstrom=5.0))
    mb = types.SimpleNamespace(config=types.SimpleNamespace(cutoff_angstrom=4.0))
    monkeypatch.setattr(hm, "predict_hessians", lambda ss, model, check=True: [ha if model is ma else hb])
    plain = hm.Ensemble((ma, mb), (0.5, 0.5))
    calibrated = hm.Ensemble((ma, mb), (0.5, 0.5), {"guard_disagreement_cm1": 60.0})
    assert disagreement_limit(plain) == GUARD_DISAGREEMENT_CM1 == 53.0 and disagreement_limit(calibrated) == 60.0
    assert disagreement_limit(hm.Cascade(calibrated, plain)) == 60.0 and disagreement_limit(ma) == 53.0
    with pytest.warns(NetworkGuardWarning, match="members disagree by 58 cm⁻¹ RMS \\(limit 53\\)"):
        NequipSource(model=plain).hessian(water)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NetworkGuardWarning)
        res = NequipSource(model=calibrated).hessian(water)
    assert res.metadata["guard_passed"] is True and res.metadata["member_disagreement_cm1"] == pytest.approx(57.735, abs=1e-3)


@needs_xtb
def test_auto_falls_back_to_xtb(water, fake_network):
    fake_network["h"] = hessian_with_frequencies(water, [-200.0, 1600.0, 3700.0])
    with pytest.warns(NetworkGuardWarning, match="--source auto uses GFN2-xTB.*mode 1 at -200"):
        res = get_source("auto").hessian(water)
    assert res.metadata["auto_choice"] == "xtb" and res.level_of_theory == "GFN2-xTB" and res.source == "auto"
    assert res.metadata["guard_passed"] is False and res.metadata["lowest_frequency_cm1"] == pytest.approx(-200, abs=0.01)
    # the same GFN2-xTB Hessian (threaded finite differences with reused wavefunctions: equal to ~1e-4 eV/Å²;
    # the fake network Hessian differs from it by ~1 eV/Å²)
    np.testing.assert_allclose(res.hessian, get_source("xtb").hessian(water).hessian, atol=1e-3)
    assert np.max(np.abs(res.hessian - fake_network["h"])) > 0.1


def test_auto_keeps_a_network_hessian_that_passes(water, fake_network):
    h = hessian_with_frequencies(water, [1500.0, 1600.0, 3700.0])
    fake_network["h"] = h
    with warnings.catch_warnings():
        warnings.simplefilter("error", NetworkGuardWarning)
        res = get_source("auto").hessian(water)
    assert res.metadata["auto_choice"] == "nequip" and res.source == "auto"
    np.testing.assert_allclose(res.hessian, h, atol=1e-12)


def test_auto_without_fallback_backend_keeps_the_network(water, fake_network, monkeypatch):
    import hessfit.sources._auto as auto

    monkeypatch.setattr(auto, "backend_available", lambda name: False)
    h = hessian_with_frequencies(water, [-200.0, 1600.0, 3700.0])
    fake_network["h"] = h
    with pytest.warns(NetworkGuardWarning, match="xtb is not installed.*keeps the network Hessian"):
        res = get_source("auto").hessian(water)
    assert res.metadata["auto_choice"] == "nequip"
    np.testing.assert_allclose(res.hessian, h, atol=1e-12)


@needs_xtb
def test_cli_modes_with_source_auto(water, fake_network, tmp_path, capsys):
    """``hessfit modes --source auto``: one warning line naming the modes, and the xTB modes are printed."""
    write_xyz(tmp_path / "w.xyz", water)
    fake_network["h"] = hessian_with_frequencies(water, [-200.0, 1600.0, 3700.0])
    assert main(["modes", str(tmp_path / "w.xyz"), "--source", "auto"]) == 0
    cap = capsys.readouterr()
    lines = [ln for ln in cap.err.splitlines() if "--source auto uses" in ln]
    assert len(lines) == 1 and "mode 1 at -200" in lines[0]
    assert "-200" not in cap.out  # the printed modes are xTB's, not the network's


@needs_xtb
def test_auto_falls_back_for_an_element_the_network_does_not_know(water, monkeypatch):
    from hessfit.errors import ValidationError

    def unknown(self, structure):
        raise ValidationError(f"{structure.name}: element(s) ['F'] unknown to the model (trained on H, C, N, O)")

    monkeypatch.setattr(NequipSource, "_predict", unknown)
    with pytest.warns(NetworkGuardWarning, match=r"uses GFN2-xTB, not the network: element\(s\) \['F'\] unknown"):
        res = get_source("auto").hessian(water)
    assert res.metadata["auto_choice"] == "xtb" and res.metadata["guard_passed"] is False
    with pytest.raises(ValidationError, match="unknown to the model"):
        get_source("nequip").hessian(water)


def test_batched_predict_warns_once_naming_the_unsound_molecules(water, tmp_path, monkeypatch, capsys):
    """hessfit predict (the network, batched) runs the guard's mode check on every molecule: one warning line."""
    import hessfit.model

    good = hessian_with_frequencies(water, [1600.0, 3650.0, 3750.0])
    bad = hessian_with_frequencies(water, [-90.0, 1600.0, 3700.0])
    monkeypatch.setattr(hessfit.model, "load_model", lambda path=None: None)
    monkeypatch.setattr(hessfit.model, "predict_hessians", lambda mols, model, **kw: [good, bad])
    write_xyz(tmp_path / "two.xyz", [water, water])
    assert main(["predict", str(tmp_path / "two.xyz"), "-o", str(tmp_path / "h.npz")]) == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "network Hessians have a mode below" in line]
    assert len(warned) == 1 and "1 of 2" in warned[0] and "(-90 cm⁻¹)" in warned[0] and "--source auto" in warned[0]


def test_a_cascade_gives_the_guard_the_branch_it_took(water, monkeypatch):
    """A cascade: the fallback's Hessian where the primary fails the guard's threshold and the fallback is
    sounder; the metadata names the branch, and the guard judges the Hessian returned."""
    import hessfit.model as hm

    primary, fallback = types.SimpleNamespace(name="p"), types.SimpleNamespace(name="f")
    h = {"p": hessian_with_frequencies(water, [-120.0, 1600.0, 3700.0]),
         "f": hessian_with_frequencies(water, [-20.0, 1600.0, 3700.0])}
    calls = []
    monkeypatch.setattr(hm, "predict_hessians",
                        lambda ss, model, check=True: calls.append(model.name) or [h[model.name]])
    casc = hm.Cascade(primary, fallback)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NetworkGuardWarning)  # -20 cm⁻¹ passes the guard
        res = NequipSource(model=casc).hessian(water)
    np.testing.assert_allclose(res.hessian, h["f"], atol=1e-12)
    assert res.metadata["cascade_fallback_weight"] == 1.0 and res.metadata["guard_passed"] is True
    assert calls == ["p", "f"]
    h["f"] = hessian_with_frequencies(water, [-150.0, 1600.0, 3700.0])  # a fallback no sounder: primary kept
    with pytest.warns(NetworkGuardWarning, match="mode 1 at -120 cm⁻¹"):
        res = NequipSource(model=casc).hessian(water)
    np.testing.assert_allclose(res.hessian, h["p"], atol=1e-12)
    assert res.metadata["cascade_fallback_weight"] == 0.0
