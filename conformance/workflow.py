"""The steps several groups repeat: upload media, start a job, poll it to its end, clean up after it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.client import retry_after_seconds
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed
from conformance.scope import current_scope

__all__ = [
    "TERMINAL",
    "PollResult",
    "cleanup",
    "expect_status",
    "find_listed_job",
    "json_body",
    "poll_job",
    "start_job",
    "upload",
    "uploaded_file_id",
]

TERMINAL = ("completed", "failed")
_FIRST_DELAY = 0.5
_MAX_DELAY = 8.0
_AFTER_TERMINAL_DELAY = 0.2
#: Pages of GET /v1/jobs read when looking for a job (100 jobs each).
MAX_LIST_PAGES = 20


def json_body(response: httpx.Response, *, what: str) -> dict[str, Any]:
    """The JSON object of an answer, or :class:`CheckFailed`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        exchange = Exchange.from_httpx(response)
        raise CheckFailed(f"{what}: {exchange.summary()} has no JSON object body", exchange=exchange)
    return body


def expect_status(response: httpx.Response, status: int, *, what: str) -> dict[str, Any]:
    """The JSON body (``{}`` for an empty one) of an answer that must have ``status``."""
    if response.status_code != status:
        exchange = Exchange.from_httpx(response)
        raise CheckFailed(f"{what}: expected {status}, got {exchange.summary()}", exchange=exchange)
    return json_body(response, what=what) if response.content else {}


def upload(
    ctx: ConformanceContext,
    client: httpx.Client | None = None,
    *,
    content: bytes | None = None,
    filename: str | None = None,
    content_type: str | None = None,
) -> httpx.Response:
    """``POST /v1/upload`` of the suite's audio (or of ``content``), multipart."""
    part = (filename or ctx.audio_filename, ctx.audio if content is None else content)
    files = {"file": (*part, content_type or ctx.audio_content_type)}
    return (client or ctx.client).post("/v1/upload", files=files)


def uploaded_file_id(ctx: ConformanceContext, group: str, client: httpx.Client | None = None) -> str:
    """Upload the audio (201 expected) and have the file deleted when ``group`` ends."""
    client = client or ctx.client
    body = expect_status(upload(ctx, client), 201, what="uploading the audio")
    file_id = str(body.get("file_id", ""))
    if not file_id:
        raise CheckFailed("the upload's answer has no file_id")
    cleanup(ctx, group, client, f"/v1/files/{file_id}")
    return file_id


def start_job(
    ctx: ConformanceContext,
    file_id: str,
    *,
    client: httpx.Client | None = None,
    headers: dict[str, str] | None = None,
    **options: Any,
) -> httpx.Response:
    """``POST /v1/transcribe`` of ``file_id`` with ``options``."""
    return (client or ctx.client).post("/v1/transcribe", json={"file_id": file_id, **options}, headers=headers)


def cleanup(ctx: ConformanceContext, group: str, client: httpx.Client, path: str) -> None:
    """Delete ``path`` when ``group`` ends (a resource already gone is fine)."""
    ctx.add_cleanup(group, lambda: client.delete(path))


@dataclass
class PollResult:
    """Every status answer of one job, oldest first."""

    job_id: str
    answers: list[httpx.Response] = field(default_factory=list)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json_body(answer, what=f"GET /v1/status/{self.job_id}") for answer in self.answers]

    @property
    def final(self) -> dict[str, Any]:
        """The last answer's job."""
        return self.bodies[-1]

    @property
    def terminal(self) -> dict[str, Any]:
        """The job as first seen in a terminal status (the last answer's when it never ended)."""
        return next((body for body in self.bodies if body.get("status") in TERMINAL), self.final)

    @property
    def terminal_answer(self) -> httpx.Response:
        """The answer that first showed a terminal status (the last one when it never ended)."""
        return next(
            (answer for answer, body in zip(self.answers, self.bodies, strict=True) if body.get("status") in TERMINAL),
            self.answers[-1],
        )

    @property
    def statuses(self) -> list[str]:
        return [str(body.get("status")) for body in self.bodies]


def poll_job(
    ctx: ConformanceContext,
    job_id: str,
    client: httpx.Client | None = None,
    *,
    deadline: float | None = None,
    after_terminal: int = 0,
) -> PollResult:
    """Poll ``GET /v1/status/{job_id}`` with exponential backoff, never sooner than ``Retry-After`` asks.

    Stops at a terminal status (then polls ``after_terminal`` more times); :class:`CheckFailed` for an answer
    other than 200, or when the job has not ended within ``deadline`` seconds (default ``ctx.job_deadline``).
    """
    client = client or ctx.client
    seconds = ctx.job_deadline if deadline is None else deadline
    limit = time.monotonic() + seconds
    result = PollResult(job_id)
    delay = _FIRST_DELAY
    while True:
        answer = client.get(f"/v1/status/{job_id}")
        expect_status(answer, 200, what=f"polling job {job_id}")
        result.answers.append(answer)
        if result.statuses[-1] in TERMINAL:
            break
        remaining = limit - time.monotonic()
        if remaining <= 0:
            raise CheckFailed(
                f"job {job_id} is still {result.statuses[-1]} after {seconds:g} s of polling",
                exchange=Exchange.from_httpx(answer),
            )
        hint = retry_after_seconds(answer.headers.get("retry-after")) or 0
        current_scope().sleep(min(max(delay, hint), remaining))
        delay = min(delay * 2, _MAX_DELAY)
    for _ in range(after_terminal):
        current_scope().sleep(_AFTER_TERMINAL_DELAY)
        answer = client.get(f"/v1/status/{job_id}")
        expect_status(answer, 200, what=f"polling finished job {job_id}")
        result.answers.append(answer)
    return result


def find_listed_job(client: httpx.Client, job_id: str) -> Exchange | None:
    """The page of ``GET /v1/jobs`` (followed to its end, at most :data:`MAX_LIST_PAGES`) listing ``job_id``."""
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        response = client.get("/v1/jobs", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        page = expect_status(response, 200, what="listing jobs")
        if any(isinstance(job, dict) and job.get("job_id") == job_id for job in page.get("data") or []):
            return Exchange.from_httpx(response)
        cursor = page.get("next_cursor")
        if not cursor:
            return None
    return None
