"""Fixtures of the mock server's tests: every API test runs in-process (TestClient) and over real HTTP (uvicorn).

``vox`` is a shared mock per module and transport, reset before each test (cheap); ``make_vox`` builds a fresh mock
with other settings. Fixture names avoid those of ``mockserver.pytest_plugin``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.mockserver.support import TRANSPORTS, Harness, open_harness


@pytest.fixture(scope="module", params=TRANSPORTS)
def shared_vox(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with open_harness(request.param) as harness:
        yield harness


@pytest.fixture
def vox(shared_vox: Harness) -> Iterator[Harness]:
    shared_vox.reset()
    yield shared_vox
    shared_vox.assert_no_unexpected_server_errors()


@pytest.fixture
def make_vox(shared_vox: Harness) -> Iterator[Callable[..., Harness]]:
    """A factory of fresh mocks with the given settings, on the same transport as ``shared_vox``."""
    with contextlib.ExitStack() as stack:
        harnesses: list[Harness] = []

        def make(**settings: Any) -> Harness:
            harness = stack.enter_context(open_harness(shared_vox.transport, **settings))
            harnesses.append(harness)
            return harness

        yield make
        for harness in harnesses:
            harness.assert_no_unexpected_server_errors()
