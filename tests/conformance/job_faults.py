"""Faults a server can only show across several observations of one job (see :mod:`tests.conformance.faults`)."""

from __future__ import annotations

import datetime
import json
from collections import Counter

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Scope

from tests.conformance.faults import Answer, AnswerRewriter

__all__ = ["FallingProgress", "RestampedCompletedAt", "StaleJobList", "StatusWithoutRetryAfter"]


def _status_answer(scope: Scope, status: int) -> bool:
    return status == 200 and str(scope.get("path", "")).startswith("/v1/status/")


class _PerJobRewriter(AnswerRewriter):
    """Counts the status answers of each job, so a fault can grow worse with every poll."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.answers: Counter[str] = Counter()

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if not _status_answer(scope, status):
            return status, headers, body
        path = str(scope["path"])
        earlier = self.answers[path]
        self.answers[path] += 1
        return status, headers, json.dumps(self.rewrite_job(json.loads(body), earlier)).encode()

    def rewrite_job(self, job: dict[str, object], earlier: int) -> dict[str, object]:
        return job


class FallingProgress(_PerJobRewriter):
    """Each status answer of a job reports 0.1 less progress than the one before (a countdown, not a count)."""

    def rewrite_job(self, job: dict[str, object], earlier: int) -> dict[str, object]:
        progress = float(job["progress"])  # type: ignore[arg-type]
        return {**job, "progress": round(max(0.0, progress - 0.1 * earlier), 2)}


class RestampedCompletedAt(_PerJobRewriter):
    """``completed_at`` is stamped anew on every read: a second later on each status answer."""

    def rewrite_job(self, job: dict[str, object], earlier: int) -> dict[str, object]:
        if not isinstance(job.get("completed_at"), str):
            return job
        stamped = datetime.datetime.fromisoformat(str(job["completed_at"])) + datetime.timedelta(seconds=earlier)
        return {**job, "completed_at": stamped.isoformat().replace("+00:00", "Z")}


class StaleJobList(AnswerRewriter):
    """``GET /v1/jobs`` serves every job as it was created (a stale replica): queued, no progress, not ended."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status != 200 or scope.get("path") != "/v1/jobs":
            return status, headers, body
        page = json.loads(body)
        page["data"] = [_as_created(job) for job in page.get("data") or []]
        return status, headers, json.dumps(page).encode()


_RESULT = ("completed_at", "transcript", "language", "language_probability", "duration_seconds", "segments", "error")


def _as_created(job: dict[str, object]) -> dict[str, object]:
    kept = {name: value for name, value in job.items() if name not in _RESULT}
    return {**kept, "status": "queued", "progress": 0, "updated_at": job["created_at"]}


class StatusWithoutRetryAfter(AnswerRewriter):
    """Status answers lose their polling hint: a client cannot tell when to ask again."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if _status_answer(scope, status):
            del headers["retry-after"]
        return status, headers, body
