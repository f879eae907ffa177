"""CLI commands predict / evaluate / train: outputs and one-line errors (no tracebacks)."""

import numpy as np
import pytest

from hessfit.cli import main
from hessfit.model import save_model
from hessfit.structures import load_dataset


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("m") / "tiny", tiny_model)


def test_predict_npy_and_multi_structure_npz(model_dir, data_dir, tmp_path, capsys):
    xyz = data_dir / "qm9" / "qm9_100001.xyz"
    assert main(["predict", str(xyz), "-o", str(tmp_path / "h.npy"), "--model", str(model_dir)]) == 0
    h = np.load(tmp_path / "h.npy")
    assert h.shape == (75, 75) and np.allclose(h, h.T)
    files = [str(data_dir / "qm9" / f"{n}.xyz") for n in ("qm9_100001", "qm9_100003", "qm9_100100")]
    assert main(["predict", *files, "-o", str(tmp_path / "all.npz"), "--model", str(model_dir)]) == 0
    ds = load_dataset(tmp_path / "all.npz")
    assert len(ds) == 3
    np.testing.assert_allclose(ds.hessian(0), h, atol=1e-5 * np.abs(h).max())  # stored as float32


def test_predict_errors_are_one_line(model_dir, data_dir, tmp_path, capsys):
    xyz = data_dir / "qm9" / "qm9_100001.xyz"
    assert main(["predict", str(xyz), "-o", str(tmp_path / "h.txt"), "--model", str(model_dir)]) == 1
    assert "must end in .npy" in capsys.readouterr().err
    bad = tmp_path / "sf.xyz"
    bad.write_text("2\n\nS 0 0 0\nF 1.6 0 0\n")
    assert main(["predict", str(bad), "-o", str(tmp_path / "x.npy"), "--model", str(model_dir)]) == 1
    err = capsys.readouterr().err
    assert "unknown to the model" in err and "Traceback" not in err
    assert main(["predict", str(xyz), str(xyz), "-o", str(tmp_path / "y.npy"), "--model", str(model_dir)]) == 1
    assert "use -o NAME.npz" in capsys.readouterr().err
    assert main(["predict", str(xyz), "-o", str(tmp_path / "z.npy"), "--model", str(tmp_path)]) == 1
    assert "not a hessfit model folder" in capsys.readouterr().err


def test_evaluate_and_train_cli_errors(model_dir, data_dir, tmp_path, capsys):
    from hessfit.structures import read_hessian, read_structure, save_dataset
    from hessfit.structures._dataset import from_arrays

    s = read_structure(data_dir / "qm9" / "qm9_100001.xyz")
    h = read_hessian(data_dir / "qm9" / "qm9_100001_hessian.npy", n_atoms=s.n_atoms)
    save_dataset(tmp_path / "d.npz", from_arrays([s.numbers], [s.positions], [h]))
    assert main(["evaluate", "--data", str(tmp_path / "d.npz"), "--model", str(model_dir), "--subset", "all",
                 "--no-spectra", "--out", str(tmp_path / "ev"), "--also-model", str(model_dir)]) == 0
    assert (tmp_path / "ev" / "metrics.json").exists() and (tmp_path / "ev" / "parity.png").exists()
    metrics = __import__("json").loads((tmp_path / "ev" / "metrics.json").read_text())
    assert set(metrics) == {"nequip", "nequip-tiny"}  # the same model twice, side by side: same numbers
    assert metrics["nequip"]["hessian_mae"] == pytest.approx(metrics["nequip-tiny"]["hessian_mae"], rel=1e-12)
    assert main(["evaluate", "--data", str(tmp_path / "d.npz"), "--model", str(model_dir)]) == 1
    assert "needs --split" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "r")]) == 1
    assert "file not found" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r"), "--preset", "huge"]) == 1
    assert "--preset 'huge'" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r"), "--kind", "mlp"]) == 1
    assert "kind must be 'energy' or 'blocks'" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r"), "--init-from",
                 str(tmp_path)]) == 1
    assert "--init-from needs a model folder" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r"), "--extra-data",
                 str(tmp_path / "xtb.npz")]) == 1
    assert "xtb.npz: extra dataset (--extra-data) not found" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r"), "--supplement-data",
                 str(tmp_path / "nx.npz")]) == 1
    assert "nx.npz: supplement dataset (--supplement-data) not found" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r"), "--frequency-data",
                 str(tmp_path / "qm9f.npz")]) == 1
    assert "qm9f.npz: frequency dataset (--frequency-data) not found" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r"), "--frequency-data",
                 str(tmp_path / "d.npz")]) == 1
    assert "d.npz: missing arrays ['freqs_cm1', 'F_offsets'] of a frequency dataset" in capsys.readouterr().err
