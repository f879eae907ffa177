"""The CLI's caches: traced network programs (jax.export) and JAX's persistent compilation cache; lazy imports."""

import os
import subprocess
import sys

import numpy as np
import pytest

from hessfit.cli._cache import ENV_OFF, cache_dir, enable_compile_cache
from hessfit.model import pack, species_index
from hessfit.model import _trace_cache as tc
from hessfit.model._hessian import batch_hessians

HEAVY = ("jax", "matplotlib", "xarray", "ase", "e3nn_jax", "flax", "scipy")


def test_help_imports_no_scientific_stack(data_dir):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "hessfit.cli", "--help"], capture_output=True,
                          text=True, cwd=data_dir.parent)
    assert proc.returncode == 0 and "predict" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "hessfit.cli._common" in imported  # the parse worked: the command modules were imported
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def _tiny_batch(structure, config):
    sp = species_index(structure.numbers, config.elements)
    return pack([sp], [np.asarray(structure.positions, float)], cutoff_angstrom=config.cutoff_angstrom)


def _plain_then_exported(model, batch, folder, monkeypatch, prefix: str):
    """The model's Hessian without the trace cache, then through it (into ``folder``): one export file, same result."""
    monkeypatch.delenv(tc.ENV_DIR, raising=False)
    plain = batch_hessians(model.config, model.params, batch)[0]
    monkeypatch.setenv(tc.ENV_DIR, str(folder))
    monkeypatch.setattr(tc, "_CALLS", {})
    exported = batch_hessians(model.config, model.params, batch)[0]
    files = list(folder.glob(f"{prefix}-*.jaxexport"))
    assert len(files) == 1 and files[0].stat().st_size > 1000
    np.testing.assert_allclose(exported, plain, rtol=1e-10, atol=1e-12 * np.abs(plain).max())


def test_trace_cache_same_hessian_and_reused_without_tracing(tiny_model, qm9_molecule, tmp_path, monkeypatch):
    s, _ = qm9_molecule
    batch = _tiny_batch(s, tiny_model.config)
    _plain_then_exported(tiny_model, batch, tmp_path, monkeypatch, "energy_columns")
    # as a fresh process: nothing in memory; the function is not traced again (counted when traced)
    from hessfit.model._hessian import _jitted_columns

    traced = []

    def counting():  # the factory call_traced calls only when it must trace
        traced.append(1)
        return _jitted_columns(tiny_model.config)

    args = (tiny_model.params, np.asarray(batch.positions, tiny_model.config.dtype), batch.graph, batch.slot,
            *_ids_and_chunks(batch))
    monkeypatch.setattr(tc, "_CALLS", {})
    cols = tc.call_traced(counting, "energy_columns", tiny_model.config, *args)
    assert traced == []
    np.testing.assert_allclose(np.asarray(cols), np.asarray(_jitted_columns(tiny_model.config)(*args)), rtol=1e-12,
                               atol=1e-14)
    # another model config is another key: traced and exported anew
    other = type(tiny_model.config).from_dict({**tiny_model.config.to_dict(), "cutoff_angstrom": 3.5})
    tc.call_traced(counting, "energy_columns", other, *args)
    assert traced == [1] and len(list(tmp_path.glob("energy_columns-*.jaxexport"))) == 2
    # off: a plain call
    monkeypatch.delenv(tc.ENV_DIR)
    assert tc.call_traced(lambda: (lambda *a: "plain call"), "energy_columns", other) == "plain call"


def test_a_trace_cache_hit_imports_no_e3nn(tmp_path):
    """A fresh process whose network program is in the trace cache predicts without importing e3nn-jax (~1.5 s;
    lazy `hessfit.model`, `call_traced` factories): the start-up saving of the CLI. (flax, ~0.1 s, reads the
    weights.)"""
    import subprocess
    import sys

    code = ("import sys\nfrom hessfit.structures import Structure\nfrom hessfit.model import predict_hessian\n"
            "import numpy as np\n"
            "s = Structure.from_numbers([8, 1, 1], np.array([[0, 0, 0.12], [0, 0.76, -0.47], "
            "[0, -0.76, -0.47]]), name='water')\n"
            "h = predict_hessian(s, 'nequip_qm9')\nnp.save(sys.argv[1], h)\n"
            "print('e3nn_jax' in sys.modules)")
    env = {**__import__("os").environ, "HESSFIT_TRACE_CACHE_DIR": str(tmp_path / "traces")}
    runs = [subprocess.run([sys.executable, "-c", code, str(tmp_path / f"h{k}.npy")], env=env, capture_output=True,
                           text=True) for k in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr[-2000:] + runs[1].stderr[-2000:]
    assert runs[0].stdout.strip() == "True"  # first run: traced and exported
    assert runs[1].stdout.strip() == "False"  # second run: the export, no model code
    np.testing.assert_allclose(np.load(tmp_path / "h1.npy"), np.load(tmp_path / "h0.npy"), rtol=1e-10, atol=1e-12)


def _ids_and_chunks(batch):
    from hessfit.model._hessian import INFERENCE_CHUNK, column_ids, real_chunks

    ids = column_ids(batch.max_atoms, chunk_size=INFERENCE_CHUNK)
    return ids, real_chunks(ids)


def test_block_model_through_trace_cache(tiny_block_model, qm9_molecule, tmp_path, monkeypatch):
    s, _ = qm9_molecule
    _plain_then_exported(tiny_block_model, _tiny_batch(s, tiny_block_model.config), tmp_path, monkeypatch,
                         "direct_hessian")


def test_enable_compile_cache_switches(tmp_path, monkeypatch):
    monkeypatch.setenv("HESSFIT_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.setenv(ENV_OFF, "1")
    assert enable_compile_cache() is None
    monkeypatch.setenv(ENV_OFF, "0")
    import jax

    old = jax.config.jax_compilation_cache_dir
    monkeypatch.delenv(tc.ENV_DIR, raising=False)
    try:
        assert enable_compile_cache() == tmp_path / "c"
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c" / "jax")
        assert os.environ[tc.ENV_DIR] == str(tmp_path / "c" / "traced")
    finally:
        jax.config.update("jax_compilation_cache_dir", old)
        os.environ.pop(tc.ENV_DIR, None)


@pytest.mark.parametrize("switch", [None, "--no-cache", "env"])
def test_cli_fills_the_cache_unless_switched_off(switch, data_dir, tmp_path):
    env = {**os.environ, "HESSFIT_CACHE_DIR": str(tmp_path)}
    env.pop(ENV_OFF, None)
    env.pop(tc.ENV_DIR, None)
    # store every compilation: whether the eigensolver's takes over MIN_COMPILE_TIME_S depends on the machine's load
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    args = ["modes", str(data_dir / "qm9/qm9_100001.xyz"), "--hessian", str(data_dir / "qm9/qm9_100001_hessian.npy")]
    if switch == "--no-cache":
        args.append("--no-cache")  # accepted anywhere on the line
    elif switch == "env":
        env[ENV_OFF] = "1"
    proc = subprocess.run([sys.executable, "-m", "hessfit.cli", *args], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    stored = list((tmp_path / "jax").glob("*-cache")) if (tmp_path / "jax").exists() else []
    if switch is None:
        assert stored  # the eigensolver's compilation at least
    else:
        assert not stored and not (tmp_path / "jax").exists()
