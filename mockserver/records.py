"""What the mock stores: files and jobs of a tenant, and the core's records they show as at a mock time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mockserver.lifecycle import JobStatus, Timeline
from mockserver.scenarios import Scenario
from voxcontract.api import FileRecord, JobError, JobRecord
from voxcontract.transcription import JobOptions, Transcript

__all__ = ["StoredFile", "StoredJob", "moment"]


def moment(seconds: float) -> datetime:
    """A mock time (seconds since the epoch) as the aware datetime the core's records hold."""
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(slots=True, kw_only=True)
class StoredFile:
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

    def record(self) -> FileRecord:
        """The contract's ``File``."""
        return FileRecord(
            file_id=self.file_id,
            filename=self.filename,
            content_type=self.content_type,
            size_bytes=self.size_bytes,
            duration_seconds=self.duration_seconds,
            created_at=moment(self.created_at),
            expires_at=None if self.expires_at is None else moment(self.expires_at),
        )


@dataclass(slots=True, kw_only=True)
class StoredJob:
    """A transcription job. Its status is computed from :attr:`timeline` and the mock clock on every read."""

    job_id: str
    tenant: str
    #: Creation order, for newest-first listing and cursors.
    seq: int
    file_id: str
    options: JobOptions
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
        return self.options.webhook_url

    def status(self, now: float) -> JobStatus:
        return self.timeline.status(now)

    def record(self, now: float) -> JobRecord:
        """The contract's ``Job`` as it stands at mock time ``now``, with the polling hint of its timeline."""
        timeline = self.timeline
        status = timeline.status(now)
        updated_at = moment(timeline.updated_at(now))
        return JobRecord(
            job_id=self.job_id,
            status=status,
            progress=timeline.progress(now),
            file_id=self.file_id,
            created_at=moment(timeline.created),
            updated_at=updated_at,
            completed_at=updated_at if status == "completed" else None,
            options=self.options,
            metadata=self.metadata,
            transcript=self.transcript,
            error=JobError("transcription_failed", self.failure_message) if status == "failed" else None,
            retry_after=timeline.retry_after(now),
        )
