"""The rules every answer the suite sees must follow, whatever check provoked it.

- every answer carries ``X-Request-Id``;
- no answer is a 5xx (well-formed or bad input alike);
- every 4xx is an RFC 9457 problem: ``application/problem+json`` with ``type``, ``title``, ``status`` (the
  answer's status), ``code`` and ``request_id`` (the answer's ``X-Request-Id``);
- the HTTP semantics of :mod:`conformance.http_rules` (Retry-After, RateLimit, X-Request-Id echo, media types).

:func:`inspect_answer` lists what an answer breaks; the client runs it on every answer. Checks that expect a
particular problem call :func:`expect_problem`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from conformance.exchange import Exchange
from conformance.http_rules import http_violations
from conformance.outcomes import CheckFailed

__all__ = ["PROBLEM_FIELDS", "expect_problem", "inspect_answer", "problem_body"]

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_FIELDS = ("type", "title", "status", "code", "request_id")


def inspect_answer(exchange: Exchange) -> list[str]:
    """What ``exchange``'s answer breaks of the rules above (empty: nothing)."""
    if exchange.status is None:
        return []
    where = exchange.summary()
    violations: list[str] = []
    if not exchange.header("x-request-id"):
        violations.append(f"{where}: the answer carries no X-Request-Id")
    if exchange.status >= 500:
        violations.append(f"{where}: a server error answered the request")
    if exchange.status >= 400 and exchange.method != "HEAD":
        violations += [f"{where}: {problem}" for problem in _problem_violations(exchange)]
    violations += [f"{where}: {problem}" for problem in http_violations(exchange)]
    return violations


def _problem_violations(exchange: Exchange) -> list[str]:
    media_type = (exchange.header("content-type") or "").split(";")[0].strip().lower()
    if media_type != PROBLEM_CONTENT_TYPE:
        return [f"an error answer must be {PROBLEM_CONTENT_TYPE}, not {media_type or 'untyped'}"]
    try:
        body = json.loads(exchange.response_body)
    except ValueError:
        return ["the problem body is not JSON"]
    if not isinstance(body, dict):
        return ["the problem body is not a JSON object"]
    missing = [name for name in PROBLEM_FIELDS if name not in body]
    if missing:
        return [f"the problem lacks {', '.join(missing)}"]
    violations: list[str] = []
    if body["status"] != exchange.status:
        violations.append(f"the problem's status {body['status']!r} is not the answer's {exchange.status}")
    if not isinstance(body["code"], str) or not body["code"]:
        violations.append(f"the problem's code {body['code']!r} is not a string")
    request_id = exchange.header("x-request-id")
    if request_id and body["request_id"] != request_id:
        violations.append(f"the problem's request_id {body['request_id']!r} is not the X-Request-Id {request_id!r}")
    return violations


def problem_body(response: httpx.Response) -> dict[str, Any]:
    """The problem document of an error answer ({} when it has none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def expect_problem(
    response: httpx.Response, statuses: int | tuple[int, ...], codes: str | tuple[str, ...] | None = None, *, what: str
) -> dict[str, Any]:
    """The problem body of ``response``, or :class:`CheckFailed` unless it is one of ``statuses`` (and ``codes``).

    ``what`` names the request for the message ("a transcript of a queued job").
    """
    wanted = (statuses,) if isinstance(statuses, int) else statuses
    exchange = Exchange.from_httpx(response)
    if response.status_code not in wanted:
        raise CheckFailed(
            f"{what}: expected {' or '.join(map(str, wanted))}, got {exchange.summary()}", exchange=exchange
        )
    violations = _problem_violations(exchange)
    if violations:
        raise CheckFailed(f"{what}: {exchange.summary()}: {'; '.join(violations)}", exchange=exchange)
    body = problem_body(response)
    allowed = (codes,) if isinstance(codes, str) else codes
    if allowed is not None and body.get("code") not in allowed:
        raise CheckFailed(
            f"{what}: the problem's code is {body.get('code')!r}, expected {' or '.join(allowed)}", exchange=exchange
        )
    return body
