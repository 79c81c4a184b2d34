"""The suite's client: the budget is a hard limit, answers are recorded, 429s are waited out when asked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conformance.client import BudgetExhausted, RequestBudget, build_client, retry_after_seconds
from conformance.exchange import Exchange
from conformance.scope import CheckAborted, CheckScope, activate


def _client(
    answers: list[httpx.Response], budget: int = 10, max_wait: float = 65.0, timeout: float = 30.0, **options: Any
) -> tuple[httpx.Client, list[httpx.Request], list[Exchange], RequestBudget]:
    sent: list[httpx.Request] = []
    seen: list[Exchange] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers.pop(0) if answers else httpx.Response(200, json={"ok": True})

    spend = RequestBudget(budget)
    transport = httpx.MockTransport(handler)
    client = build_client(
        "http://api.test",
        "key-a",
        budget=spend,
        observer=seen.append,
        inner=transport,
        max_wait=max_wait,
        timeout=timeout,
        **options,
    )
    return client, sent, seen, spend


def test_the_budget_is_never_exceeded() -> None:
    client, sent, _, budget = _client([], budget=3)
    for _ in range(3):
        assert client.get("/v1/jobs").status_code == 200
    with pytest.raises(BudgetExhausted, match="budget of 3 requests is spent"):
        client.get("/v1/jobs")
    assert len(sent) == 3
    assert (budget.used, budget.remaining, budget.exhausted) == (3, 0, True)


def test_every_answer_is_recorded_with_its_request() -> None:
    client, _, seen, _ = _client([httpx.Response(201, json={"file_id": "file_1"})])
    response = client.post("/v1/upload", files={"file": ("a.wav", b"RIFF", "audio/wav")})
    assert response.json() == {"file_id": "file_1"}
    assert response.elapsed.total_seconds() >= 0
    (exchange,) = seen
    assert (exchange.method, exchange.status, exchange.response_body) == ("POST", 201, b'{"file_id":"file_1"}')
    assert exchange.request_headers["Authorization"] == "Bearer key-a"
    assert exchange.request_body
    assert b"RIFF" in exchange.request_body


def test_a_429_is_waited_out_and_sent_again() -> None:
    client, sent, seen, budget = _client([httpx.Response(429, headers={"Retry-After": "0"})])
    assert client.get("/v1/jobs").status_code == 200
    assert [exchange.status for exchange in seen] == [429, 200]
    assert len(sent) == budget.used == 2


def test_without_patience_or_beyond_the_longest_wait_the_429_comes_back() -> None:
    raw, _, _, _ = _client([httpx.Response(429, headers={"Retry-After": "0"})], retry_rate_limited=False)
    assert raw.get("/v1/jobs").status_code == 429
    long, _, _, _ = _client([httpx.Response(429, headers={"Retry-After": "3600"})], max_wait=65.0)
    assert long.get("/v1/jobs").status_code == 429


def test_a_cancelled_check_sends_nothing_more() -> None:
    client, sent, _, _ = _client([])
    scope = CheckScope("auth/x")
    scope.cancelled.set()
    activate(scope)
    try:
        with pytest.raises(CheckAborted):
            client.get("/v1/jobs")
    finally:
        activate(None)
    assert sent == []


@pytest.mark.parametrize(("value", "seconds"), [("0", 0), (" 12 ", 12), ("-1", None), ("1.5", None), (None, None)])
def test_retry_after_is_whole_seconds(value: str | None, seconds: int | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_a_budget_allows_at_least_one_request() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        RequestBudget(0)
