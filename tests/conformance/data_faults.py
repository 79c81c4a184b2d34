"""Faults in what happens to data and jobs over time (see :mod:`tests.conformance.faults`): listing order and
filters, defaults, metadata, cancelling, idempotency order, the running-jobs limit, retention of shared files.

Some faults look the server up before they answer (:func:`call`: a request to the wrapped app, never sent over
the network), and some rewrite the request instead of the answer (:class:`RequestRewriter`).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.conformance.faults import Answer, AnswerRewriter

__all__ = [
    "DefaultQuery",
    "DeleteLeavesJobRunning",
    "FileCheckedBeforeIdempotency",
    "FileDeletedWithJob",
    "ListAllUnfinishedAsProcessing",
    "ListOldestFirst",
    "MetadataDropped",
    "OtherDefaultTimestamps",
    "RequestRewriter",
    "RetrievalDeletesSharedFile",
    "StatusFilterIgnored",
]

_UNKNOWN_JOB = "job_0000000000000000"
_UNKNOWN_FILE = "file_0000000000000000"
_JOB_PATH = re.compile(r"^/v1/(status|transcripts|jobs)/(job_[A-Za-z0-9]+)$")


#: What a server puts in a request's scope before any app sees it.
_REQUEST_SCOPE_KEYS = ("type", "asgi", "http_version", "scheme", "server", "client", "root_path")


async def call(app: ASGIApp, scope: Scope, method: str, path: str) -> tuple[int, dict[str, Any]]:
    """``method path`` on ``app`` with the headers of ``scope``'s request: (status, JSON body or {})."""
    headers = [(key, value) for key, value in scope["headers"] if key in (b"authorization", b"host")]
    # A fresh request scope: the outer one carries what the app's middleware attached to it (its route, its state).
    inner = {
        **{key: scope[key] for key in _REQUEST_SCOPE_KEYS if key in scope},
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(inner, receive, send)
    try:
        body = json.loads(answer["body"]) if answer["body"] else {}
    except ValueError:
        body = {}
    return int(answer["status"]), body if isinstance(body, dict) else {}


class RequestRewriter:
    """Hands each HTTP request to :meth:`rewrite` (scope and whole body) before the wrapped app sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def rewrite(self, scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        return scope, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        scope, body = await self.rewrite(scope, b"".join(chunks))
        headers = [(key, value) for key, value in scope["headers"] if key != b"content-length"]
        if body or any(key == b"content-type" for key, _ in headers):
            headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


def _with_query(scope: Scope, query: dict[str, str]) -> Scope:
    return {**scope, "query_string": urlencode(query).encode("latin-1")}


def _with_path(scope: Scope, path: str, method: str | None = None) -> Scope:
    return {**scope, "path": path, "raw_path": path.encode(), "method": method or scope["method"]}


def _is(scope: Scope, method: str, path: str) -> bool:
    return bool(scope["method"] == method and scope["path"] == path)


class ListOldestFirst(AnswerRewriter):
    """Each page of ``GET /v1/jobs`` lists its jobs oldest first."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if _is(scope, "GET", "/v1/jobs") and status == 200:
            page = json.loads(body)
            body = json.dumps({**page, "data": page["data"][::-1]}).encode()
        return status, headers, body


class ListAllUnfinishedAsProcessing(AnswerRewriter):
    """Unfiltered listings show every queued job as processing (a key running all its jobs at once)."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if _is(scope, "GET", "/v1/jobs") and status == 200 and "status" not in _query(scope):
            page = json.loads(body)
            jobs = [{**job, "status": "processing"} if job["status"] == "queued" else job for job in page["data"]]
            body = json.dumps({**page, "data": jobs}).encode()
        return status, headers, body


class StatusFilterIgnored(RequestRewriter):
    """``GET /v1/jobs?status=...`` lists every job."""

    async def rewrite(self, scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        if _is(scope, "GET", "/v1/jobs"):
            scope = _with_query(scope, {k: v for k, v in _query(scope).items() if k != "status"})
        return scope, body


class DefaultQuery(RequestRewriter):
    """A query parameter left out of requests to ``path_prefix`` gets another default than the contract's."""

    def __init__(self, app: ASGIApp, path_prefix: str, name: str, value: str) -> None:
        super().__init__(app)
        self.path_prefix, self.name, self.value = path_prefix, name, value

    async def rewrite(self, scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        query = _query(scope)
        if scope["method"] == "GET" and str(scope["path"]).startswith(self.path_prefix) and self.name not in query:
            scope = _with_query(scope, {**query, self.name: self.value})
        return scope, body


class _TranscribeBody(RequestRewriter):
    async def rewrite(self, scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        if _is(scope, "POST", "/v1/transcribe"):
            try:
                request = json.loads(body)
            except ValueError:
                return scope, body
            if isinstance(request, dict):
                body = json.dumps(self.change(request)).encode()
        return scope, body

    def change(self, request: dict[str, Any]) -> dict[str, Any]:
        return request


class OtherDefaultTimestamps(_TranscribeBody):
    """A job started without ``timestamps`` gets word timestamps (the contract's default is segment)."""

    def change(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"timestamps": "word", **request}


class MetadataDropped(_TranscribeBody):
    """The metadata sent with a job is dropped: neither the job nor its webhook event carries it."""

    def change(self, request: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in request.items() if key != "metadata"}


class FileCheckedBeforeIdempotency(RequestRewriter):
    """``POST /v1/transcribe`` looks the file up before the Idempotency-Key: an unknown file is 404 even for a
    used key (a replay after the file was deleted, another body naming an unknown file)."""

    async def rewrite(self, scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        if not _is(scope, "POST", "/v1/transcribe"):
            return scope, body
        try:
            file_id = str(json.loads(body)["file_id"])
        except (ValueError, KeyError, TypeError):
            return scope, body
        status, _ = await call(self.app, scope, "GET", f"/v1/files/{file_id}")
        if status == 404:  # answered by the mock's own 404 for the file
            return _with_path(scope, f"/v1/files/{file_id}", "GET"), b""
        return scope, body


class FileDeletedWithJob(RequestRewriter):
    """``DELETE /v1/jobs/{id}`` also deletes the job's file (once the job is gone, so the file is free)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _JOB_PATH.match(str(scope.get("path", ""))) if scope["type"] == "http" else None
        if match is None or scope["method"] != "DELETE" or match.group(1) != "jobs":
            await self.app(scope, receive, send)
            return
        _, job = await call(self.app, scope, "GET", f"/v1/status/{match.group(2)}")
        await self.app(scope, receive, send)
        if job.get("file_id"):
            await call(self.app, scope, "DELETE", f"/v1/files/{job['file_id']}")


class DeleteLeavesJobRunning(RequestRewriter):
    """``DELETE /v1/jobs/{id}`` of an unfinished job answers 204 and hides the job, which goes on running (its
    file stays in use, its webhook is sent)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.hidden: set[str] = set()

    async def rewrite(self, scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        match = _JOB_PATH.match(str(scope["path"]))
        if match is None:
            return scope, body
        job_id = match.group(2)
        if job_id in self.hidden:
            return _with_path(scope, str(scope["path"]).replace(job_id, _UNKNOWN_JOB)), body
        if scope["method"] == "DELETE":
            _, job = await call(self.app, scope, "GET", f"/v1/status/{job_id}")
            if job.get("status") in ("queued", "processing"):
                self.hidden.add(job_id)
                return _with_path(scope, f"/v1/status/{job_id}", "GET"), b""
        return scope, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hiding = _HideFromAnswers(self.hidden, scope, send) if scope["type"] == "http" else send
        await super().__call__(scope, receive, hiding)


class _HideFromAnswers:
    """The send side of :class:`DeleteLeavesJobRunning`: a faked delete is 204, listings skip hidden jobs."""

    def __init__(self, hidden: set[str], scope: Scope, send: Send) -> None:
        self.hidden, self.scope, self.send = hidden, scope, send
        self.start: Message = {}
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = dict(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = b"".join(self.chunks)
        headers = MutableHeaders(raw=list(self.start["headers"]))
        status = self.start["status"]
        if self.scope.get("method") == "DELETE" and status == 200:
            status, body = 204, b""  # the faked delete (the request was turned into a status read)
            del headers["content-type"]
        elif self.scope.get("path") == "/v1/jobs" and status == 200:
            page = json.loads(body)
            body = json.dumps({**page, "data": [j for j in page["data"] if j["job_id"] not in self.hidden]}).encode()
        headers["content-length"] = str(len(body))
        await self.send({"type": "http.response.start", "status": status, "headers": headers.raw})
        await self.send({"type": "http.response.body", "body": body})


class RetrievalDeletesSharedFile(RequestRewriter):
    """Downloading a delete_after_retrieval job's transcript makes its file 404, even while another job needs it."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.gone: set[str] = set()

    async def rewrite(self, scope: Scope, body: bytes) -> tuple[Scope, bytes]:
        match = _JOB_PATH.match(str(scope["path"]))
        if scope["method"] == "GET" and match is not None and match.group(1) == "transcripts":
            _, job = await call(self.app, scope, "GET", f"/v1/status/{match.group(2)}")
            if (job.get("options") or {}).get("retention", {}).get("delete_after_retrieval"):
                self.gone.add(str(job.get("file_id")))
        file_id = str(scope["path"]).rpartition("/")[2]
        if str(scope["path"]).startswith("/v1/files/") and file_id in self.gone:
            return _with_path(scope, f"/v1/files/{_UNKNOWN_FILE}"), body
        return scope, body
