"""What a run reports as it goes: events for the output handlers, and the results they carry.

::

    RunStarted ── (CheckStarted ── CheckFinished)* ── RunFinished

Handlers (:mod:`conformance.console`, :mod:`conformance.junit`, :mod:`conformance.report`) consume these events;
the runner never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from conformance.exchange import Exchange

__all__ = [
    "CheckFinished",
    "CheckResult",
    "CheckStarted",
    "Event",
    "EventHandler",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "Status",
]


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    #: The check ran but could not decide (too few observations, a refused set-up); the message says what fixes it.
    UNVERIFIED = "unverified"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check (or of a group that could not be loaded)."""

    group: str
    name: str
    description: str
    status: Status
    duration: float
    message: str = ""
    notes: tuple[str, ...] = ()
    #: Further violations seen by the shared inspections, after the first.
    findings: tuple[str, ...] = ()
    reproduction: str | None = None
    exchange: Exchange | None = None
    requests: int = 0
    details: str | None = None

    @property
    def id(self) -> str:
        return f"{self.group}/{self.name}"


@dataclass(frozen=True, slots=True)
class RunResult:
    """Every result of a run, and what it cost."""

    base_url: str
    results: tuple[CheckResult, ...]
    duration: float
    requests_used: int
    request_budget: int
    started_at: str

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)

    @property
    def conformant(self) -> bool:
        """No check failed and none could not run for an error."""
        return not any(result.status in (Status.FAILED, Status.ERROR) for result in self.results)

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(result.group for result in self.results))


@dataclass(frozen=True, slots=True)
class RunStarted:
    base_url: str
    groups: tuple[str, ...]
    total: int
    request_budget: int


@dataclass(frozen=True, slots=True)
class CheckStarted:
    group: str
    name: str
    description: str
    index: int
    total: int

    @property
    def id(self) -> str:
        return f"{self.group}/{self.name}"


@dataclass(frozen=True, slots=True)
class CheckFinished:
    result: CheckResult
    index: int
    total: int


@dataclass(frozen=True, slots=True)
class RunFinished:
    result: RunResult


Event = RunStarted | CheckStarted | CheckFinished | RunFinished


class EventHandler(Protocol):
    """Consumes a run's events (prints, writes files...)."""

    def handle(self, event: Event) -> None: ...
