"""The runner: verdicts from what checks raise and what the inspections saw, timeouts, budgets, broken groups."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from conformance.checks import Check, CheckFn
from conformance.config import ConformanceConfig, new_context
from conformance.context import ConformanceContext
from conformance.events import CheckFinished, CheckStarted, Event, RunFinished, RunStarted, Status
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed, CheckSkipped
from conformance.runner import Runner, select_groups
from conformance.scope import Finding, current_scope

#: Nothing listens there: the checks of these tests send nothing, or fail to connect.
CONFIG = ConformanceConfig(url="http://127.0.0.1:9/v1/", api_key="key-a", request_budget=5)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
def ctx() -> Iterator[ConformanceContext]:
    context = new_context(CONFIG)
    yield context
    context.close()


def _plan(monkeypatch: pytest.MonkeyPatch, *checks: tuple[str, CheckFn]) -> None:
    registered = [Check("data", name, f"{name} check", function) for name, function in checks]
    monkeypatch.setattr("conformance.runner.load_group", lambda group: None)
    monkeypatch.setattr(
        "conformance.runner.registered_checks", lambda group: [c for c in registered if c.group == group]
    )


def _exchange() -> Exchange:
    request = httpx.Request("GET", "http://127.0.0.1:9/v1/jobs", headers={"Authorization": "Bearer key-a"})
    return Exchange.from_httpx(httpx.Response(404, request=request))


def _passes(ctx: ConformanceContext) -> None:
    ctx.note("a remark")


def _fails(ctx: ConformanceContext) -> None:
    raise CheckFailed("wrong answer", exchange=_exchange())


def _skips(ctx: ConformanceContext) -> None:
    raise CheckSkipped("not here")


def _crashes(ctx: ConformanceContext) -> None:
    raise KeyError("oops")


def _sees_a_bad_answer(ctx: ConformanceContext) -> None:
    current_scope().findings.append(Finding("GET /v1/jobs -> 404: not a problem", _exchange()))


def test_verdicts_and_events(ctx: ConformanceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    _plan(monkeypatch, ("p", _passes), ("f", _fails), ("s", _skips), ("c", _crashes), ("i", _sees_a_bad_answer))
    recorder = Recorder()
    result = Runner(ctx, ["data"], [recorder], check_timeout=CONFIG.check_timeout).run()
    by_name = {item.name: item for item in result.results}
    assert by_name["p"].status is Status.PASSED
    assert by_name["p"].notes == ("a remark",)
    assert by_name["f"].status is Status.FAILED
    assert by_name["f"].message == "wrong answer"
    assert (
        by_name["f"].reproduction
        == 'curl -sS -i -H "Authorization: Bearer $VOXSCRIBER_API_KEY" http://127.0.0.1:9/v1/jobs'
    )
    assert (by_name["s"].status, by_name["s"].message) == (Status.SKIPPED, "not here")
    assert by_name["c"].status is Status.ERROR
    assert "KeyError" in by_name["c"].message
    assert by_name["c"].details
    assert by_name["i"].status is Status.FAILED
    assert "not a problem" in by_name["i"].message
    assert not result.conformant
    kinds = [type(event) for event in recorder.events]
    assert kinds[0] is RunStarted
    assert kinds[-1] is RunFinished
    assert kinds[1:-1] == [CheckStarted, CheckFinished] * 5
    assert ctx.base_url == "http://127.0.0.1:9"


def test_a_check_past_its_timeout_is_cancelled(ctx: ConformanceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    def sleeps(ctx: ConformanceContext) -> None:
        current_scope().sleep(30)

    _plan(monkeypatch, ("slow", sleeps), ("next", _passes))
    start = time.monotonic()
    result = Runner(ctx, ["data"], check_timeout=0.2).run()
    assert time.monotonic() - start < 5
    assert result.results[0].status is Status.ERROR
    assert "timed out after 0.2 s" in result.results[0].message
    assert result.results[1].status is Status.PASSED


def test_a_spent_budget_skips_the_rest(ctx: ConformanceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    def spends(ctx: ConformanceContext) -> None:
        for _ in range(10):
            ctx.budget.spend()

    _plan(monkeypatch, ("spender", spends), ("after", _passes))
    first, second = Runner(ctx, ["data"], check_timeout=CONFIG.check_timeout).run().results
    assert (first.status, first.message) == (Status.ERROR, "the request budget of 5 requests is spent")
    assert (second.status, second.message) == (Status.SKIPPED, "the request budget of 5 is spent")


def test_a_group_that_cannot_be_imported_is_one_error(ctx: ConformanceContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "conformance.groups.contract", None)
    (result,) = Runner(ctx, ["contract"], check_timeout=CONFIG.check_timeout).run().results
    assert (result.id, result.status) == ("contract/load", Status.ERROR)
    assert "the contract group cannot run: conformance.groups.contract failed to load" in result.message
    assert "voxcontract[conformance]" in result.message


def test_fixtures_are_shared_and_their_failure_skips_later_users(ctx: ConformanceContext) -> None:
    calls: list[int] = []
    assert ctx.fixture("x", lambda: calls.append(1) or 42) == 42
    assert ctx.fixture("x", lambda: calls.append(2) or 43) == 42
    assert calls == [1]

    def broken() -> int:
        raise CheckFailed("no upload")

    with pytest.raises(CheckFailed):
        ctx.fixture("y", broken)
    with pytest.raises(CheckSkipped, match="needs y, which could not be set up: no upload"):
        ctx.fixture("y", broken)


def test_group_selection() -> None:
    assert select_groups() == ["contract", "auth", "lifecycle", "data", "webhooks", "http", "errors", "rate-limit"]
    assert select_groups(["rate-limit", "auth"]) == ["auth", "rate-limit"]
    assert select_groups(skip=["contract", "webhooks"]) == ["auth", "lifecycle", "data", "http", "errors", "rate-limit"]
    with pytest.raises(ValueError, match="unknown group"):
        select_groups(["nope"])
