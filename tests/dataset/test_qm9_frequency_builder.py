"""scripts/build_qm9_frequency_set.py: its selection on a small qm9pack-format folder, and the committed N–N/N–O
frequency files (docs/nitrogen_bonds.md) against their stated rule."""

import csv
from pathlib import Path

import numpy as np
import pytest

from hessfit.structures import load_frequency_dataset
from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ["Index", "SMILES", "InChi", "Elements", "XYZ_Ang", "Harmonic_Freq_cmi"]


def _row(index, smiles, inchi, symbols, n_freq, imaginary=False):
    xyz = [[0.9 * k, 0.3 * (k % 2), 0.1 * k * k] for k in range(len(symbols))]  # non-collinear
    freqs = [100.0 + 10 * k for k in range(n_freq)]
    if imaginary:
        freqs[0] = -30.0
    return {"Index": index, "SMILES": smiles, "InChi": inchi, "Elements": repr(symbols), "XYZ_Ang": repr(xyz),
            "Harmonic_Freq_cmi": repr(freqs)}


def _write_pack(folder: Path) -> None:
    rows = [
        _row(1, "CN(=O)=O", "InChI=1S/CH3NO2/c1-2(3)4/h1H3", list("CNOOHHH"), 15),  # nitromethane
        _row(2, "NN", "InChI=1S/H4N2/c1-2/h1-2H2", list("NNHHHH"), 12),  # hydrazine
        _row(3, "CCO", "InChI=1S/C2H6O/c1-2-3/h3H,2H2,1H3", list("CCOHHHHHH"), 21),  # ethanol: no N–N / N–O
        _row(4, "CON", "InChI=1S/CH5NO/c1-3-2/h2H2,1H3", list("CONHHHHH"), 18),  # methoxyamine
        _row(5, "NO", "InChI=1S/H3NO/c1-2/h2H,1H2", list("NOHHH"), 9, imaginary=True),  # cut: imaginary mode
        _row(6, "CF", "InChI=1S/CH3F/c1-2/h1H3", list("CFHHH"), 9),  # cut: fluorine
    ]
    with (folder / "qm9_part1.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS)
        w.writeheader()
        w.writerows(rows)


def test_selection_requires_patterns_excludes_indices_and_keeps_all_matches(tmp_path):
    pytest.importorskip("rdkit")
    from rdkit import Chem

    mod = load_script("build_qm9_frequency_set")
    _write_pack(tmp_path)
    require = (Chem.MolFromSmarts("[#7]~[#8]"), Chem.MolFromSmarts("[#7]~[#7]"))
    pool = list(mod.candidates(tmp_path, set(), 9))
    assert [c[0] for c in pool] == [1, 2, 3, 4]  # the imaginary-mode and fluorine molecules are cut
    pool = list(mod.candidates(tmp_path, set(), 9, frozenset({2}), require))
    assert [c[0] for c in pool] == [1, 4]  # ethanol has no N–N/N–O bond; index 2 is excluded
    nitro = [Chem.MolFromSmarts("[#7](~[#8])~[#8]")]
    everything = list(mod.candidates(tmp_path, set(), 9))
    for seed in range(5):  # nitromethane is always in a one-molecule sample; a plain draw varies
        assert list(mod._sample(everything, 1, nitro, seed)) == [0]
    draws = {tuple(mod._sample(everything, 2, [], seed)) for seed in range(20)}
    assert len(draws) > 1 and all(len(set(d)) == 2 for d in draws)


@pytest.mark.parametrize("name", ["qm9_nx_freqs_3000.npz", "qm9_nx_freqs_700.npz"])
def test_committed_nitrogen_bond_sets_follow_their_rule(name):
    pytest.importorskip("rdkit")
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    ds = load_frequency_dataset(ROOT / "data" / "pretrain" / name)
    mols = [Chem.MolFromSmiles(s) for s in ds.extra["smiles"]]
    bond = [Chem.MolFromSmarts(q) for q in ("[#7]~[#8]", "[#7]~[#7]")]
    assert all(m is not None and any(m.HasSubstructMatch(q) for q in bond) for m in mols)
    nitro = Chem.MolFromSmarts("[#7](~[#8])~[#8]")
    assert sum(m.HasSubstructMatch(nitro) for m in mols) == 138
    assert len(set(ds.extra["qm9_index"].tolist())) == len(ds) == int(name.split("_")[-1].split(".")[0])
    heavy = np.array([(np.asarray(ds.structure(i).numbers) > 1).sum() for i in range(len(ds))])
    assert heavy.max() == 9
    shared = ROOT.parent / "shared" / "data" / "hessians" / "qm9_b3lyp_hessians.npz"
    if shared.is_file():  # none of the Hessian set's molecules (train, validation or test) is labelled again
        assert not set(ds.extra["qm9_index"].tolist()) & set(np.load(shared)["qm9_index"].tolist())
