"""Are molecules with bonding environments absent from the training data (`check_domain`'s warning) less accurate?

    OMP_NUM_THREADS=2 python benchmarks/atom_environments.py [--sets panel panel2 panel3 panel4 panel5 dft]
        [--model cascade_pairclass]

For each out-of-domain set (`benchmarks/out_of_domain.py`'s), splits the molecules by whether any atom has an
environment (`hessfit.structures.atom_environments`) that `check_domain` flags (one absent from the training data
of `hessfit.model.domain_network`), and prints the model's mean frequency MAE against the set's reference (xTB for
the panels, B3LYP for the DFT set) for both groups, with the new environments of each flagged molecule. Prediction
time: a few minutes per panel on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from out_of_domain import load_set  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=["panel", "panel2", "panel3", "panel4", "panel5", "dft"])
    p.add_argument("--model", default="cascade_pairclass")
    args = p.parse_args()

    from hessfit.model import domain_network, load_model, predict_hessians
    from hessfit.model._predict import training_domain
    from hessfit.structures import HessfitWarning, atom_environments
    from hessfit.train import evaluate

    warnings.simplefilter("ignore", HessfitWarning)
    model = load_model(args.model)
    seen = training_domain(domain_network(model).metadata).get("atom_environments")  # what check_domain uses
    if seen is None:
        raise SystemExit(f"{args.model}: the network its domain check uses records no atom environments")
    print("| set | flagged: molecules, frequency MAE (cm⁻¹) | others: molecules, frequency MAE (cm⁻¹) |")
    print("|---|---|---|")
    notes = []
    for name in args.sets:
        ds, idx = load_set(name, None)
        known = [i for i in idx if set(int(z) for z in ds.structure(i).numbers) <= {1, 6, 7, 8}]
        res = evaluate(lambda ss: predict_hessians(ss, model, check=False), ds, known, spectra=False)
        new = {i: sorted(set(atom_environments(ds.structure(i))) - seen) for i in known}
        mae = {int(row["index"]): row["frequency_mae_cm1"] for row in res.per_molecule}  # skipped ones absent
        flagged = [i for i in known if new[i] and i in mae]
        others = [i for i in known if not new[i] and i in mae]
        cells = [f"{len(g)}: {np.mean([mae[i] for i in g]):.1f}" if g else "0" for g in (flagged, others)]
        print(f"| {name} ({len(known)}) | {cells[0]} | {cells[1]} |", flush=True)
        notes += [f"{name} #{i}: {', '.join(new[i])} ({mae[i]:.1f} cm⁻¹)" for i in flagged]
    print("\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
