"""The typed ``Backend`` protocol the contract's handlers call, and the records that cross it.

The core's handlers (:mod:`voxcontract.api.handlers`) read a request, call a backend and render the contract's
documents; the mock (state in memory, a clock, scenarios) and the reference server (a database, media on disk,
workers) are two backends. Records are what a backend answers, already as the contract means them: the handlers
only render them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from voxcontract.errors import NotFound
from voxcontract.transcription import JobOptions, Transcript

__all__ = [
    "Backend",
    "CursorPosition",
    "FileRecord",
    "Idempotency",
    "JobError",
    "JobPage",
    "JobQuery",
    "JobRecord",
    "JobRequest",
    "JobStatus",
    "Upload",
    "not_found",
]

JobStatus = Literal["queued", "processing", "completed", "failed"]
#: A decoded list cursor: where the previous page ended, in the backend's own terms (see ``voxcontract.api.paging``).
CursorPosition = Mapping[str, int | str]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """The contract's ``File``."""

    file_id: str
    filename: str
    content_type: str
    size_bytes: int
    duration_seconds: float
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class JobError:
    """Why a job failed (the ``Job`` document's ``error``)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class JobRecord:
    """The contract's ``Job`` as it stands now, and how soon a client should poll it again."""

    job_id: str
    status: JobStatus
    progress: float
    file_id: str
    created_at: datetime
    updated_at: datetime
    options: JobOptions
    metadata: Mapping[str, str]
    completed_at: datetime | None = None
    #: Shown only once the job is completed.
    transcript: Transcript | None = None
    error: JobError | None = None
    #: Seconds for ``Retry-After`` (None: no header).
    retry_after: int | None = None


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A ``POST /v1/transcribe`` body, typed: the file, the options (defaults filled in), the metadata."""

    file_id: str
    options: JobOptions
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Idempotency:
    """An ``Idempotency-Key`` and the fingerprint of the body it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class JobQuery:
    """One page of ``GET /v1/jobs``: newest first, after ``after`` (the decoded cursor)."""

    limit: int
    status: JobStatus | None = None
    after: CursorPosition | None = None


@dataclass(frozen=True, slots=True)
class JobPage:
    """A page of jobs and, when more follow, where this one ended."""

    jobs: tuple[JobRecord, ...]
    next_position: CursorPosition | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    """A multipart upload's file part: its (cleaned) filename and its bytes, read once."""

    filename: str
    chunks: AsyncIterator[bytes]


class Backend(Protocol):
    """What the contract's operations need of a server. ``key_id`` is the tenant: another key's data is None.

    Methods raise :class:`voxcontract.errors.ProblemError` subclasses for what the contract refuses (404 for a
    missing file when a job starts, 409, 422, ...).
    """

    async def store_upload(self, key_id: str, upload: Upload) -> FileRecord: ...

    async def store_url(self, key_id: str, url: str, filename: str | None) -> FileRecord: ...

    async def get_file(self, key_id: str, file_id: str) -> FileRecord | None: ...

    async def delete_file(self, key_id: str, file_id: str) -> bool: ...

    async def replay_job(self, key_id: str, idempotency: Idempotency) -> JobRecord | None:
        """The job an earlier request with this key made; raises ``IdempotencyKeyReused`` for another body."""
        ...

    async def create_job(self, key_id: str, request: JobRequest, idempotency: Idempotency | None) -> JobRecord: ...

    async def get_job(self, key_id: str, job_id: str) -> JobRecord | None: ...

    async def list_jobs(self, key_id: str, query: JobQuery) -> JobPage:
        """Raises :func:`voxcontract.api.paging.invalid_cursor` for a position it never issued."""
        ...

    async def delete_job(self, key_id: str, job_id: str) -> bool: ...

    async def transcript_retrieved(self, key_id: str, job: JobRecord) -> None:
        """The job's transcript was downloaded and its retention says to delete it after retrieval."""
        ...

    async def webhook_secret(self, key_id: str) -> str | None: ...

    async def check_health(self) -> None:
        """Raise a ``ProblemError`` when the server cannot serve the contract."""
        ...


def not_found(kind: Literal["file", "job"], resource_id: str) -> NotFound:
    """The one 404 for a file or job this API key does not have (another key's is not found either)."""
    return NotFound(f"No {kind} {resource_id} for this API key.")
