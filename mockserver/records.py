"""What the mock stores: files and jobs of a tenant, and how they render as the contract's ``File`` and ``Job``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver.clock import format_timestamp
from mockserver.lifecycle import JobStatus, Timeline
from mockserver.scenarios import Scenario
from voxcontract.transcription import Transcript

__all__ = ["FileRecord", "JobRecord"]


@dataclass(slots=True, kw_only=True)
class FileRecord:
    """An uploaded (or URL-derived) media file of one tenant."""

    file_id: str
    tenant: str
    filename: str
    content_type: str
    size_bytes: int
    duration_seconds: float
    created_at: float
    expires_at: float | None
    path: Path
    #: A job-stage scenario named at upload: it applies to every job started on the file.
    scenario: Scenario | None = None

    def to_dict(self) -> dict[str, Any]:
        """The contract's ``File``."""
        return {
            "file_id": self.file_id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size_bytes": self.size_bytes,
            "duration_seconds": self.duration_seconds,
            "created_at": format_timestamp(self.created_at),
            "expires_at": None if self.expires_at is None else format_timestamp(self.expires_at),
        }


@dataclass(slots=True, kw_only=True)
class JobRecord:
    """A transcription job. Its status is computed from :attr:`timeline` and the mock clock on every read."""

    job_id: str
    tenant: str
    #: Creation order, for newest-first listing and cursors.
    seq: int
    file_id: str
    options: dict[str, Any]
    metadata: dict[str, str]
    timeline: Timeline
    #: What the job will hold once completed (computed at creation, revealed by the clock).
    transcript: Transcript | None
    failure_message: str = "The transcription failed."
    scenario: Scenario | None = None
    #: Delete the job (and its file) after this mock time; set from ``retention.ttl_seconds``.
    expires_at: float | None = None

    @property
    def webhook_url(self) -> str | None:
        url = self.options.get("webhook_url")
        return url if isinstance(url, str) else None

    def status(self, now: float) -> JobStatus:
        return self.timeline.status(now)

    def to_dict(self, now: float) -> dict[str, Any]:
        """The contract's ``Job`` as it stands at mock time ``now``."""
        timeline = self.timeline
        status = timeline.status(now)
        body: dict[str, Any] = {
            "job_id": self.job_id,
            "status": status,
            "progress": _number(timeline.progress(now)),
            "file_id": self.file_id,
            "created_at": format_timestamp(timeline.created),
            "updated_at": format_timestamp(timeline.updated_at(now)),
        }
        if status == "completed":
            body["completed_at"] = body["updated_at"]
        body["options"] = self.options
        body["metadata"] = self.metadata
        if status == "completed" and self.transcript is not None:
            body.update(self.transcript.job_fields())
        elif status == "failed":
            body["error"] = {"code": "transcription_failed", "message": self.failure_message}
        return body


def _number(value: float) -> float | int:
    """0 and 1 as integers, as the contract's examples write them."""
    return int(value) if value.is_integer() else value
