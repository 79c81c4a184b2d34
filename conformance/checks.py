"""Checks: plain functions registered by group and name; a check passes by returning and fails by raising.

::

    @check("lifecycle", "upload", description="An uploaded file is answered 201 with a valid File.")
    def upload(ctx: ConformanceContext) -> None:
        response = ctx.client.post(...)
        if response.status_code != 201:
            raise CheckFailed("upload answered 400", exchange=Exchange.from_httpx(response))

The exceptions a check may raise are in :mod:`conformance.outcomes`, the recorded exchange in
:mod:`conformance.exchange`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.context import ConformanceContext

__all__ = ["GROUPS", "Check", "CheckFn", "check", "registered_checks"]

#: Every group of the suite, in the order they run (rate-limit last: its burst spends the quota).
GROUPS = ("contract", "auth", "lifecycle", "data", "webhooks", "http", "errors", "rate-limit")

CheckFn = Callable[["ConformanceContext"], None]


@dataclass(frozen=True, slots=True)
class Check:
    """A registered check: ``group/name``, what it verifies, and the function."""

    group: str
    name: str
    description: str
    function: CheckFn

    @property
    def id(self) -> str:
        return f"{self.group}/{self.name}"


_REGISTRY: dict[str, Check] = {}


def check(group: str, name: str, *, description: str) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn(ctx) -> None`` as the check ``group/name`` (a re-registration replaces the earlier one)."""
    if group not in GROUPS:
        raise ValueError(f"unknown check group {group!r}; use one of {', '.join(GROUPS)}")

    def register(function: CheckFn) -> CheckFn:
        registered = Check(group, name, description, function)
        _REGISTRY[registered.id] = registered
        return function

    return register


def registered_checks(group: str | None = None) -> list[Check]:
    """The registered checks (of one group), in registration order."""
    return [item for item in _REGISTRY.values() if group is None or item.group == group]
