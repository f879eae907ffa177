"""Dataset builder: local 2-worker Dask cluster, resumability, failure log, inputs, format."""

import json

import numpy as np
import pytest

from hessfit.errors import ConfigError, InputFormatError
from hessfit.dataset import (build_dataset, compute_entry, dataset_summary, failures_path, merge_parts, parts_dir,
                             read_build_input, read_failures)
from hessfit.dataset._build import _write_part
from hessfit.sources import get_source
from hessfit.structures import load_dataset, write_xyz

from tests.sources._reference import frequencies
from tests.sources.conftest import needs_dask, needs_rdkit

SMILES = "smiles name\nO water\nC methane\nC#C acetylene\nnot_a_smiles broken\n"


@needs_dask
def test_local_cluster_build_then_resume(tmp_path):
    smi = tmp_path / "mols.smi"
    smi.write_text(SMILES)
    out = tmp_path / "out.npz"
    r = build_dataset(smi, out, method="mmff", n_workers=2, progress=False)
    assert (r.n_input, r.n_done, r.n_failed, r.n_skipped, r.n_total) == (4, 3, 1, 0, 3)
    ds = load_dataset(out)
    assert sorted(ds.extra["key"].tolist()) == ["acetylene", "methane", "water"]
    assert set(ds.extra["level_of_theory"].tolist()) == {"MMFF94"}
    assert np.all(ds.extra["max_force_eV_A"] <= 0.01)
    (fail,) = read_failures(out)
    assert fail["key"] == "broken" and "cannot parse SMILES" in fail["error"]
    assert not parts_dir(out).exists()
    # the stored Hessian equals a direct computation at the stored geometry (float32 storage)
    i = ds.extra["key"].tolist().index("water")
    s = ds.structure(i)
    direct = get_source("mmff").hessian(s).hessian
    np.testing.assert_allclose(ds.hessian(i), direct, atol=1e-5 * np.abs(direct).max())
    assert frequencies(s, ds.hessian(i)).min() > 1000
    # rerun on an existing cluster (--scheduler ADDRESS): finished and failed molecules are skipped
    from dask.distributed import LocalCluster

    smi.write_text(SMILES + "CC ethane\n")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        r2 = build_dataset(smi, out, method="mmff", scheduler=cluster.scheduler_address, progress=False)
    assert (r2.n_done, r2.n_failed, r2.n_skipped, r2.n_total) == (1, 0, 4, 4)
    assert len(read_failures(out)) == 1
    with pytest.raises(ConfigError, match="cannot connect to the Dask scheduler at 'tcp://127.0.0.1:1'"):
        build_dataset(smi, tmp_path / "new.npz", method="mmff",
                      scheduler="tcp://127.0.0.1:1", progress=False, connect_timeout_s=1)


@needs_rdkit
def test_interrupted_run_keeps_finished_parts(tmp_path):
    """A crash after a molecule's part file is written loses nothing: the next run merges it."""
    smi = tmp_path / "mols.smi"
    smi.write_text("O water\nC methane\n")
    out = tmp_path / "out.npz"
    entry = compute_entry(read_build_input(smi)[0], "mmff", {})
    assert entry["ok"]
    _write_part(out, entry)  # as the driver does, then "crash" before merging
    assert not out.exists() and len(list(parts_dir(out).glob("*.npz"))) == 1
    r = build_dataset(smi, out, method="mmff", n_workers=0, progress=False)
    assert (r.n_done, r.n_skipped, r.n_total) == (1, 1, 2)
    # a part whose key is already merged (crash between merge and cleanup) is dropped, not duplicated
    _write_part(out, entry)
    assert merge_parts(out) == 0 and len(load_dataset(out)) == 2


@needs_rdkit
def test_retry_failed_and_unconverged_recorded(tmp_path):
    smi = tmp_path / "m.smi"
    smi.write_text("CCO ethanol\n")
    out = tmp_path / "o.npz"
    r = build_dataset(smi, out, method="mmff", n_workers=0, max_steps=1, fmax_eV_A=1e-6, progress=False)
    assert r.n_failed == 1
    assert "optimisation did not converge in 1 steps" in read_failures(out)[0]["error"]
    r = build_dataset(smi, out, method="mmff", n_workers=0, progress=False)
    assert r.n_skipped == 1 and r.n_done == 0
    r = build_dataset(smi, out, method="mmff", n_workers=0, progress=False, retry_failed=True)
    assert r.n_done == 1 and r.n_total == 1


@needs_rdkit
def test_xyz_directory_and_dataset_inputs(tmp_path, water, ethanol):
    d = tmp_path / "xyz"
    d.mkdir()
    write_xyz(d / "water.xyz", water)
    write_xyz(d / "ethanol.xyz", ethanol)
    out = tmp_path / "a.npz"
    r = build_dataset(d, out, method="mmff", n_workers=0, progress=False)
    assert r.n_done == 2 and sorted(load_dataset(out).extra["key"].tolist()) == ["ethanol", "water"]
    # an existing dataset as input, recomputed at its own geometries
    out2 = tmp_path / "b.npz"
    r = build_dataset(out, out2, method="mmff", n_workers=0, optimize=False, progress=False)
    assert r.n_done == 2
    a, b = load_dataset(out), load_dataset(out2)
    np.testing.assert_allclose(a.H_triu, b.H_triu, atol=1e-4)


@needs_rdkit
def test_level_of_theory_conflict_and_bad_inputs(tmp_path):
    smi = tmp_path / "m.smi"
    smi.write_text("O water\n")
    out = tmp_path / "o.npz"
    build_dataset(smi, out, method="mmff", n_workers=0, progress=False)
    with pytest.raises(ConfigError, match="holds MMFF94 Hessians; this run computes MMFF94s"):
        build_dataset(smi, out, method="mmff", options={"variant": "MMFF94s"}, n_workers=0, progress=False)
    smi.write_text("O a\nC a\n")
    with pytest.raises(InputFormatError, match=r"duplicate molecule keys \['a'\]"):
        build_dataset(smi, tmp_path / "x.npz", method="mmff", n_workers=0, progress=False)
    with pytest.raises(ConfigError, match="output must be a .npz"):
        build_dataset(smi, tmp_path / "x.h5", method="mmff", n_workers=0, progress=False)
    with pytest.raises(ConfigError, match="method 'file' gives no forces"):
        build_dataset(smi, tmp_path / "x.npz", method="file", options={"path": "h.npy"}, n_workers=0)


@needs_rdkit
def test_summary(tmp_path):
    smi = tmp_path / "m.smi"
    smi.write_text("O water\nCCO ethanol\nXX bad\n")
    out = tmp_path / "o.npz"
    build_dataset(smi, out, method="mmff", n_workers=0, progress=False)
    s = dataset_summary(out)
    assert s["n_molecules"] == 2 and (s["atoms_min"], s["atoms_max"]) == (3, 9)
    assert s["elements"] == {"H": 8, "C": 2, "O": 2}
    assert s["levels_of_theory"] == {"MMFF94": 2} and s["n_failures"] == 1
    assert json.loads(failures_path(out).read_text().splitlines()[0])["key"] == "bad"
