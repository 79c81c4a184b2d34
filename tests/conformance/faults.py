"""Fault injection: ASGI middleware around the intact mock, each breaking one rule of the contract.

Each fault is a small pure ASGI class (the starlette way). :class:`AnswerRewriter` buffers an answer and hands
(status, headers, body) to ``rewrite``; the faults subclass it. ``AcceptAnyKey`` rewrites the request instead.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxcontract.webhooks import SignedHeaders, WebhookSigner, generate_secret

__all__ = [
    "AcceptAnyKey",
    "AnswerRewriter",
    "LeakOtherTenantsJob",
    "LongerDuration",
    "MalformedSrt",
    "MisheardWords",
    "OverlappingWords",
    "PlainJsonProblems",
    "RegressCompletedStatus",
    "RenamingSigner",
    "ServerErrorOnBadInput",
    "ShiftedSrtCues",
    "StripHeaders",
    "StripRetryAfter",
    "TranscriptWithoutLastWord",
    "WordsOutsideSegment",
    "WrongWebhookSecret",
]

Answer = tuple[int, MutableHeaders, bytes]


def _path(scope: Scope) -> str:
    return str(scope.get("path", ""))


def _authorization(scope: Scope) -> str:
    return next((value.decode("latin-1") for key, value in scope["headers"] if key == b"authorization"), "")


class AnswerRewriter:
    """Buffers every HTTP answer and lets :meth:`rewrite` change it before it leaves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        return status, headers, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            headers = MutableHeaders(raw=list(start["headers"]))
            status, headers, body = self.rewrite(scope, start["status"], headers, b"".join(chunks))
            headers["content-length"] = str(len(body))
            await send({"type": "http.response.start", "status": status, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffer)


class AcceptAnyKey:
    """``GET /v1/jobs`` answers without a valid key: the request is sent on with ``good_key``."""

    def __init__(self, app: ASGIApp, good_key: str, valid_keys: tuple[str, ...]) -> None:
        self.app = app
        self.good_key = good_key
        self.valid = {f"Bearer {key}" for key in valid_keys}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        listing = scope["type"] == "http" and scope["method"] == "GET" and _path(scope) == "/v1/jobs"
        if listing and _authorization(scope) not in self.valid:
            headers = [(key, value) for key, value in scope["headers"] if key != b"authorization"]
            scope = {**scope, "headers": [*headers, (b"authorization", f"Bearer {self.good_key}".encode())]}
        await self.app(scope, receive, send)


class StripRetryAfter(AnswerRewriter):
    """A 429 without Retry-After."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 429 and "retry-after" in headers:
            del headers["retry-after"]
        return status, headers, body


class StripHeaders(AnswerRewriter):
    """The answers of one path lose some headers."""

    def __init__(self, app: ASGIApp, path: str, names: tuple[str, ...]) -> None:
        super().__init__(app)
        self.path = path
        self.names = names

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if _path(scope) == self.path:
            for name in self.names:
                if name in headers:
                    del headers[name]
        return status, headers, body


class WrongWebhookSecret(AnswerRewriter):
    """``GET /v1/webhooks/secret`` answers a secret the mock does not sign with."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if _path(scope) == "/v1/webhooks/secret" and status == 200:
            body = json.dumps({**json.loads(body), "secret": generate_secret()}).encode()
        return status, headers, body


class RegressCompletedStatus(AnswerRewriter):
    """A job seen ``completed`` is ``processing`` again on every later poll."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.completed_seen: Counter[str] = Counter()

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 200 and _path(scope).startswith("/v1/status/"):
            job = json.loads(body)
            if job.get("status") == "completed":
                self.completed_seen[_path(scope)] += 1
                if self.completed_seen[_path(scope)] > 1:
                    body = json.dumps({**job, "status": "processing"}).encode()
        return status, headers, body


class ServerErrorOnBadInput(AnswerRewriter):
    """Every 400 becomes a 500 internal_error problem."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status != 400:
            return status, headers, body
        problem = {**json.loads(body), "status": 500, "code": "internal_error", "title": "Internal server error"}
        return 500, headers, json.dumps(problem).encode()


class LeakOtherTenantsJob(AnswerRewriter):
    """``GET /v1/status/{id}`` with ``other_key`` shows another tenant's job instead of 404."""

    def __init__(self, app: ASGIApp, other_key: str) -> None:
        super().__init__(app)
        self.other = f"Bearer {other_key}"
        self.jobs: dict[str, bytes] = {}

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        path = _path(scope)
        if status in (200, 202) and (path == "/v1/transcribe" or path.startswith("/v1/status/")):
            self.jobs[json.loads(body)["job_id"]] = body
        job_id = path.rpartition("/")[2]
        leaked = status == 404 and path.startswith("/v1/status/") and job_id in self.jobs
        if leaked and _authorization(scope) == self.other:
            headers["content-type"] = "application/json"
            return 200, headers, self.jobs[job_id]
        return status, headers, body


class PlainJsonProblems(AnswerRewriter):
    """Problems are served as ``application/json``."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status >= 400 and headers.get("content-type", "").startswith("application/problem+json"):
            headers["content-type"] = "application/json"
        return status, headers, body


class MalformedSrt(AnswerRewriter):
    """SRT downloads with WebVTT-style times (``00:00:01.000``), which SRT readers reject."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 200 and headers.get("content-type", "").startswith("application/x-subrip"):
            body = re.sub(rb"(\d{2}:\d{2}:\d{2}),(\d{3})", rb"\1.\2", body)
        return status, headers, body


class RenamingSigner(WebhookSigner):
    """Signs every retry of an event under a new ``webhook-id`` (validly signed, but no longer deduplicable)."""

    attempts: Counter[str] = Counter()

    def sign(self, event_id: str, body: bytes, timestamp: Any = None) -> SignedHeaders:
        attempt = self.attempts[event_id]
        self.attempts[event_id] += 1
        return super().sign(f"{event_id}R{attempt}" if attempt else event_id, body, timestamp)


def _is_job_answer(scope: Scope, status: int) -> bool:
    return status == 200 and _path(scope).startswith(("/v1/status/", "/v1/transcripts/"))


class MisheardWords(AnswerRewriter):
    """An engine that mishears: five of hello.wav's eleven words are replaced everywhere (JSON, text, SRT, VTT)."""

    MISHEARD = (
        (b"Hello", b"Yellow"),
        (b"welcome", b"become"),
        (b"short", b"sport"),
        (b"test", b"text"),
        (b"recording", b"according"),
    )

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if _is_job_answer(scope, status):
            for said, heard in self.MISHEARD:
                body = body.replace(said, heard)
        return status, headers, body


class LongerDuration(AnswerRewriter):
    """Every ``duration_seconds`` (file, job, transcript) is reported 30 % longer than the media lasts."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status not in (200, 201) or not headers.get("content-type", "").startswith("application/json"):
            return status, headers, body
        document = json.loads(body)
        if isinstance(document, dict) and isinstance(document.get("duration_seconds"), int | float):
            document["duration_seconds"] = round(document["duration_seconds"] * 1.3, 3)
            body = json.dumps(document).encode()
        return status, headers, body


class ShiftedSrtCues(AnswerRewriter):
    """SRT cues one second later than the JSON segments (still valid SRT, still inside the media)."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 200 and headers.get("content-type", "").startswith("application/x-subrip"):
            body = re.sub(rb"(\d{2}):(\d{2}):(\d{2}),(\d{3})", _one_second_later, body)
        return status, headers, body


def _one_second_later(match: re.Match[bytes]) -> bytes:
    hours, minutes, seconds, millis = (int(part) for part in match.groups())
    total = ((hours * 60 + minutes) * 60 + seconds + 1) * 1000 + millis
    hours, rest = divmod(total, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return b"%02d:%02d:%02d,%03d" % (hours, minutes, *divmod(rest, 1000))


class OverlappingWords(AnswerRewriter):
    """Status answers whose words all start where their segment starts (inside it, but on top of each other)."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 200 and _path(scope).startswith("/v1/status/"):
            job = json.loads(body)
            for segment in job.get("segments") or []:
                for word in segment.get("words") or []:
                    word["start"] = segment["start"]
            body = json.dumps(job).encode()
        return status, headers, body


class WordsOutsideSegment(AnswerRewriter):
    """Status answers whose words lie a second after their segment ends."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 200 and _path(scope).startswith("/v1/status/"):
            job = json.loads(body)
            for segment in job.get("segments") or []:
                for word in segment.get("words") or []:
                    word["start"], word["end"] = word["start"] + 10.0, word["end"] + 10.0
            body = json.dumps(job).encode()
        return status, headers, body


class TranscriptWithoutLastWord(AnswerRewriter):
    """The job's transcript (and the JSON download's text) lose their last word; the segments keep it."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if not _is_job_answer(scope, status) or not headers.get("content-type", "").startswith("application/json"):
            return status, headers, body
        document = json.loads(body)
        key = "transcript" if _path(scope).startswith("/v1/status/") else "text"
        if document.get(key):
            document[key] = document[key].rsplit(" ", 1)[0]
            body = json.dumps(document).encode()
        return status, headers, body
