"""The deterministic VoxScriber mock server for integrators (built on :mod:`voxcontract`; see ARCHITECTURE.md).

``create_app(MockSettings(...))`` builds the ASGI app; ``voxcontract mock`` serves it. See ``mockserver/README.md``.
The names below load on first use: the pytest plugin imports this package at every pytest start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockserver.app import MockApp, create_app
    from mockserver.scenarios import SCENARIOS, Scenario
    from mockserver.settings import DEFAULT_TEST_KEY, MockSettings

__all__ = ["DEFAULT_TEST_KEY", "SCENARIOS", "MockApp", "MockSettings", "Scenario", "create_app"]

_HOMES = {
    "DEFAULT_TEST_KEY": "mockserver.settings",
    "MockSettings": "mockserver.settings",
    "SCENARIOS": "mockserver.scenarios",
    "Scenario": "mockserver.scenarios",
    "MockApp": "mockserver.app",
    "create_app": "mockserver.app",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
