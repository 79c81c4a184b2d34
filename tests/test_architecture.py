"""ARCHITECTURE.md's one direction of imports, enforced: the core imports no layer above it, not even inside a
function (its command line finds the layers' commands through entry points), and the mock, the reference server and
the conformance suite never import each other."""

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
#: Imports by name: ``importlib.import_module("mockserver.app")``, ``__import__("conformance")``.
DYNAMIC_IMPORTS = {"import_module", "__import__"}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(top-level package, line) for every import in ``path``: at module level, inside a function, or by name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Call) and _called_name(node.func) in DYNAMIC_IMPORTS and node.args:
            names = [node.args[0].value] if isinstance(node.args[0], ast.Constant) else []
        for name in names:
            found.add((str(name).split(".")[0], node.lineno))
    return found


def _called_name(function: ast.expr) -> str | None:
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else None


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_imports_go_one_way(layer: str) -> None:
    violations = []
    for path in sorted(LAYERS[layer].rglob("*.py")):
        for package, line in imported_packages(path):
            if package not in LAYERS or package in ALLOWED[layer]:
                continue
            violations.append(f"{path.relative_to(ROOT)}:{line} imports {package}")
    assert violations == []


#: reference_impl's modules in ARCHITECTURE.md's order: each may import only modules of earlier layers.
REFERENCE_LAYERS: list[set[str]] = [
    {"audio"},
    {"db", "net", "models", "diarization", "media_store"},
    {"settings", "outbox", "keys"},
    {"store", "engine", "queue"},
    {"deployment", "pipeline", "delivery"},
    {"backend"},
    {"uploads", "worker"},
    {"app"},
    {"commands"},
    {"cli"},
]


def _reference_module(path: Path) -> str:
    """``reference_impl/worker.py`` → ``worker``; a subpackage counts as one module (``media_store/s3.py`` →
    ``media_store``)."""
    relative = path.relative_to(ROOT / "reference_impl").with_suffix("")
    parts = [part for part in relative.parts if part != "__init__"]
    return parts[0] if parts else ""


def test_reference_impl_modules_import_downwards_only() -> None:
    rank = {module: index for index, layer in enumerate(REFERENCE_LAYERS) for module in layer}
    violations = []
    for path in sorted((ROOT / "reference_impl").rglob("*.py")):
        module = _reference_module(path)
        if not module:
            continue
        assert module in rank, f"reference_impl.{module} is in no layer of REFERENCE_LAYERS"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reference_impl."):
                target = node.module.removeprefix("reference_impl.").split(".")[0]
                if target != module and rank.get(target, -1) >= rank[module]:
                    violations.append(f"reference_impl.{module} imports reference_impl.{target} (line {node.lineno})")
    assert violations == []


#: The core's modules (a subpackage counts as one) in ARCHITECTURE.md's order: each may import only earlier layers.
#: ``""`` is the package itself (``__version__``).
CORE_LAYERS: list[set[str]] = [
    {"", "errors", "context"},
    {"spec", "settings", "transcription"},
    {"tls", "storage", "auth", "ratelimit", "webhooks", "problems", "media", "subtitles"},
    {"middleware", "serving"},
    {"asgi"},
    {"api"},
    {"tools"},
    {"cli"},
    {"__main__"},
]


def _core_unit(module: str) -> str:
    """``voxcontract.middleware.auth`` → ``middleware``: the top-level module or subpackage of the core."""
    return module.removeprefix("voxcontract").removeprefix(".").split(".")[0]


def _core_imports(path: Path) -> set[tuple[str, int]]:
    """(imported core module, line) for every import of ``path``, at module level or not."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name, node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from voxcontract import spec` imports the module voxcontract.spec; `import __version__`, the package.
            found |= {(_module_or_package(node.module, alias.name), node.lineno) for alias in node.names}
    return {(name, line) for name, line in found if name == "voxcontract" or name.startswith("voxcontract.")}


def _module_or_package(package: str, name: str) -> str:
    location = ROOT / "src" / Path(*package.split("."), name)
    return f"{package}.{name}" if location.with_suffix(".py").is_file() or location.is_dir() else package


def test_core_modules_import_leftwards_only() -> None:
    rank = {unit: index for index, layer in enumerate(CORE_LAYERS) for unit in layer}
    core = ROOT / "src" / "voxcontract"
    violations = []
    for path in sorted(core.rglob("*.py")):
        unit = _core_unit(".".join(path.relative_to(core).with_suffix("").parts).removesuffix("__init__"))
        assert unit in rank, f"voxcontract.{unit} is in no layer of CORE_LAYERS (and ARCHITECTURE.md)"
        for name, line in _core_imports(path):
            target = _core_unit(name)
            if target != unit and rank.get(target, rank[unit]) >= rank[unit]:
                violations.append(f"{path.relative_to(ROOT)}:{line} imports voxcontract.{target}")
    assert violations == []


def test_architecture_md_names_every_core_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    unnamed = sorted(unit for layer in CORE_LAYERS for unit in layer - {"", "__main__"} if f"`{unit}`" not in text)
    assert unnamed == []
