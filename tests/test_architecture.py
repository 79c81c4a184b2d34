"""ARCHITECTURE.md's one direction of imports, enforced: the core imports no layer above it (but for the CLI's
lazy entry points), and the mock, the reference server and the conformance suite never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "voxcontract": ROOT / "src" / "voxcontract",
    **{n: ROOT / n for n in ("mockserver", "reference_impl", "conformance")},
}
ALLOWED = {
    "voxcontract": {"voxcontract"},
    "mockserver": {"voxcontract", "mockserver"},
    "reference_impl": {"voxcontract", "reference_impl"},
    "conformance": {"voxcontract", "conformance"},
}
#: The command line starts the servers and the suite; it imports them inside the commands only.
LAZY_ENTRY_POINTS = {ROOT / "src" / "voxcontract" / "cli.py"}


def imported_packages(path: Path) -> set[tuple[str, int, bool]]:
    """(top-level package, line, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            found.add((name.split(".")[0], node.lineno, id(node) in top_level))
    return found


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_imports_go_one_way(layer: str) -> None:
    violations = []
    for path in sorted(LAYERS[layer].rglob("*.py")):
        for package, line, module_level in imported_packages(path):
            if package not in LAYERS or package in ALLOWED[layer]:
                continue
            if path in LAZY_ENTRY_POINTS and not module_level:
                continue
            violations.append(f"{path.relative_to(ROOT)}:{line} imports {package}")
    assert violations == []
