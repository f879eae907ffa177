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
