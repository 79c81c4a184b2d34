"""The package's public API stays curated, and the suite imports nothing of the mock or the reference server."""

from __future__ import annotations

import ast
from pathlib import Path

import conformance

ROOT = Path(conformance.__file__).parent


def test_all_is_sorted_and_importable() -> None:
    assert conformance.__all__ == sorted(conformance.__all__)
    assert all(hasattr(conformance, name) for name in conformance.__all__)


def test_the_suite_imports_only_voxcontract_of_this_repository() -> None:
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name.split(".")[0] in ("mockserver", "reference_impl") for name in names), path


def test_the_default_speech_is_shipped_with_the_package() -> None:
    assert (ROOT / "media" / "hello.wav").read_bytes()[:4] == b"RIFF"
