"""The package follows the data flow: a stage imports only upstream stages and shared leaves; nothing imports cli."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hessfit"
LEAVES = {"units", "errors", "_config_io", "_run_folder", "_precision"}
#: every edge the code uses, and only those (a stage may import the stages listed, nothing downstream)
ALLOWED = {
    "structures": set(),
    "modes": {"structures"},
    "ins": {"structures", "modes"},
    "compare": {"structures", "modes", "ins"},
    "refine": {"structures", "modes", "ins", "compare"},
    "model": {"structures", "modes"},  # a cascade chooses by the lowest normal-mode frequency
    "sources": {"structures", "modes", "model"},  # the network source calls the model lazily
    "dataset": {"structures", "sources"},
    "train": {"structures", "modes", "ins", "model", "sources"},
    "finetune": {"structures", "modes", "ins", "compare", "refine", "model", "train"},
}


def _imported_modules(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hessfit."):
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("hessfit."))


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hessfit."):
            yield node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hessfit."):
                    yield alias.name.split(".")[1]


def _used(stage: str) -> set[str]:
    return {t for path in (PKG / stage).rglob("*.py") for t in _imports(path) if t != stage and t not in LEAVES}


def test_every_subpackage_is_in_the_table():
    stages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert stages - {"cli"} == set(ALLOWED)


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_stage_imports_only_upstream(stage):
    bad = set()
    for path in (PKG / stage).rglob("*.py"):
        for target in _imports(path):
            if target != stage and target not in LEAVES and target not in ALLOWED[stage]:
                bad.add(f"{path.relative_to(PKG)} imports hessfit.{target}")
    assert not bad, sorted(bad)


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_table_allows_only_edges_in_use(stage):
    assert ALLOWED[stage] <= _used(stage), f"{stage}: allowed but unused: {sorted(ALLOWED[stage] - _used(stage))}"


def test_no_subpackage_imports_another_ones_private_modules():
    """What one stage shares with another has a public name in that stage's __init__."""
    bad = set()
    for path in PKG.rglob("*.py"):
        stage = path.relative_to(PKG).parts[0]
        for module in _imported_modules(path):
            parts = module.split(".")
            if parts[1] != stage and any(p.startswith("_") for p in parts[2:]):
                bad.add(f"{path.relative_to(PKG)} imports {module}")
    assert not bad, sorted(bad)
