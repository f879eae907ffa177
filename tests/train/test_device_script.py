"""scripts/device_train.py: the compact int16 training set round-trips within half a quantisation step."""

import json

import numpy as np

from hessfit.structures import load_dataset
from hessfit.structures._dataset import from_arrays
from tests.helpers import load_script


def test_compact_training_set_round_trip(tmp_path):
    mod = load_script("device_train")
    rng = np.random.default_rng(0)
    sizes = [3, 5, 4]
    hess = [(lambda a: 40 * (a + a.T))(rng.normal(size=(3 * n, 3 * n))) for n in sizes]
    ds = from_arrays([np.full(n, 6) for n in sizes], [rng.normal(size=(n, 3)) * 2 for n in sizes], hess)
    np.savez(tmp_path / "full.npz", natoms=ds.natoms, Z=ds.Z, R=ds.R, H_triu=ds.H_triu, H_offsets=ds.H_offsets)
    (tmp_path / "split.json").write_text(json.dumps({"train": [0, 2], "val": [], "test": [1]}))
    err = mod.make_compact(str(tmp_path / "full.npz"), str(tmp_path / "split.json"), str(tmp_path / "q.npz"))
    mod.unpack(str(tmp_path / "q.npz"), str(tmp_path / "back.npz"))
    back = load_dataset(tmp_path / "back.npz")
    for i in (0, 2):  # kept: within half a step of max|H|/32000
        step = np.abs(ds.hessian(i)).max() / 32000
        assert np.abs(back.hessian(i) - ds.hessian(i)).max() <= 0.5 * step * (1 + 1e-5)
    assert err <= 0.5 * max(np.abs(h).max() for h in hess) / 32000 * (1 + 1e-5)
    assert not back.hessian(1).any()  # test molecule left out
    np.testing.assert_array_equal(back.R, ds.R)
