"""Runs the selected groups' checks in order, each on its own thread with a timeout, and emits events.

A check's verdict combines what it raised with what the shared inspections found on the answers it got
(:mod:`conformance.problems`): a check that returned but saw a problem served as ``application/json`` fails.
A group whose module cannot be imported (the contract group without Schemathesis) is one ``error`` result.
Once the request budget is spent, every remaining check is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from conformance.checks import GROUPS, Check, registered_checks
from conformance.client import BudgetExhausted
from conformance.context import ConformanceContext
from conformance.events import (
    CheckFinished,
    CheckResult,
    CheckStarted,
    EventHandler,
    RunFinished,
    RunResult,
    RunStarted,
    Status,
)
from conformance.exchange import Exchange
from conformance.groups import load_group, module_name
from conformance.outcomes import CheckFailed, CheckSkipped, CheckUnverified
from conformance.refusals import rate_limit_refusal
from conformance.scope import CheckAborted, CheckScope, activate

__all__ = ["Runner", "select_groups"]

logger = logging.getLogger(__name__)

_GRACE_AFTER_CANCEL = 5.0


def select_groups(only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[str]:
    """The groups to run, in run order: ``only`` (default all) minus ``skip``; ValueError for unknown names."""
    only, skip = list(only), list(skip)
    unknown = sorted({name for name in [*only, *skip] if name not in GROUPS})
    if unknown:
        raise ValueError(f"unknown group(s) {', '.join(unknown)}; the groups are {', '.join(GROUPS)}")
    return [group for group in GROUPS if (not only or group in only) and group not in skip]


class Runner:
    """One run of the suite against ``ctx``'s deployment."""

    def __init__(
        self,
        ctx: ConformanceContext,
        groups: Sequence[str],
        handlers: Sequence[EventHandler] = (),
        *,
        check_timeout: float,
    ) -> None:
        self.ctx = ctx
        self.groups = list(groups)
        self.handlers = list(handlers)
        self.check_timeout = check_timeout

    def emit(self, event: RunStarted | CheckStarted | CheckFinished | RunFinished) -> None:
        for handler in self.handlers:
            handler.handle(event)

    def run(self) -> RunResult:
        """Run every selected check; the result is also emitted as :class:`RunFinished`."""
        started_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        start = time.monotonic()
        plan, load_errors = self._plan()
        total = len(plan) + len(load_errors)
        self.emit(RunStarted(self.ctx.base_url, tuple(self.groups), total, self.ctx.budget.limit))
        results: list[CheckResult] = []
        for group in self.groups:
            if group in load_errors:
                results.append(self._finish(load_errors[group], len(results) + 1, total))
                continue
            for item in (check for check in plan if check.group == group):
                self.emit(CheckStarted(item.group, item.name, item.description, len(results) + 1, total))
                results.append(self._finish(self._run_or_skip(item), len(results) + 1, total))
            self.ctx.run_cleanups(group)
        self.ctx.run_cleanups()
        result = RunResult(
            base_url=self.ctx.base_url,
            results=tuple(results),
            duration=time.monotonic() - start,
            requests_used=self.ctx.budget.used,
            request_budget=self.ctx.budget.limit,
            started_at=started_at,
        )
        self.emit(RunFinished(result))
        return result

    def _finish(self, result: CheckResult, index: int, total: int) -> CheckResult:
        self.emit(CheckFinished(result, index, total))
        return result

    def _plan(self) -> tuple[list[Check], dict[str, CheckResult]]:
        plan: list[Check] = []
        errors: dict[str, CheckResult] = {}
        for group in self.groups:
            try:
                load_group(group)
            except Exception as exc:
                logger.warning("group %s cannot be loaded", group, exc_info=True)
                errors[group] = _load_error(group, exc)
                continue
            checks = registered_checks(group)
            if not checks:
                errors[group] = _load_error(group, RuntimeError("the module registers no checks"))
            plan += checks
        return plan, errors

    def _run_or_skip(self, item: Check) -> CheckResult:
        if self.ctx.budget.exhausted:
            return _result(item, Status.SKIPPED, 0.0, f"the request budget of {self.ctx.budget.limit} is spent")
        return self._run_check(item)

    def _run_check(self, item: Check) -> CheckResult:
        scope = CheckScope(item.id)
        outcome: list[BaseException | None] = []

        def target() -> None:
            activate(scope)
            try:
                item.function(self.ctx)
                outcome.append(None)
            except BaseException as exc:  # the thread must report whatever ended the check
                outcome.append(exc)
            finally:
                activate(None)

        thread = threading.Thread(target=target, name=f"check {item.id}", daemon=True)
        start = time.monotonic()
        thread.start()
        thread.join(self.check_timeout)
        if thread.is_alive():
            scope.cancelled.set()
            thread.join(_GRACE_AFTER_CANCEL)
            timeout = CheckAborted(f"timed out after {self.check_timeout:g} s")
            return self._verdict(item, scope, timeout, time.monotonic() - start)
        return self._verdict(item, scope, outcome[0] if outcome else None, time.monotonic() - start)

    def _verdict(self, item: Check, scope: CheckScope, error: BaseException | None, duration: float) -> CheckResult:
        base = _result(item, Status.PASSED, duration, "", notes=tuple(scope.notes), requests=len(scope.exchanges))
        if isinstance(error, BudgetExhausted):
            return replace(base, status=Status.ERROR, message=str(error))
        if isinstance(error, CheckFailed) and item.group != "rate-limit":
            # A 429 the suite could not wait out says nothing about what the check checks.
            error = rate_limit_refusal(error, self.ctx.max_wait) or error
        if isinstance(error, CheckFailed):
            findings = tuple(dict.fromkeys(finding.message for finding in scope.findings if finding.message))
            reproduction = error.reproduction or self._reproduce(error.exchange)
            return replace(
                base,
                status=Status.FAILED,
                message=error.message,
                findings=findings,
                exchange=error.exchange,
                reproduction=reproduction,
            )
        if scope.findings:
            first = scope.findings[0]
            rest = tuple(dict.fromkeys(item.message for item in scope.findings[1:] if item.message != first.message))
            message = first.message + (f" (and {len(rest)} more)" if rest else "")
            reproduction = self._reproduce(first.exchange)
            return replace(
                base,
                status=Status.FAILED,
                message=message,
                findings=rest,
                exchange=first.exchange,
                reproduction=reproduction,
            )
        if error is None:
            return base
        if isinstance(error, CheckSkipped):
            return replace(base, status=Status.SKIPPED, message=error.reason)
        if isinstance(error, CheckUnverified):
            return replace(base, status=Status.UNVERIFIED, message=str(error))
        if isinstance(error, CheckAborted):
            return replace(base, status=Status.ERROR, message=f"the check {error}")
        logger.error("check %s crashed", item.id, exc_info=error)
        details = "".join(traceback.format_exception(error))
        return replace(base, status=Status.ERROR, message=f"{type(error).__name__}: {error}", details=details)

    def _reproduce(self, exchange: Exchange | None) -> str | None:
        return exchange.curl(self.ctx.key_variables()) if exchange else None


def _result(
    item: Check,
    status: Status,
    duration: float,
    message: str,
    *,
    notes: tuple[str, ...] = (),
    requests: int = 0,
) -> CheckResult:
    return CheckResult(item.group, item.name, item.description, status, duration, message, notes, requests=requests)


def _load_error(group: str, exc: BaseException) -> CheckResult:
    hint = " (install voxcontract[conformance] for Schemathesis)" if group == "contract" else ""
    message = f"the {group} group cannot run: {module_name(group)} failed to load: {type(exc).__name__}: {exc}{hint}"
    return CheckResult(group, "load", f"Load the {group} group's checks.", Status.ERROR, 0.0, message)
