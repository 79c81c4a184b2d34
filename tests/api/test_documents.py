from __future__ import annotations

from datetime import UTC, datetime

from voxcontract.api import FileRecord, JobError, JobRecord, file_document, job_document, rfc3339
from voxcontract.transcription import JobOptions, Retention, Segment, Transcript

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 3, 4, 6, 250_000, tzinfo=UTC)
TRANSCRIPT = Transcript("hello", "en", 0.9, 1.5, (Segment(0, 0.0, 1.5, "hello"),))


def job(**changes: object) -> JobRecord:
    fields: dict[str, object] = {
        "job_id": "job_1",
        "status": "queued",
        "progress": 0.0,
        "file_id": "file_1",
        "created_at": T0,
        "updated_at": T0,
        "options": JobOptions(retention=Retention(ttl_seconds=60)),
        "metadata": {"a": "b"},
    }
    return JobRecord(**{**fields, **changes})  # type: ignore[arg-type]


def test_timestamps_are_rfc3339_utc_with_milliseconds_only_when_there_are_some() -> None:
    assert rfc3339(T0) == "2026-01-02T03:04:05Z"
    assert rfc3339(T1) == "2026-01-02T03:04:06.250Z"


def test_a_queued_job_shows_its_options_in_full_and_no_result() -> None:
    document = job_document(job())
    assert document == {
        "job_id": "job_1",
        "status": "queued",
        "progress": 0,
        "file_id": "file_1",
        "created_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-02T03:04:05Z",
        "options": {
            "language": "auto",
            "timestamps": "segment",
            "diarization": False,
            "speakers_expected": None,
            "webhook_url": None,
            "retention": {"delete_after_retrieval": False, "ttl_seconds": 60},
        },
        "metadata": {"a": "b"},
    }
    assert isinstance(document["progress"], int)


def test_a_completed_job_carries_its_transcript_and_a_failed_one_its_error() -> None:
    completed = job_document(job(status="completed", progress=1.0, completed_at=T1, transcript=TRANSCRIPT))
    assert completed["completed_at"] == "2026-01-02T03:04:06.250Z"
    assert completed["transcript"] == "hello"
    assert completed["segments"] == [{"id": 0, "start": 0.0, "end": 1.5, "text": "hello"}]
    failed = job_document(job(status="failed", transcript=TRANSCRIPT, error=JobError("transcription_failed", "no")))
    assert failed["error"] == {"code": "transcription_failed", "message": "no"}
    assert "transcript" not in failed


def test_a_file_document() -> None:
    record = FileRecord("file_1", "a.wav", "audio/wav", 10, 1.5, T0, None)
    assert file_document(record) == {
        "file_id": "file_1",
        "filename": "a.wav",
        "content_type": "audio/wav",
        "size_bytes": 10,
        "duration_seconds": 1.5,
        "created_at": "2026-01-02T03:04:05Z",
        "expires_at": None,
    }
