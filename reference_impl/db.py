"""The reference server's tables (SQLAlchemy 2.x typed ORM) and the engine that holds them.

Also the tables' vocabulary (status and event values, ids, the clock) and :func:`rowcount` for conditional updates.
The job table is the source of truth: a job's status, its lease and its result live in one row, and every change
to it is a conditional ``UPDATE`` (see :mod:`reference_impl.store`). SQLite is the default; any SQLAlchemy URL
(PostgreSQL, say) works by configuration.
"""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
import string
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON,
    CursorResult,
    DateTime,
    Engine,
    Executable,
    ForeignKey,
    Index,
    String,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy import create_engine as _create_engine
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from voxcontract.api import FileRecord, JobError, JobRecord, rfc3339
from voxcontract.api import JobStatus as ApiJobStatus
from voxcontract.transcription import JobOptions, Transcript

__all__ = [
    "DB_FILENAME",
    "ApiKey",
    "Base",
    "EventState",
    "EventType",
    "File",
    "Job",
    "JobStatus",
    "WebhookAttempt",
    "WebhookEvent",
    "create_schema",
    "default_url",
    "file_record",
    "job_record",
    "make_engine",
    "make_sessions",
    "new_id",
    "rfc3339",
    "rowcount",
    "utcnow",
]

DB_FILENAME = "voxcontract.db"
_BUSY_TIMEOUT_MS = 10_000
_ID_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 20
#: Seconds a client should wait before polling a queued or processing job again.
_RETRY_AFTER = 1


class JobStatus:
    """The contract's ``JobStatus`` values."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    TERMINAL = (COMPLETED, FAILED)


class EventType:
    """The contract's webhook event types."""

    COMPLETED = "transcription.completed"
    FAILED = "transcription.failed"


class EventState:
    """Where a webhook event stands: waiting for a (next) attempt, acknowledged, or given up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset: store naive UTC, read back aware)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """The declarative base of the reference server's tables."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class ApiKey(Base):
    """An API key, stored as its SHA-256 (never the key), with its Standard Webhooks signing secret."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    webhook_secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class File(Base):
    """An uploaded (or fetched) media file of one key, kept on disk at ``path`` until ``expires_at``."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_expires_at", "expires_at"),)

    file_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(512))
    content_type: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int]
    duration_seconds: Mapped[float]
    path: Mapped[str] = mapped_column(String(4096))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Job(Base):
    """A transcription job: status, lease (who works on it until when), options, and the result or the error."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("key_id", "idempotency_key", name="uq_jobs_key_idempotency"),
        Index("ix_jobs_claim", "status", "created_at"),
        Index("ix_jobs_key_listing", "key_id", "created_at", "job_id"),
    )

    job_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    progress: Mapped[float] = mapped_column(default=0.0)
    options: Mapped[dict[str, Any]]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(128))
    result: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(2000))
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class WebhookEvent(Base):
    """The one event of a job's end, delivered to ``url`` until acknowledged or given up (``state``)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_due", "state", "next_attempt_at"),)

    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(80), unique=True)
    key_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class WebhookAttempt(Base):
    """One delivery attempt of an event: the receiver's status code, or the error that stopped it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("event_id", "attempt", name="uq_webhook_attempts_event_attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.event_id", ondelete="CASCADE"))
    attempt: Mapped[int]
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(2000))


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A new resource id: ``prefix`` and 20 random letters and digits (the contract's ``JobId``/``FileId``)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def rowcount(session: Session, statement: Executable) -> int:
    """Run a bulk UPDATE or DELETE (the session's objects left as they are); how many rows it changed."""
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return cast("CursorResult[Any]", result).rowcount


def job_record(job: Job) -> JobRecord:
    """The job as the contract's ``Job`` (``GET /v1/status/{job_id}``, webhook ``data``): the stored options and
    result read back into their types; poll again in a second while it is queued or processing."""
    failed = job.status == JobStatus.FAILED
    return JobRecord(
        job_id=job.job_id,
        status=cast("ApiJobStatus", job.status),
        progress=job.progress,
        file_id=job.file_id,
        created_at=job.created_at,
        updated_at=job.updated_at,
        completed_at=job.completed_at,
        options=JobOptions.from_document(job.options),
        metadata=job.metadata_,
        transcript=Transcript.from_job_fields(job.result) if job.result else None,
        error=JobError(job.error_code or "internal_error", job.error_message or "") if failed else None,
        retry_after=_RETRY_AFTER if job.status in (JobStatus.QUEUED, JobStatus.PROCESSING) else None,
    )


def file_record(record: File) -> FileRecord:
    """The file as the contract's ``File`` (the table's columns are named as the contract's fields)."""
    return FileRecord(**{field.name: getattr(record, field.name) for field in dataclasses.fields(FileRecord)})


def default_url(data_dir: str | Path) -> str:
    """The default database: ``voxcontract.db`` in the server's data directory."""
    return f"sqlite:///{Path(data_dir).resolve() / DB_FILENAME}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    if not url.startswith("sqlite"):
        return _create_engine(url, pool_pre_ping=True)
    engine = _create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


#: The PostgreSQL advisory lock under which a node creates the tables (any constant of the deployment's own).
_SCHEMA_LOCK = int.from_bytes(b"voxschem", "big") >> 1


def _use_wal(cursor: Any) -> None:
    """Switch the database to WAL (it stays so). The switch takes an exclusive lock without waiting for the busy
    timeout: processes opening a new database together retry it until its first opener has made the switch."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def create_schema(engine: Engine) -> None:
    """Create the tables that do not exist yet (migrations are a later concern), one node at a time.

    ``create_all`` checks which tables exist, then creates the others: nodes starting together on an empty database
    would all see none, and all but one fail creating them (a unique violation in PostgreSQL's catalog). They take
    turns instead: under a transaction-scoped advisory lock on PostgreSQL; on SQLite, in a write transaction taken
    before the checks (``BEGIN IMMEDIATE``: one writer at a time, the others wait for the busy timeout).
    """
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        Base.metadata.create_all(connection)
        connection.commit()


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit: the store hands them out as plain records."""
    return sessionmaker(engine, expire_on_commit=False)
