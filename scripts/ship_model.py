"""Release tool: copy a trained model into the package as the shipped default weights, with its reference metrics.

    python scripts/ship_model.py runs/nequip_qm9/best [--metrics evaluation/metrics.json]

Writes ``hessfit/model/weights/nequip_qm9/`` (an energy model) or ``hessfit/model/weights/blocks_qm9/`` (a direct
block model) (model.json + params.msgpack). ``model.json`` metadata gains
``bundled_molecule_metrics`` (metrics on tests/model/data/qm9_100004, a test-split molecule, which the test
suite checks are reproduced) and, with ``--metrics``, the test-split summary of ``hessfit evaluate``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

BUNDLED = ("qm9_100004.xyz", "qm9_100004_hessian.npy")
CHECKOUT = Path(__file__).resolve().parents[1]  # this script lives in <checkout>/scripts


def bundled_molecule_metrics(model, bundled_dir: str | Path | None = None) -> dict:
    """Metrics of ``model`` (a Model or Ensemble) on the bundled test-split molecule, as stored in model.json."""
    from hessfit.model import predict_hessian
    from hessfit.structures import read_hessian, read_structure
    from hessfit.train._evaluate import hessian_metrics

    bundled_dir = Path(bundled_dir) if bundled_dir else CHECKOUT / "tests" / "model" / "data"
    s = read_structure(bundled_dir / BUNDLED[0])
    ref = read_hessian(bundled_dir / BUNDLED[1], n_atoms=s.n_atoms)
    m = hessian_metrics(s, predict_hessian(s, model), ref)
    return {"file": BUNDLED[0], "hessian_file": BUNDLED[1], "split": "test",
            **{k: m[k] for k in ("hessian_r2", "hessian_mae", "hessian_rmse", "frequency_mae_cm1")}}


def ship_model(source: str | Path, *, metrics: str | Path | None = None, dest: str | Path | None = None,
               bundled_dir: str | Path | None = None) -> Path:
    """Copy model folder ``source`` to ``dest`` (default: the package weights) adding reference metrics."""
    from hessfit.model import Model, load_model, save_model

    model = load_model(source)
    meta = dict(model.metadata)
    meta["bundled_molecule_metrics"] = bundled_molecule_metrics(model, bundled_dir)
    if metrics is not None:
        meta["test_metrics"] = json.loads(Path(metrics).read_text())
    default = CHECKOUT / "hessfit" / "model" / "weights" / ("blocks_qm9" if model.config.kind == "blocks" else "nequip_qm9")
    return save_model(dest or default, Model(model.config, model.params, meta))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="ship a trained model into hessfit/model/weights")
    ap.add_argument("source", help="model folder, e.g. runs/nequip_qm9/best")
    ap.add_argument("--metrics", default=None, help="metrics.json of `hessfit evaluate` on the test split")
    ap.add_argument("--dest", default=None, help="destination folder (default: the checkout's package weights of its kind)")
    args = ap.parse_args(argv)
    path = ship_model(args.source, metrics=args.metrics, dest=args.dest)
    print(f"shipped {args.source} -> {path}")


if __name__ == "__main__":
    main()
