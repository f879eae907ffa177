"""Build GFN2-xTB Hessians of molecules in the INS panel's chemical families (issue 17), resumably.

    python scripts/build_family_set.py select   # the fixed family lists -> data/pretrain/families.smi
    python scripts/build_family_set.py build --workers 2
    python scripts/build_family_set.py export   # the built xTB minima -> data/pretrain/families_xtb_minima.npz

Why: five panel molecules (trehalose, sucrose, L-leucine, lidocaine, n-tetracosane) keep a mode below −50 cm⁻¹
in every energy-hinge run (docs/curvature_hinge.md). These lists bring xTB Hessians of their chemical families,
never the panel's own molecules: every molecule here is compared with both out-of-domain sets by InChIKey
skeleton (connectivity; stereoisomers count as the same molecule) and cut if it matches.

Because training then shares chemistry with part of the panel, the panel is reported in two halves,
fixed here before any molecule was built: ``PANEL_COVERED`` lists the panel molecules whose family is in these
lists; the rest have no family in this data.

Build: `hessfit.dataset.build_dataset` with the ``xtb`` source (RDKit conformer -> GFN2-xTB minimum -> xTB
Hessian), into the git-ignored ``scratch/pretrain/families_xtb.npz``; a rerun skips finished molecules.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_pretrain_set import HELD_OUT, SADDLE_CM1, _skeleton, minima_indices, mol_hydrogens  # noqa: E402

SMILES_OUT = ROOT / "data" / "pretrain" / "families.smi"
BUILD_OUT = ROOT / "scratch" / "pretrain" / "families_xtb.npz"
TRAIN_OUT = ROOT / "data" / "pretrain" / "families_xtb_minima.npz"

# name: SMILES (neutral, gas phase; stereo-free where the isomer does not matter for training)
FAMILIES: dict[str, dict[str, str]] = {
    "sugar": {
        "xylopyranose": "OC1COC(O)C(O)C1O",
        "2-deoxyribofuranose": "OCC1OC(O)CC1O",
        "2-deoxyribopyranose": "OC1COC(O)CC1O",
        "2-deoxyglucopyranose": "OCC1OC(O)CC(O)C1O",
        "6-deoxyhexopyranose": "CC1OC(O)C(O)C(O)C1O",
        "methyl_hexopyranoside": "COC1OC(CO)C(O)C(O)C1O",
        "methyl_xylopyranoside": "COC1COC(O)C(O)C1O",
        "fructopyranose": "OCC1(O)OCC(O)C(O)C1O",
        "fructofuranose": "OCC1OC(O)(CO)C(O)C1O",
        "methyl_fructofuranoside": "COC1(CO)OC(CO)C(O)C1O",
        "hexofuranose": "OCC(O)C1OC(O)C(O)C1O",
        "1-5-anhydrohexitol": "OCC1OCC(O)C(O)C1O",
        "levoglucosan": "C12OC(CO1)C(O)C(O)C2O",
        "hexuronic_acid": "OC(=O)C1OC(O)C(O)C(O)C1O",
        "N-acetylglucosamine": "CC(=O)NC1C(O)OC(CO)C(O)C1O",
        "glucosamine": "NC1C(O)OC(CO)C(O)C1O",
        "gluconolactone": "OCC1OC(=O)C(O)C(O)C1O",
        "ascorbic_acid": "OCC(O)C1OC(=O)C(O)=C1O",
        "quinic_acid": "OC(=O)C1(O)CC(O)C(O)C(O)C1",
        "quercitol": "OC1CC(O)C(O)C(O)C1O",
        "glycerol": "OCC(O)CO",
        "erythritol": "OCC(O)C(O)CO",
        "xylitol": "OCC(O)C(O)C(O)CO",
        "sorbitol": "OCC(O)C(O)C(O)C(O)CO",
        "1-4-disaccharide": "OCC1OC(OC2C(CO)OC(O)C(O)C2O)C(O)C(O)C1O",
        "1-6-disaccharide": "OCC1OC(OCC2OC(O)C(O)C(O)C2O)C(O)C(O)C1O",
        "1-3-disaccharide": "OCC1OC(O)C(O)C(OC2OC(CO)C(O)C(O)C2O)C1O",
        "1-2-disaccharide": "OCC1OC(O)C(OC2OC(CO)C(O)C(O)C2O)C(O)C1O",
        "turanose_furanose": "OCC1OC(OC2C(O)C(CO)OC2(O)CO)C(O)C(O)C1O",
        "palatinose_furanose": "OCC1OC(OCC2OC(O)(CO)C(O)C2O)C(O)C(O)C1O",
        "maltitol": "OCC1OC(OC(C(O)CO)C(O)C(O)CO)C(O)C(O)C1O",
        "raffinose": "OCC1OC(OCC2OC(OC3(CO)OC(CO)C(O)C3O)C(O)C(O)C2O)C(O)C(O)C1O",
    },
    "amino_acid": {
        "glycine": "NCC(=O)O",
        "alanine": "CC(N)C(=O)O",
        "serine": "NC(CO)C(=O)O",
        "threonine": "CC(O)C(N)C(=O)O",
        "isoleucine": "CCC(C)C(N)C(=O)O",
        "norleucine": "CCCCC(N)C(=O)O",
        "norvaline": "CCCC(N)C(=O)O",
        "tert-leucine": "CC(C)(C)C(N)C(=O)O",
        "2-aminobutyric_acid": "CCC(N)C(=O)O",
        "2-aminoisobutyric_acid": "CC(C)(N)C(=O)O",
        "proline": "OC(=O)C1CCCN1",
        "hydroxyproline": "OC(=O)C1CC(O)CN1",
        "pipecolic_acid": "OC(=O)C1CCCCN1",
        "aspartic_acid": "NC(CC(=O)O)C(=O)O",
        "glutamic_acid": "NC(CCC(=O)O)C(=O)O",
        "asparagine": "NC(=O)CC(N)C(=O)O",
        "lysine": "NCCCCC(N)C(=O)O",
        "ornithine": "NCCCC(N)C(=O)O",
        "arginine": "NC(=N)NCCCC(N)C(=O)O",
        "citrulline": "NC(=O)NCCCC(N)C(=O)O",
        "homoserine": "NC(CCO)C(=O)O",
        "beta-alanine": "NCCC(=O)O",
        "gamma-aminobutyric_acid": "NCCCC(=O)O",
        "sarcosine": "CNCC(=O)O",
        "N-N-dimethylglycine": "CN(C)CC(=O)O",
        "phenylglycine": "NC(c1ccccc1)C(=O)O",
        "homophenylalanine": "NC(CCc1ccccc1)C(=O)O",
        "DOPA": "NC(Cc1ccc(O)c(O)c1)C(=O)O",
        "5-hydroxytryptophan": "NC(Cc1c[nH]c2ccc(O)cc12)C(=O)O",
        "kynurenine": "NC(CC(=O)c1ccccc1N)C(=O)O",
        "cyclohexylalanine": "NC(CC1CCCCC1)C(=O)O",
        "N-acetylglycine": "CC(=O)NCC(=O)O",
        "N-acetylalanine": "CC(=O)NC(C)C(=O)O",
        "Gly-Gly": "NCC(=O)NCC(=O)O",
        "Ala-Ala": "CC(N)C(=O)NC(C)C(=O)O",
        "Gly-Ala": "NCC(=O)NC(C)C(=O)O",
        "Ala-Gly": "CC(N)C(=O)NCC(=O)O",
        "Gly-Leu": "NCC(=O)NC(CC(C)C)C(=O)O",
        "Leu-Gly": "CC(C)CC(N)C(=O)NCC(=O)O",
        "Val-Gly": "CC(C)C(N)C(=O)NCC(=O)O",
        "Gly-Phe": "NCC(=O)NC(Cc1ccccc1)C(=O)O",
        "Gly-Gly-Gly": "NCC(=O)NCC(=O)NCC(=O)O",
        "Ac-Ala-NHMe": "CC(=O)NC(C)C(=O)NC",
        "Ac-Val-NHMe": "CC(=O)NC(C(C)C)C(=O)NC",
        "Ac-Leu-NHMe": "CC(=O)NC(CC(C)C)C(=O)NC",
        "Ac-Phe-NHMe": "CC(=O)NC(Cc1ccccc1)C(=O)NC",
        "Ac-Pro-NHMe": "CC(=O)N1CCCC1C(=O)NC",
        "cyclo-Gly-Gly": "O=C1CNC(=O)CN1",
        "cyclo-Ala-Ala": "CC1NC(=O)C(C)NC1=O",
        "carnosine": "NCCC(=O)NC(Cc1c[nH]cn1)C(=O)O",
        "aspartame": "COC(=O)C(Cc1ccccc1)NC(=O)C(N)CC(=O)O",
    },
    "chain": {
        "n-pentane": "CCCCC",
        "n-heptane": "CCCCCCC",
        "n-nonane": "CCCCCCCCC",
        "n-undecane": "CCCCCCCCCCC",
        "n-tridecane": "CCCCCCCCCCCCC",
        "n-tetradecane": "CCCCCCCCCCCCCC",
        "n-pentadecane": "CCCCCCCCCCCCCCC",
        "n-heptadecane": "CCCCCCCCCCCCCCCCC",
        "n-octadecane": "CCCCCCCCCCCCCCCCCC",
        "n-eicosane": "CCCCCCCCCCCCCCCCCCCC",
        "n-docosane": "CCCCCCCCCCCCCCCCCCCCCC",
        "n-hexacosane": "CCCCCCCCCCCCCCCCCCCCCCCCCC",
        "2-methylheptane": "CC(C)CCCCC",
        "3-methyloctane": "CCC(C)CCCCC",
        "2-2-dimethylhexane": "CC(C)(C)CCCC",
        "isooctane": "CC(C)CC(C)(C)C",
        "2-methylundecane": "CC(C)CCCCCCCCC",
        "methylcyclohexane": "CC1CCCCC1",
        "n-butylcyclohexane": "CCCCC1CCCCC1",
        "cyclododecane": "C1CCCCCCCCCCC1",
        "decalin": "C1CCC2CCCCC2C1",
        "1-decene": "C=CCCCCCCCC",
        "1-octanol": "CCCCCCCCO",
        "1-dodecanol": "CCCCCCCCCCCCO",
        "1-10-decanediol": "OCCCCCCCCCCO",
        "octanoic_acid": "CCCCCCCC(=O)O",
        "dodecanoic_acid": "CCCCCCCCCCCC(=O)O",
        "hexadecanoic_acid": "CCCCCCCCCCCCCCCC(=O)O",
        "methyl_decanoate": "CCCCCCCCCC(=O)OC",
        "dodecylamine": "CCCCCCCCCCCCN",
        "dioctyl_ether": "CCCCCCCCOCCCCCCCC",
        "decanal": "CCCCCCCCCC=O",
    },
    "anilide_anaesthetic": {
        "prilocaine": "CCCNC(C)C(=O)Nc1ccccc1C",
        "mepivacaine": "CN1CCCCC1C(=O)Nc1c(C)cccc1C",
        "bupivacaine": "CCCCN1CCCCC1C(=O)Nc1c(C)cccc1C",
        "ropivacaine": "CCCN1CCCCC1C(=O)Nc1c(C)cccc1C",
        "tocainide": "CC(N)C(=O)Nc1c(C)cccc1C",
        "trimecaine": "CCN(CC)CC(=O)Nc1c(C)cc(C)cc1C",
        "etidocaine": "CCCN(CC)C(CC)C(=O)Nc1c(C)cccc1C",
        "monoethylglycinexylidide": "CCNCC(=O)Nc1c(C)cccc1C",
        "2-6-dimethylacetanilide": "CC(=O)Nc1c(C)cccc1C",
        "N-methylacetanilide": "CC(=O)N(C)c1ccccc1",
        "4-methylacetanilide": "CC(=O)Nc1ccc(C)cc1",
        "phenacetin": "CCOc1ccc(NC(C)=O)cc1",
        "procaine": "CCN(CC)CCOC(=O)c1ccc(N)cc1",
        "procainamide": "CCN(CC)CCNC(=O)c1ccc(N)cc1",
        "tetracaine": "CCCCNc1ccc(C(=O)OCCN(C)C)cc1",
        "butamben": "CCCCOC(=O)c1ccc(N)cc1",
    },
}

# Panel molecules (data/ood/panel_xtb.smi names) whose chemical family is in FAMILIES; fixed before the build.
PANEL_COVERED: dict[str, list[str]] = {
    "sugar": ["ribose", "alpha-D-glucose", "myo-inositol", "sucrose", "trehalose"],
    "amino_acid": ["L-valine", "L-glutamine", "L-histidine", "L-leucine", "L-phenylalanine", "L-tyrosine",
                   "L-tryptophan", "glycine_dipeptide_model"],
    "chain": ["n-hexane", "n-octane", "n-decane", "n-dodecane", "n-hexadecane", "n-tetracosane", "n-triacontane"],
    "anilide_anaesthetic": ["acetanilide", "paracetamol", "lidocaine", "benzocaine"],
}


def covered_panel_names() -> set[str]:
    """Names of the panel molecules that share a family with this data."""
    return {name for names in PANEL_COVERED.values() for name in names}


def select() -> None:
    from rdkit import Chem, RDLogger

    from hessfit.dataset import read_build_input

    RDLogger.DisableLog("rdApp.*")
    held = {_skeleton(m) for path in HELD_OUT for item in read_build_input(path)
            if (m := Chem.MolFromSmiles(item["smiles"])) is not None}
    rows, seen, cut = [], set(), []
    for family, members in FAMILIES.items():
        for name, smiles in members.items():
            mol = Chem.MolFromSmiles(smiles)
            if any(c in name for c in ", \t"):
                raise SystemExit(f"error: {family}/{name}: the SMILES reader splits keys at commas and spaces")
            if mol is None:
                raise SystemExit(f"error: {family}/{name}: SMILES {smiles!r} does not parse")
            key = Chem.MolToInchiKey(mol)
            if _skeleton(mol) in held:
                cut.append(f"{name} (in an out-of-domain set)")
                continue
            if key in seen:
                cut.append(f"{name} (duplicate)")
                continue
            seen.add(key)
            rows.append((mol.GetNumAtoms() + mol_hydrogens(mol), Chem.MolToSmiles(mol), f"{family}__{name}"))
    rows.sort(key=lambda row: row[0])
    header = [
        "# Molecules of the INS panel's chemical families for GFN2-xTB training data (issue 17), written by",
        "# scripts/build_family_set.py select from its fixed lists; none shares an InChIKey skeleton with",
        "# data/ood/*.smi. Sorted by atom count. Columns: SMILES, key (family__name).",
    ]
    SMILES_OUT.write_text("\n".join(header + [f"{s}\t{k}" for _, s, k in rows]) + "\n")
    sizes = [r[0] for r in rows]
    print(f"{len(rows)} molecules ({min(sizes)}-{max(sizes)} atoms) -> {SMILES_OUT}")
    for family in FAMILIES:
        print(f"  {family}: {sum(r[2].startswith(family + '__') for r in rows)}")
    print(f"cut: {', '.join(cut) or 'none'}")


def build(workers: int = 0) -> None:
    from hessfit.dataset import build_dataset

    BUILD_OUT.parent.mkdir(parents=True, exist_ok=True)
    r = build_dataset(SMILES_OUT, BUILD_OUT, method="xtb", n_workers=workers,
                      merge_every=1 if workers == 0 else 5, progress=False)
    print(f"{r.n_done} computed, {r.n_failed} failed, {r.n_skipped} skipped of {r.n_input}; {r.n_total} in {r.out}; "
          f"{r.wall_time_s:.0f} s", flush=True)


def export() -> None:
    """Write the built molecules that are xTB minima (lowest internal mode above SADDLE_CM1) to TRAIN_OUT."""
    from hessfit.dataset import merge_parts
    from hessfit.structures import load_dataset, save_dataset

    merge_parts(BUILD_OUT)
    ds = load_dataset(BUILD_OUT)
    keep = minima_indices(ds)
    save_dataset(TRAIN_OUT, ds.subset(keep), overwrite=True)
    sizes = ds.natoms[keep]
    print(f"{len(keep)} of {len(ds)} built molecules are minima ({len(ds) - len(keep)} saddle points cut, lowest "
          f"mode < {SADDLE_CM1:g} cm-1); {sizes.min()}-{sizes.max()} atoms -> {TRAIN_OUT}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["select", "build", "export"])
    p.add_argument("--workers", type=int, default=0, help="build: worker processes (0: serial, in this process)")
    args = p.parse_args(argv)
    if args.action == "build":
        build(args.workers)
    else:
        {"select": select, "export": export}[args.action]()


if __name__ == "__main__":
    sys.exit(main())
