"""The contract's documents, rendered once: ``File``, ``Job``, the list page, and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from voxcontract.api.backend import FileRecord, JobRecord

__all__ = ["file_document", "job_document", "rfc3339"]


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC: whole seconds when the time has no fraction of a millisecond, else milliseconds."""
    millis = round(moment.timestamp() * 1000)
    whole, fraction = divmod(millis, 1000)
    text = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{fraction:03d}Z" if fraction else f"{text}Z"


def file_document(record: FileRecord) -> dict[str, Any]:
    """The contract's ``File``."""
    return {
        "file_id": record.file_id,
        "filename": record.filename,
        "content_type": record.content_type,
        "size_bytes": record.size_bytes,
        "duration_seconds": record.duration_seconds,
        "created_at": rfc3339(record.created_at),
        "expires_at": None if record.expires_at is None else rfc3339(record.expires_at),
    }


def job_document(job: JobRecord) -> dict[str, Any]:
    """The contract's ``Job`` (``GET /v1/status/{job_id}``, ``GET /v1/jobs``, webhook ``data``)."""
    document: dict[str, Any] = {
        "job_id": job.job_id,
        "status": job.status,
        "progress": _number(job.progress),
        "file_id": job.file_id,
        "created_at": rfc3339(job.created_at),
        "updated_at": rfc3339(job.updated_at),
    }
    if job.completed_at is not None:
        document["completed_at"] = rfc3339(job.completed_at)
    document["options"] = job.options.to_document()
    document["metadata"] = dict(job.metadata)
    if job.status == "completed" and job.transcript is not None:
        document.update(job.transcript.job_fields())
    elif job.status == "failed" and job.error is not None:
        document["error"] = {"code": job.error.code, "message": job.error.message}
    return document


def _number(value: float) -> float | int:
    """0 and 1 as integers, as the contract's examples write them."""
    return int(value) if float(value).is_integer() else value
