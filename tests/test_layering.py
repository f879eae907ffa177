"""The package follows the data flow: a stage imports only upstream stages and shared leaves; nothing imports cli."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hessfit"
LEAVES = {"units", "errors", "_config_io"}
ALLOWED = {
    "structures": set(),
    "modes": {"structures"},
    "ins": {"structures", "modes"},
    "sources": {"structures", "modes", "model"},  # `nequip` source calls the model lazily
    "model": {"structures", "modes", "ins", "train"},
    "train": {"structures", "modes", "ins", "model", "sources"},
    "compare": {"structures", "modes", "ins", "sources"},
    "refine": {"structures", "modes", "ins", "compare"},
}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hessfit."):
            yield node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hessfit."):
                    yield alias.name.split(".")[1]


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_stage_imports_only_upstream(stage):
    bad = set()
    for path in (PKG / stage).rglob("*.py"):
        for target in _imports(path):
            if target != stage and target not in LEAVES and target not in ALLOWED[stage]:
                bad.add(f"{path.relative_to(PKG)} imports hessfit.{target}")
    assert not bad, sorted(bad)
