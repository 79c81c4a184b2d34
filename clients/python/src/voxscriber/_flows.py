"""Requests as data and operations as generators: the one implementation both clients drive.

An operation (upload, start, wait, a page of jobs) is a generator that *yields effects* — :class:`Send` a
:class:`Call`, :class:`Sleep` some seconds — and receives their results: the answer (or the transport error) of a
send, ``None`` after a sleep. It returns its value. ``Client`` runs the effects with httpx's blocking client and
``time.sleep``, ``AsyncClient`` with httpx's async client and ``asyncio.sleep``; every decision (headers, retries,
backoff, polling, parsing, errors) is made here, once.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from voxscriber._errors import APIConnectionError, APIError, APITimeoutError, VoxScriberError, error_class
from voxscriber._retry import Retry, RetryPolicy, parse_retry_after

__all__ = ["Call", "Flow", "Send", "Sleep", "problem_error", "problem_or_transport_error", "send"]

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One API request: what to send, and how safe it is to send again."""

    method: str
    path: str
    retry: Retry = Retry.IDEMPOTENT
    params: Mapping[str, str | int] | None = None
    json: Any = None
    files: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Send:
    """Effect: send this call once; the result is the answer or the ``httpx.TransportError``."""

    call: Call


@dataclass(frozen=True)
class Sleep:
    """Effect: wait this many seconds; the result is ``None``."""

    seconds: float


Effect = Send | Sleep
Outcome = httpx.Response | httpx.TransportError | None
#: An operation: yields effects, is sent their results, returns its value.
Flow = Generator[Effect, Outcome, T]


def send(call: Call, policy: RetryPolicy) -> Flow[httpx.Response]:
    """Send ``call`` and retry it as ``policy`` allows; the successful answer, else the error it ended with."""
    attempt = 0
    while True:
        outcome = yield Send(call)
        assert outcome is not None, "a Send effect is answered with a response or a transport error"
        if isinstance(outcome, httpx.Response) and outcome.is_success:
            return outcome
        delay = policy.delay(call.retry, outcome, attempt)
        if delay is None:
            raise problem_or_transport_error(outcome)
        yield Sleep(delay)
        attempt += 1


def problem_or_transport_error(outcome: httpx.Response | httpx.TransportError) -> VoxScriberError:
    """The SDK's error for a transport failure or an error answer (the httpx error becomes its ``__cause__``)."""
    if isinstance(outcome, httpx.Response):
        return problem_error(outcome)
    cls = APITimeoutError if isinstance(outcome, httpx.TimeoutException) else APIConnectionError
    error = cls(f"no answer from the server: {outcome!r}")
    error.__cause__ = outcome
    return error


def problem_error(response: httpx.Response) -> APIError:
    """The exception of an error answer, by its problem's ``code`` (or its status when it has none)."""
    problem = _problem_document(response)
    code = problem.get("code")
    cls = error_class(response.status_code, code if isinstance(code, str) else None)
    return cls(
        response.status_code,
        problem,
        request_id=response.headers.get("x-request-id"),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def _problem_document(response: httpx.Response) -> dict[str, Any]:
    # A proxy or a load balancer may answer in HTML or with nothing: the error still carries status and request id.
    try:
        document = response.json()
    except ValueError:
        return {"title": response.reason_phrase, "status": response.status_code}
    return document if isinstance(document, dict) else {"status": response.status_code}
