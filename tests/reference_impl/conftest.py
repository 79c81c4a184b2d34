"""Fixtures for the reference server's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reference_impl.support import RunningReference, serve_reference


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningReference]:
    """One reference server per test module (the model loads once per process anyway)."""
    with serve_reference(tmp_path_factory.mktemp("reference-data")) as server:
        yield server
