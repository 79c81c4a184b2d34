"""No import cycles among the project's modules (the core, the mock, the reference server, the suite).

Every import counts, wherever it is written: at module level, under ``if TYPE_CHECKING:`` (the two modules
still know each other, and the type checker reads them as a cycle) and inside functions (a late import is how a
cycle hides, not how it goes away). Importing ``a.b`` is an edge to ``a.b`` only, not to the package ``a``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "voxcontract": ROOT / "src" / "voxcontract",
    **{name: ROOT / name for name in ("mockserver", "reference_impl", "conformance")},
}


def project_modules(packages: Mapping[str, Path]) -> dict[str, tuple[Path, bool]]:
    """Dotted module name → (file, whether it is a package's ``__init__``)."""
    modules = {}
    for package, directory in packages.items():
        for path in sorted(directory.rglob("*.py")):
            parts = [package, *path.relative_to(directory).with_suffix("").parts]
            is_package = parts[-1] == "__init__"
            modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _imported_names(module: str, is_package: bool, tree: ast.AST) -> Iterator[str]:
    """Every dotted name an import in ``tree`` may refer to (``from a import b``: ``a.b``, then ``a``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            for alias in node.names:
                yield f"{base}.{alias.name}"
                yield base


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, *([name] if name else [])])


def import_graph(packages: Mapping[str, Path]) -> dict[str, set[str]]:
    """Each project module → the project modules it imports."""
    modules = project_modules(packages)
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for name in _imported_names(module, is_package, tree):
            # `from a import b` names the module a.b when there is one, else something defined in a.
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = _without_parents_of_submodules(targets)
    return graph


def _without_parents_of_submodules(targets: set[str]) -> set[str]:
    # `from a import b` (a.b a module) yields both a.b and a: only a.b is meant.
    return {name for name in targets if not any(other.startswith(name + ".") for other in targets)}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_module_imports_itself_round_a_cycle() -> None:
    assert cycles(import_graph(PACKAGES)) == []


def test_the_walk_sees_type_checking_late_and_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n")
    (package / "b.py").write_text("def late():\n    from . import c\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from pkg import a\n")

    graph = import_graph({"pkg": package})

    assert graph["pkg.d"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
