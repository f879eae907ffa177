"""Release tool: record the training molecules' atom environments (`hessfit.structures.atom_environments`) in the
``training_data`` summary of shipped networks trained before the trainer recorded them, so that `check_domain` can
name atoms whose bonding environment the network never saw.

    python scripts/record_atom_environments.py --data ../shared/data/hessians/qm9_b3lyp_hessians.npz \\
        --models nequip_qm9 blocks_qm9

Only for networks trained on the Hessian set alone (no extra or frequency sets): their run's ``split.json`` in
``checkpoints/NAME/`` gives the training molecules, and the recomputed summary must agree with the stored one in
molecule count and shortest distances before anything is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    from hessfit.structures import load_dataset
    from hessfit.train._trainer import training_data_summary

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="the Hessian dataset the networks were trained on")
    p.add_argument("--models", nargs="+", default=["nequip_qm9", "blocks_qm9"])
    args = p.parse_args(argv)
    ds = load_dataset(args.data)
    for name in args.models:
        path = ROOT / "hessfit" / "model" / "weights" / name / "model.json"
        doc = json.loads(path.read_text())
        meta = doc["metadata"]
        if meta.get("extra_training_data"):
            raise SystemExit(f"{path}: trained on extra sets too; their molecules are not in {args.data}")
        split = json.loads((ROOT / "checkpoints" / name / "split.json").read_text())
        summary = training_data_summary(ds, split["train"])
        stored = meta["training_data"]
        if (summary["n_molecules"], summary["min_distance_angstrom"]) != (stored["n_molecules"],
                                                                          stored["min_distance_angstrom"]):
            raise SystemExit(f"{path}: the recomputed training summary differs from the stored one")
        stored["atom_environments"] = summary["atom_environments"]
        path.write_text(json.dumps(doc, indent=2))
        print(f"{name}: {len(summary['atom_environments'])} environments recorded")


if __name__ == "__main__":
    main()
