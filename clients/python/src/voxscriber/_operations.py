"""The API's operations as flows (see :mod:`voxscriber._flows`), over one client's settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from voxscriber._errors import JobFailed, WaitTimeout
from voxscriber._flows import Call, Flow, Sleep, send
from voxscriber._models import File, Health, Job, JobList, JobStatus, Retention, Transcript, WebhookSecret
from voxscriber._retry import RetryPolicy, backoff, parse_retry_after
from voxscriber._uploads import _Opened, upload_call, url_call

__all__ = ["Operations", "PollPolicy", "TranscriptFormat"]

TranscriptFormat = Literal["json", "text", "srt", "vtt"]
JobRef = Job | str


@dataclass(frozen=True)
class PollPolicy:
    """How ``wait()`` paces its polls when the server sends no ``Retry-After`` (seconds)."""

    first_interval: float = 1.0
    max_interval: float = 30.0


class Operations:
    """Every operation of the contract, as a flow; the drivers (``Client``, ``AsyncClient``) run them."""

    def __init__(self, retry: RetryPolicy, clock: Callable[[], float]) -> None:
        self.retry = retry
        self.clock = clock

    def health(self) -> Flow[Health]:
        response = yield from send(Call("GET", "/v1/health"), self.retry)
        return Health.from_dict(response.json())

    def upload(self, opened: _Opened) -> Flow[File]:
        response = yield from send(upload_call(opened), self.retry)
        return File.from_dict(response.json())

    def upload_url(self, url: str, filename: str | None) -> Flow[File]:
        response = yield from send(url_call(url, filename), self.retry)
        return File.from_dict(response.json())

    def get_file(self, file_id: str) -> Flow[File]:
        response = yield from send(Call("GET", f"/v1/files/{file_id}"), self.retry)
        return File.from_dict(response.json())

    def delete_file(self, file_id: str) -> Flow[None]:
        yield from send(Call("DELETE", f"/v1/files/{file_id}"), self.retry)

    def transcribe(self, body: Mapping[str, Any], idempotency_key: str | None) -> Flow[Job]:
        # One key for the call and all of its retries: a retried submit gets the same job back, never a second one.
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        response = yield from send(Call("POST", "/v1/transcribe", json=dict(body), headers=headers), self.retry)
        return Job.from_dict(response.json())

    def get_job(self, job_id: str) -> Flow[Job]:
        job, _ = yield from self._status(job_id)
        return job

    def delete_job(self, job_id: str) -> Flow[None]:
        yield from send(Call("DELETE", f"/v1/jobs/{job_id}"), self.retry)

    def list_page(self, status: JobStatus | None, limit: int | None, cursor: str | None) -> Flow[JobList]:
        params = {name: value for name, value in (("status", status), ("limit", limit), ("cursor", cursor)) if value}
        response = yield from send(Call("GET", "/v1/jobs", params=params), self.retry)
        return JobList.from_dict(response.json())

    def transcript(self, job_id: str, format: TranscriptFormat) -> Flow[Transcript | str]:
        call = Call("GET", f"/v1/transcripts/{job_id}", params={"format": format})
        response = yield from send(call, self.retry)
        return Transcript.from_dict(response.json()) if format == "json" else response.text

    def webhook_secret(self) -> Flow[WebhookSecret]:
        response = yield from send(Call("GET", "/v1/webhooks/secret"), self.retry)
        return WebhookSecret.from_dict(response.json())

    def wait(
        self,
        job: JobRef,
        timeout: float | None,
        poll: PollPolicy,
        on_progress: Callable[[Job], None] | None,
    ) -> Flow[Job]:
        """Poll until the job ends: the completed job, :class:`JobFailed`, or :class:`WaitTimeout` past ``timeout``.

        Each pause is the answer's ``Retry-After`` when it has one, else an exponential backoff with full jitter
        capped at ``poll.max_interval``; a pause never runs past the deadline. ``timeout=None`` waits as long as
        the job takes (there is no hidden deadline).
        """
        job_id = job if isinstance(job, str) else job.job_id
        deadline = None if timeout is None else self.clock() + timeout
        polls = 0
        while True:
            current, retry_after = yield from self._status(job_id)
            if on_progress is not None:
                on_progress(current)
            if current.status == "completed":
                return current
            if current.status == "failed":
                raise JobFailed(current)
            pause = retry_after
            if pause is None:
                pause = backoff(polls, poll.first_interval, poll.max_interval, self.retry.rng)
            if deadline is not None:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise WaitTimeout(current, timeout or 0.0)
                pause = min(pause, remaining)
            yield Sleep(pause)
            polls += 1

    def _status(self, job_id: str) -> Flow[tuple[Job, float | None]]:
        response = yield from send(Call("GET", f"/v1/status/{job_id}"), self.retry)
        return Job.from_dict(response.json()), parse_retry_after(response.headers.get("retry-after"))


def transcription_body(
    file_id: str,
    *,
    language: str | None = None,
    timestamps: str | None = None,
    diarization: bool | None = None,
    speakers_expected: int | None = None,
    webhook_url: str | None = None,
    retention: Retention | Mapping[str, Any] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``TranscriptionRequest`` document: the options given, the server's defaults for the others."""
    body: dict[str, Any] = {"file_id": file_id}
    options = {
        "language": language,
        "timestamps": timestamps,
        "diarization": diarization,
        "speakers_expected": speakers_expected,
        "webhook_url": webhook_url,
        "retention": retention.to_dict() if isinstance(retention, Retention) else retention,
        "metadata": dict(metadata) if metadata is not None else None,
    }
    body.update({name: value for name, value in options.items() if value is not None})
    return body
