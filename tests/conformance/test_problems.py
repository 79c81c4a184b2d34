"""The rules every answer follows: request ids, no 5xx, problem+json errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed
from conformance.problems import expect_problem, inspect_answer

PROBLEM = {"type": "https://x/p", "title": "Not found", "status": 404, "code": "not_found", "request_id": "req_1"}


def _response(status: int, body: Any, content_type: str = "application/problem+json", **headers: str) -> httpx.Response:
    headers = {"Content-Type": content_type, "X-Request-Id": "req_1", **headers}
    request = httpx.Request("GET", "http://api.test/v1/status/job_1")
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers, request=request)


def _inspect(response: httpx.Response) -> list[str]:
    return inspect_answer(Exchange.from_httpx(response))


def test_a_proper_problem_and_a_success_pass() -> None:
    assert _inspect(_response(404, PROBLEM)) == []
    assert _inspect(_response(200, {"ok": True}, "application/json")) == []


@pytest.mark.parametrize(
    ("response", "violation"),
    [
        (_response(404, PROBLEM, "application/json"), "must be application/problem+json, not application/json"),
        (_response(404, {**PROBLEM, "status": 400}), "status 400 is not the answer's 404"),
        (_response(404, {k: v for k, v in PROBLEM.items() if k != "code"}), "the problem lacks code"),
        (_response(404, {**PROBLEM, "request_id": "req_2"}), "request_id 'req_2' is not the X-Request-Id"),
        (_response(404, [1]), "not a JSON object"),
        (_response(500, {**PROBLEM, "status": 500}), "a server error answered the request"),
    ],
)
def test_violations_are_named_with_the_request(response: httpx.Response, violation: str) -> None:
    found = _inspect(response)
    assert any(violation in message and message.startswith("GET /v1/status/job_1 -> ") for message in found), found


def test_every_answer_needs_a_request_id() -> None:
    response = _response(200, {}, "application/json")
    del response.headers["X-Request-Id"]
    assert _inspect(response) == ["GET /v1/status/job_1 -> 200: the answer carries no X-Request-Id"]


def test_expect_problem_checks_status_code_and_format() -> None:
    assert expect_problem(_response(404, PROBLEM), 404, "not_found", what="reading")["code"] == "not_found"
    with pytest.raises(CheckFailed, match="reading: expected 404, got GET /v1/status/job_1 -> 200"):
        expect_problem(_response(200, {}, "application/json"), 404, what="reading")
    with pytest.raises(CheckFailed, match="code is 'not_found', expected gone"):
        expect_problem(_response(404, PROBLEM), 404, "gone", what="reading")
    with pytest.raises(CheckFailed, match="must be application/problem"):
        expect_problem(_response(404, PROBLEM, "application/json"), (404, 410), what="reading")
