"""Faults in what a completed job and its downloads promise (see :mod:`tests.conformance.faults`)."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import Scope

from tests.conformance.faults import Answer, AnswerRewriter

__all__ = ["NamelessDownloads", "TimedSegmentsAlways", "UploadTakesAnything", "WithoutLanguageProbability"]


def _path(scope: Scope) -> str:
    return str(scope.get("path", ""))


def _status_job(scope: Scope, status: int, body: bytes) -> dict[str, Any] | None:
    if status != 200 or not _path(scope).startswith("/v1/status/"):
        return None
    job = json.loads(body)
    return job if isinstance(job, dict) else None


class WithoutLanguageProbability(AnswerRewriter):
    """Completed jobs lose ``language_probability``: the rest of the result is there."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        job = _status_job(scope, status, body)
        if job is None or "language_probability" not in job:
            return status, headers, body
        del job["language_probability"]
        return status, headers, json.dumps(job).encode()


class TimedSegmentsAlways(AnswerRewriter):
    """Whatever granularity was asked, a completed job has timed segments with words (as if ``word`` was asked)."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        job = _status_job(scope, status, body)
        if job is None or job.get("status") != "completed":
            return status, headers, body
        text = str(job.get("transcript") or "")
        words = [{"word": word, "start": 0.1 * n, "end": 0.1 * n + 0.05} for n, word in enumerate(text.split())]
        end = max(0.1 * len(words), 0.1)
        job["segments"] = [{"id": 0, "start": 0.0, "end": end, "text": text, "words": words}]
        return status, headers, json.dumps(job).encode()


class NamelessDownloads(AnswerRewriter):
    """Transcript downloads carry ``Content-Disposition: attachment`` without the file name the contract suggests."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status == 200 and _path(scope).startswith("/v1/transcripts/"):
            headers["content-disposition"] = "attachment; name=transcript"
        return status, headers, body


class UploadTakesAnything(AnswerRewriter):
    """An upload of media the server cannot decode is answered 201 (as if it had been stored), not 400."""

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        if status != 400 or _path(scope) != "/v1/upload" or json.loads(body).get("code") != "unsupported_media":
            return status, headers, body
        headers["content-type"] = "application/json"
        stored = {"file_id": "file_AAAAAAAAAAAAAAAA", "filename": "x.wav", "content_type": "audio/wav"}
        return 201, headers, json.dumps(stored).encode()
