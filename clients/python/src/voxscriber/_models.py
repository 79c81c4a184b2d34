"""Typed models of every schema in the contract's ``components.schemas``, written by hand.

Each object schema is a frozen dataclass of the same name and the same property names; each enum a ``Literal``;
each named scalar an alias. ``from_dict`` reads an API document (unknown properties are kept in ``extra``, not
refused, so a newer server does not break an older client; an unknown enum value is kept as the string it is);
``to_dict`` writes the document back (optional properties left out when unset). A test walks the contract and
fails when it has a schema, property or enum value these models do not know.
"""

from __future__ import annotations

import dataclasses
import types
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

__all__ = [
    "ErrorCode",
    "File",
    "FileId",
    "Health",
    "Job",
    "JobError",
    "JobId",
    "JobList",
    "JobOptions",
    "JobStatus",
    "Language",
    "Metadata",
    "Model",
    "Problem",
    "ProblemDetailItem",
    "Retention",
    "Segment",
    "Timestamp",
    "TimestampGranularity",
    "Transcript",
    "TranscriptionRequest",
    "UploadForm",
    "UploadUrlRequest",
    "WebhookEvent",
    "WebhookSecret",
    "Word",
]

FileId = str
JobId = str
#: An RFC 3339 date-time, read as an aware :class:`datetime`.
Timestamp = datetime
#: ``auto`` or an ISO 639-1 code.
Language = str
Metadata = dict[str, str]
TimestampGranularity = Literal["none", "segment", "word"]
JobStatus = Literal["queued", "processing", "completed", "failed"]
ErrorCode = Literal[
    "invalid_request",
    "malformed_body",
    "unsupported_media",
    "media_too_long",
    "url_fetch_failed",
    "url_not_allowed",
    "unauthorized",
    "not_found",
    "job_not_completed",
    "idempotency_key_reused",
    "file_in_use",
    "payload_too_large",
    "unsupported_content_type",
    "language_not_supported",
    "diarization_unavailable",
    "headers_too_large",
    "rate_limited",
    "transcription_failed",
    "processing_timeout",
    "internal_error",
    "service_unavailable",
    "insufficient_storage",
]

ModelT = TypeVar("ModelT", bound="Model")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Model:
    """A contract object: ``from_dict`` / ``to_dict`` driven by the dataclass fields and their types."""

    #: Properties the contract (as this SDK knows it) does not define, as the server sent them.
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    SDK_FIELDS: ClassVar[frozenset[str]] = frozenset({"extra"})

    @classmethod
    def from_dict(cls: type[ModelT], document: dict[str, Any]) -> ModelT:
        """The model of an API document; unknown properties go to ``extra``."""
        hints = _hints(cls)
        known = {name: _decode(hints[name], document[name]) for name in _contract_fields(cls) if name in document}
        extra = {name: value for name, value in document.items() if name not in hints}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The API document: required properties always, optional ones only when set."""
        document: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            if field.name in self.SDK_FIELDS:
                continue
            value = getattr(self, field.name)
            if value is None and _has_default(field):
                continue
            document[field.name] = _encode(value)
        return {**self.extra, **document}


def _contract_fields(cls: type[Model]) -> list[str]:
    return [field.name for field in dataclasses.fields(cls) if field.name not in cls.SDK_FIELDS]


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING


_HINTS: dict[type[Model], dict[str, Any]] = {}


def _hints(cls: type[Model]) -> dict[str, Any]:
    """The class's resolved field types, read once per class."""
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _decode(hint: Any, value: Any) -> Any:
    """A JSON value as the field's type: nested models, lists of them, datetimes; anything else as it is."""
    if value is None:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _decode(inner, value)
    if origin is list:
        (item,) = get_args(hint)
        return [_decode(item, element) for element in value]
    if hint is datetime:
        return _parse_datetime(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and issubclass(hint, Model):
        return hint.from_dict(value)
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_encode(element) for element in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return dict(value)
    return value


def _parse_datetime(text: str) -> datetime:
    # Python 3.10's fromisoformat does not read the "Z" every answer of the API ends with.
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Health(Model):
    """``GET /v1/health``."""

    status: Literal["ok"]
    version: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class UploadForm(Model):
    """The multipart upload: one ``file`` part (what :meth:`Client.upload` sends for a path or a file object)."""

    file: bytes


@dataclasses.dataclass(frozen=True, kw_only=True)
class UploadUrlRequest(Model):
    """An upload by URL: the server fetches ``url``."""

    url: str
    filename: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class File(Model):
    """An uploaded media file."""

    file_id: FileId
    filename: str
    content_type: str
    size_bytes: int
    duration_seconds: float
    created_at: Timestamp
    expires_at: datetime | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Retention(Model):
    """When VoxScriber deletes the media and the transcript."""

    delete_after_retrieval: bool | None = None
    ttl_seconds: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TranscriptionRequest(Model):
    """The body of ``POST /v1/transcribe``."""

    file_id: FileId
    language: Language | None = None
    timestamps: TimestampGranularity | None = None
    diarization: bool | None = None
    speakers_expected: int | None = None
    webhook_url: str | None = None
    retention: Retention | None = None
    metadata: Metadata | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class JobOptions(Model):
    """A job's options, defaults filled in."""

    language: Language
    timestamps: TimestampGranularity
    diarization: bool
    speakers_expected: int | None
    webhook_url: str | None
    retention: Retention


@dataclasses.dataclass(frozen=True, kw_only=True)
class JobError(Model):
    """Why a job failed."""

    code: ErrorCode
    message: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Word(Model):
    """One word with its times (seconds) and probability."""

    word: str
    start: float
    end: float
    probability: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class Segment(Model):
    """One segment of a transcript."""

    id: int
    start: float
    end: float
    text: str
    speaker: str | None = None
    words: list[Word] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Job(Model):
    """A transcription job; the transcript fields once ``completed``, ``error`` once ``failed``."""

    job_id: JobId
    status: JobStatus
    progress: float
    file_id: FileId
    created_at: Timestamp
    updated_at: Timestamp
    options: JobOptions
    metadata: Metadata
    completed_at: Timestamp | None = None
    transcript: str | None = None
    language: str | None = None
    language_probability: float | None = None
    duration_seconds: float | None = None
    segments: list[Segment] | None = None
    error: JobError | None = None

    @property
    def finished(self) -> bool:
        """Whether the job ended (``completed`` or ``failed``): terminal states never change."""
        return self.status in ("completed", "failed")


@dataclasses.dataclass(frozen=True, kw_only=True)
class JobList(Model):
    """One page of ``GET /v1/jobs``."""

    data: list[Job]
    has_more: bool
    next_cursor: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Transcript(Model):
    """A transcript as the JSON download."""

    job_id: JobId
    text: str
    language: str
    language_probability: float
    duration_seconds: float
    segments: list[Segment]


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookSecret(Model):
    """The Standard Webhooks signing secret of an API key."""

    secret: str
    algorithm: Literal["HMAC-SHA256"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookEvent(Model):
    """The body of a webhook delivery; ``data`` is the job as it ended."""

    type: Literal["transcription.completed", "transcription.failed"]
    timestamp: Timestamp
    data: Job


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProblemDetailItem(Model):
    """One validation failure of a problem."""

    message: str
    pointer: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Problem(Model):
    """An RFC 9457 problem (what :class:`voxscriber.APIError` carries as ``problem``)."""

    type: str
    title: str
    status: int
    code: ErrorCode
    request_id: str
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemDetailItem] | None = None
