"""Faults that break the HTTP semantics the contract inherits (RFC 9110, RFC 6750, the rate-limit draft).

Like :mod:`tests.conformance.faults`: ASGI middleware around the intact mock, each breaking one rule.
"""

from __future__ import annotations

import json
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conformance.faults import AnswerRewriter

__all__ = [
    "BadRetryAfter",
    "EchoAnyRequestId",
    "IgnoreClientRequestId",
    "LocationNowhere",
    "ProblemStatusDiffers",
    "RejectLowercaseScheme",
    "RemainingAboveQuota",
    "TextPlainJobList",
]

Answer = tuple[int, MutableHeaders, bytes]


def _path(scope: Scope) -> str:
    return str(scope.get("path", ""))


def _sent_request_id(scope: Scope) -> str | None:
    return next((value.decode("latin-1") for key, value in scope["headers"] if key == b"x-request-id"), None)


class RejectLowercaseScheme:
    """Only ``Bearer`` spelled exactly so authenticates: ``bearer <key>`` reaches the mock as Basic credentials."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [
                (key, b"Basic Zm9vOmJhcg==" if key == b"authorization" and not value.startswith(b"Bearer ") else value)
                for key, value in scope["headers"]
            ]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


class BadRetryAfter(AnswerRewriter):
    """Every 202 and status answer says ``Retry-After: soon``."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 202 or (status == 200 and _path(scope).startswith("/v1/status/")):
            headers["retry-after"] = "soon"
        return status, headers, body


class RemainingAboveQuota(AnswerRewriter):
    """``RateLimit`` reports five requests more than the policy's quota."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        policy = re.search(r";q=([0-9]+)", headers.get("ratelimit-policy", ""))
        if policy and "ratelimit" in headers:
            headers["ratelimit"] = re.sub(r";r=[0-9]+", f";r={int(policy[1]) + 5}", headers["ratelimit"])
        return status, headers, body


class LocationNowhere(AnswerRewriter):
    """The Location of 201 uploads and 202 jobs names a resource that does not exist."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 201 and "location" in headers:
            headers["location"] = "/v1/files/file_0000000000000000"
        if status == 202 and "location" in headers:
            headers["location"] = "/v1/status/job_0000000000000000"
        return status, headers, body


def _with_request_id(headers: MutableHeaders, body: bytes, request_id: str) -> bytes:
    """``request_id`` as the answer's X-Request-Id, and in its problem body (so that only the echo rule breaks)."""
    headers["x-request-id"] = request_id
    if headers.get("content-type", "").startswith("application/problem+json"):
        body = json.dumps({**json.loads(body), "request_id": request_id}).encode()
    return body


class IgnoreClientRequestId(AnswerRewriter):
    """A client's X-Request-Id, sane or not, is replaced by a server-generated one."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if _sent_request_id(scope) is not None:
            body = _with_request_id(headers, body, "req_generated_by_server")
        return status, headers, body


class EchoAnyRequestId(AnswerRewriter):
    """A client's X-Request-Id is echoed whatever it holds (a space, 129 characters)."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        sent = _sent_request_id(scope)
        if sent is not None:
            body = _with_request_id(headers, body, sent)
        return status, headers, body


class ProblemStatusDiffers(AnswerRewriter):
    """A 404 problem says ``"status": 400`` in its body."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 404 and headers.get("content-type", "").startswith("application/problem+json"):
            body = json.dumps({**json.loads(body), "status": 400}).encode()
        return status, headers, body


class TextPlainJobList(AnswerRewriter):
    """``GET /v1/jobs`` answers its JSON page as ``text/plain``, which the contract does not document for it."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 200 and _path(scope) == "/v1/jobs":
            headers["content-type"] = "text/plain; charset=utf-8"
        return status, headers, body
