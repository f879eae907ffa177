"""predict_hessian: errors and warnings on inputs outside the training domain; the shipped model."""

from pathlib import Path

import numpy as np
import pytest

from hessfit.errors import InputFormatError, ValidationError
from hessfit.model import DEFAULT_WEIGHTS, load_model, predict_hessian, save_model, shipped_model_names
from hessfit.structures import HessfitWarning, Structure


def test_unknown_element_is_a_clear_error(tiny_model):
    s = Structure.from_numbers([6, 16], [[0, 0, 0], [1.8, 0, 0]], name="CS")
    with pytest.raises(ValidationError, match=r"CS: element\(s\) S unknown to the model"):
        predict_hessian(s, tiny_model)


def test_too_short_distance_warns(tiny_model):
    s = Structure.from_numbers([6, 1], [[0, 0, 0], [0.7, 0, 0]], name="squashed")
    with pytest.warns(HessfitWarning, match="shorter than any 1-6 distance"):
        predict_hessian(s, tiny_model)


def test_save_load_roundtrip(tiny_model, tmp_path):
    save_model(tmp_path / "m", tiny_model)
    back = load_model(tmp_path / "m" / "model.json")
    assert back.config == tiny_model.config
    s = Structure.from_numbers([6, 1, 1], [[0, 0, 0], [1.09, 0, 0], [-0.3, 1.0, 0.1]])
    np.testing.assert_allclose(predict_hessian(s, back), predict_hessian(s, tiny_model), atol=1e-12)


def test_load_model_errors(tmp_path):
    with pytest.raises(InputFormatError, match="not a hessfit model folder"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text("{bad")
    (tmp_path / "params.msgpack").write_bytes(b"")
    with pytest.raises(InputFormatError, match="invalid JSON"):
        load_model(tmp_path)


def test_model_path_resolves_shipped_names(tmp_path, monkeypatch):
    """A shipped model's name resolves to its folder unless a path of that name exists here; other paths stay."""
    from hessfit.model._io import WEIGHTS_DIR, model_path

    monkeypatch.chdir(tmp_path)
    for name in shipped_model_names():
        assert model_path(name) == WEIGHTS_DIR / name
    assert model_path("no_such_model") == Path("no_such_model")
    (tmp_path / "blocks_qm9").mkdir()  # a local folder of that name wins
    assert model_path("blocks_qm9") == Path("blocks_qm9")


@pytest.mark.skipif(not (DEFAULT_WEIGHTS / "model.json").exists(), reason="no shipped weights yet")
@pytest.mark.parametrize("name", shipped_model_names())
def test_shipped_model_reproduces_stored_metrics(name):
    """A test-split molecule (never trained on): the metrics stored with the weights are reproduced."""
    from pathlib import Path

    from hessfit.structures import read_hessian, read_structure
    from hessfit.train import hessian_metrics

    here = Path(__file__).parent / "data"
    model = load_model(name)  # a shipped model's name
    assert sum(f.stat().st_size for f in (DEFAULT_WEIGHTS.parent / name).iterdir()) < 10e6
    stored = model.metadata["bundled_molecule_metrics"]
    s = read_structure(here / stored["file"])
    ref = read_hessian(here / stored["hessian_file"], n_atoms=s.n_atoms)
    got = hessian_metrics(s, predict_hessian(s, model), ref)
    for key in ("hessian_r2", "hessian_mae", "frequency_mae_cm1"):
        assert got[key] == pytest.approx(stored[key], rel=1e-3, abs=1e-6), key
    assert got["hessian_r2"] > 0.9  # and the model is useful on unseen data


def test_domain_covers_every_training_level(tiny_config, tiny_params):
    """A multi-fidelity model saw the other levels' molecules too: the size and distance checks use all of them."""
    import warnings

    from hessfit.model import Model
    from hessfit.model._predict import training_domain

    main = {"min_atoms": 6, "max_atoms": 10, "min_distance_angstrom": {"1-6": 1.05, "6-6": 1.3}}
    extra = [{"min_atoms": 13, "max_atoms": 40, "min_distance_angstrom": {"1-6": 0.9}}, {"frequency_dataset": "f"}]
    assert training_domain({"training_data": main, "extra_training_data": extra}) == {
        "min_atoms": 6, "max_atoms": 40, "min_distance_angstrom": {"1-6": 0.9, "6-6": 1.3}}
    chain = Structure.from_numbers([6] * 25, [[1.5 * i, 0, 0] for i in range(25)], name="chain")
    with pytest.warns(HessfitWarning, match="chain: 25 atoms, the model was trained on molecules of 6–10 atoms"):
        predict_hessian(chain, Model(tiny_config, tiny_params, {"training_data": main}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", HessfitWarning)
        predict_hessian(chain, Model(tiny_config, tiny_params, {"training_data": main, "extra_training_data": extra}))


def test_unseen_bonding_environment_warns_once_naming_atoms_and_kinds(tiny_config, tiny_params):
    """Atoms whose element and bonded neighbours never occur in the training data are named (1-based) with their
    environments; no warning when all occur, nor when any training set does not record environments."""
    import warnings

    from hessfit.model import Model
    from hessfit.model._predict import training_domain
    from hessfit.structures import atom_environments

    # methanol: C bonded to O and three H, O to C and H
    methanol = Structure.from_numbers([6, 8, 1, 1, 1, 1], [[0, 0, 0], [1.43, 0, 0], [-0.36, 1.03, 0],
                                                          [-0.36, -0.51, 0.89], [-0.36, -0.51, -0.89],
                                                          [1.75, 0.9, 0]], name="methanol")
    assert atom_environments(methanol) == ["C(O,H,H,H)", "O(C,H)", "H(C)", "H(C)", "H(C)", "H(O)"]
    base = {"min_atoms": 3, "max_atoms": 30, "min_distance_angstrom": {"1-6": 0.9, "1-8": 0.9, "6-8": 1.2}}
    seen = dict(base, atom_environments=["C(O,H,H,H)", "H(C)", "H(O)", "O(C,H)"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", HessfitWarning)
        predict_hessian(methanol, Model(tiny_config, tiny_params, {"training_data": seen}))
        predict_hessian(methanol, Model(tiny_config, tiny_params, {"training_data": base}))  # not recorded
    no_oh = dict(base, atom_environments=["C(O,H,H,H)", "H(C)", "O(C,C)"])
    with pytest.warns(HessfitWarning, match=r"methanol: atom\(s\) 2, 6 \(1-based\) have bonding environments "
                                            r"absent from the network's training data \(H\(O\), O\(C,H\)\)"):
        predict_hessian(methanol, Model(tiny_config, tiny_params, {"training_data": no_oh}))
    # the union over every training set, and unknown when one set lacks the record
    assert training_domain({"training_data": no_oh, "extra_training_data": [seen]})["atom_environments"] == {
        "C(O,H,H,H)", "H(C)", "H(O)", "O(C,C)", "O(C,H)"}
    assert "atom_environments" not in training_domain({"training_data": no_oh, "extra_training_data": [base]})


def test_shipped_default_members_record_environments_and_flag_a_nitro_group():
    """The default's members list the QM9 training split's 44 environments; nitromethane's nitro N and O are new."""
    from hessfit.model._predict import training_domain

    for name in ("nequip_qm9", "blocks_qm9"):
        envs = training_domain(load_model(name).metadata)["atom_environments"]
        assert len(envs) == 44 and {"C(C,H,H,H)", "O(C,H)", "N(C,C,C)"} <= envs
        assert not {"N(O,O,C)", "O(N)", "N(N,C,C)"} & envs
    nitromethane = Structure.from_numbers([6, 7, 8, 8, 1, 1, 1], [
        [0, 0, 0], [1.49, 0, 0], [2.08, 1.07, 0], [2.08, -1.07, 0], [-0.36, 1.02, 0], [-0.36, -0.51, 0.88],
        [-0.36, -0.51, -0.88]], name="nitromethane")
    with pytest.warns(HessfitWarning, match=r"atom\(s\) 2, 3, 4 \(1-based\).*\(N\(O,O,C\), O\(N\)\)"):  # C(N,H,H,H) is seen
        predict_hessian(nitromethane)


def test_unseen_environment_warning_lists_at_most_twenty_atoms(tiny_config, tiny_params):
    from hessfit.model import Model

    chain = Structure.from_numbers([6] * 25, [[1.5 * i, 0, 0] for i in range(25)], name="chain")  # C(C,C) atoms
    meta = {"training_data": {"min_atoms": 3, "max_atoms": 30, "min_distance_angstrom": {"6-6": 1.3},
                              "atom_environments": ["H(C)"]}}
    with pytest.warns(HessfitWarning, match=r"atom\(s\) 1, 2, .*, 20, … \(25 atoms\) \(1-based\)"):
        predict_hessian(chain, Model(tiny_config, tiny_params, meta))
