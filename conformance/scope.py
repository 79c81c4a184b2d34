"""What the suite records while one check runs: findings, notes and exchanges, and whether it was cancelled.

The runner activates a :class:`CheckScope` on the thread that runs a check; the HTTP client adds every answer
it sees to the active scope, so that a violation found by the shared inspections (problem format, request ids,
server errors) fails the check where it was seen.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from conformance.exchange import Exchange

__all__ = ["CheckAborted", "CheckScope", "Finding", "activate", "current_scope"]


class CheckAborted(Exception):
    """The check was cancelled (it ran past its timeout); raised by its next request."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A violation seen on an answer, outside the check's own assertions."""

    message: str
    exchange: Exchange | None = None


@dataclass(slots=True)
class CheckScope:
    """The record of one check run (or of the suite outside any check, ``check_id`` "run")."""

    check_id: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def raise_if_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise CheckAborted(f"{self.check_id} was cancelled")

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up and abort as soon as the check is cancelled."""
        if seconds > 0 and self.cancelled.wait(seconds):
            raise CheckAborted(f"{self.check_id} was cancelled")


_local = threading.local()
_RUN_SCOPE = CheckScope("run")


def activate(scope: CheckScope | None) -> None:
    """Make ``scope`` the active scope of the calling thread (None: back to the run's scope)."""
    _local.scope = scope


def current_scope() -> CheckScope:
    """The calling thread's active scope, or the run's scope outside any check."""
    scope = getattr(_local, "scope", None)
    return scope if isinstance(scope, CheckScope) else _RUN_SCOPE
