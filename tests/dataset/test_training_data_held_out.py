"""The committed training data beyond QM9 (data/pretrain) keep the out-of-domain sets (data/ood) out: no molecule
shares an InChIKey skeleton (connectivity, so stereoisomers count) with a held-out molecule, and the built family
minima are the listed molecules. The panel halves used for reporting name real panel molecules."""

import sys
from pathlib import Path

import numpy as np
import pytest

from hessfit.dataset import read_build_input
from hessfit.structures import load_dataset

ROOT = Path(__file__).resolve().parents[2]
PRETRAIN = ROOT / "data" / "pretrain"
OOD = ROOT / "data" / "ood"


def _skeletons(path):
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return {Chem.MolToInchiKey(m)[:14] for item in read_build_input(path)
            if (m := Chem.MolFromSmiles(item["smiles"])) is not None}


@pytest.mark.parametrize("name", ["nci_flexible.smi", "families.smi"])
def test_training_smiles_share_no_skeleton_with_held_out_sets(name):
    pytest.importorskip("rdkit")
    held = set().union(*(_skeletons(OOD / f) for f in ("panel_xtb.smi", "panel2_xtb.smi", "panel3_xtb.smi",
                                                         "panel4_xtb.smi", "panel5_xtb.smi", "dft_b3lyp.smi")))
    train = _skeletons(PRETRAIN / name)
    assert len(held) >= 190 and len(train) > 100
    assert not train & held


def test_family_minima_are_listed_molecules_and_panel_halves_are_panel_names():
    listed = {item["key"]: item["smiles"] for item in read_build_input(PRETRAIN / "families.smi")}
    ds = load_dataset(PRETRAIN / "families_xtb_minima.npz")
    keys, smiles = np.asarray(ds.extra["key"]), np.asarray(ds.extra["smiles"])
    assert len(ds) == 124 and len(set(keys)) == len(ds)
    assert all(listed[k] == s for k, s in zip(keys, smiles))
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_family_set import covered_panel_names

    panel = {item["key"] for item in read_build_input(OOD / "panel_xtb.smi")}
    covered = covered_panel_names()
    assert len(covered) == 24 and covered <= panel
