"""Importing hessfit changes no global state, and its public entry points still compute in float64.

Each check runs in a fresh interpreter (this test process has float64 switched on globally by conftest)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import DATA, ROOT

PRELUDE = """
import json, sys, warnings
import jax, matplotlib
matplotlib.use("pdf")  # a user's choice, which hessfit must keep
import hessfit, hessfit.structures, hessfit.modes, hessfit.ins, hessfit.compare, hessfit.refine, hessfit.model
import hessfit.sources, hessfit.train, hessfit.finetune
from hessfit.structures import read_structure, read_hessian
s = read_structure(sys.argv[1]); h = read_hessian(sys.argv[2], n_atoms=s.n_atoms)
out = {"x64_after_import": bool(jax.config.jax_enable_x64)}
"""


def _run(body: str) -> dict:
    code = PRELUDE + body + "\nout['x64_after'] = bool(jax.config.jax_enable_x64)\n" \
                            "out['backend'] = matplotlib.get_backend()\nprint(json.dumps(out))\n"
    proc = subprocess.run([sys.executable, "-c", code, str(DATA / "qm9" / "qm9_100001.xyz"),
                           str(DATA / "qm9" / "qm9_100001_hessian.npy")], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_leaves_x64_and_backend_alone_and_modes_spectra_are_float64(qm9_molecule):
    from hessfit.ins import InsConfig, simulate
    from hessfit.modes import normal_modes

    out = _run("""
from hessfit.modes import normal_modes
from hessfit.ins import InsConfig, simulate
m = normal_modes(s, h)
ds = simulate(s, h, InsConfig(instrument="tosca", max_order=2))
out["freq"] = [float(x) for x in m.frequencies_cm1]
out["freq_dtype"] = str(m.frequencies_cm1.dtype)
out["total"] = [float(x) for x in ds["total"].values]
out["total_dtype"] = str(ds["total"].dtype)
""")
    assert out["x64_after_import"] is False and out["x64_after"] is False
    assert out["backend"] == "pdf"
    assert out["freq_dtype"] == "float64" and out["total_dtype"] == "float64"
    s, h = qm9_molecule  # the same calculations in this process, float64 switched on globally
    np.testing.assert_allclose(out["freq"], np.asarray(normal_modes(s, h).frequencies_cm1), rtol=1e-12, atol=1e-9)
    ref = simulate(s, h, InsConfig(instrument="tosca", max_order=2))["total"].values
    np.testing.assert_allclose(out["total"], ref, rtol=1e-9, atol=1e-12 * ref.max())


@pytest.mark.parametrize("model", ["nequip_qm9"])
def test_network_prediction_without_global_float64_matches(qm9_molecule, model):
    from hessfit.model import predict_hessian

    out = _run(f"""
from hessfit.model import predict_hessian
out["h"] = predict_hessian(s, "{model}").tolist()
""")
    s, _ = qm9_molecule
    np.testing.assert_allclose(out["h"], predict_hessian(s, model), rtol=1e-5, atol=1e-5)
    assert out["x64_after"] is False
