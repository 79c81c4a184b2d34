"""What a transcription engine produces, and the small protocol every engine implements.

The mock's deterministic engine and the reference server's faster-whisper engine both implement
:class:`Transcriber`, so the servers (and their tests) can swap them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from voxcontract.errors import BadRequest

__all__ = [
    "MAX_METADATA_KEY_LENGTH",
    "JobOptions",
    "Retention",
    "Segment",
    "Transcriber",
    "Transcript",
    "TranscriptionOptions",
    "Word",
    "job_metadata",
    "metadata_key_fits",
]

TimestampGranularity = Literal["none", "segment", "word"]


@dataclass(frozen=True, slots=True)
class TranscriptionOptions:
    language: str = "auto"
    timestamps: TimestampGranularity = "segment"
    diarization: bool = False
    speakers_expected: int | None = None


#: The longest metadata key (the contract's ``Metadata.x-voxscriber-max-key-length``; values are bounded by the schema).
MAX_METADATA_KEY_LENGTH = 64


def job_metadata(body: Mapping[str, Any]) -> dict[str, str]:
    """The ``metadata`` of a ``POST /v1/transcribe`` body, its keys checked against what the schema cannot say.

    :raises BadRequest: a key is empty or longer than :data:`MAX_METADATA_KEY_LENGTH` characters.
    """
    metadata = dict(body.get("metadata") or {})
    for key in metadata:
        if not metadata_key_fits(key):
            raise BadRequest(
                f"Metadata keys have 1 to {MAX_METADATA_KEY_LENGTH} characters; "
                f"one has {len(key)} ({key[:24]!r}{'...' if len(key) > 24 else ''}).",
                errors=[{"pointer": "/metadata", "message": f"a key of {len(key)} characters"}],
            )
    return metadata


def metadata_key_fits(key: str) -> bool:
    """Whether ``key`` is a metadata key the contract accepts (its length; the schema cannot say it)."""
    return 1 <= len(key) <= MAX_METADATA_KEY_LENGTH


@dataclass(frozen=True, slots=True)
class Retention:
    """The contract's ``Retention``: what happens to a job (and its media) once it ended."""

    delete_after_retrieval: bool = False
    ttl_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class JobOptions:
    """The contract's ``JobOptions``: a ``POST /v1/transcribe`` request's options, defaults filled in.

    One typed value from the request to the worker; :meth:`to_document` is both its rendering in the ``Job``
    document and the form a server stores (:meth:`from_document` reads that back).
    """

    language: str = "auto"
    timestamps: TimestampGranularity = "segment"
    diarization: bool = False
    speakers_expected: int | None = None
    webhook_url: str | None = None
    retention: Retention = field(default_factory=Retention)

    @classmethod
    def from_document(cls, body: Mapping[str, Any]) -> JobOptions:
        """The options of a request body (schema-valid), or of a stored :meth:`to_document`."""
        retention = body.get("retention") or {}
        return cls(
            language=body.get("language", "auto"),
            timestamps=body.get("timestamps", "segment"),
            diarization=bool(body.get("diarization", False)),
            speakers_expected=body.get("speakers_expected"),
            webhook_url=body.get("webhook_url"),
            retention=Retention(
                delete_after_retrieval=bool(retention.get("delete_after_retrieval", False)),
                ttl_seconds=retention.get("ttl_seconds"),
            ),
        )

    def to_document(self) -> dict[str, Any]:
        """The contract's ``JobOptions`` object (every field, defaults included)."""
        return {
            "language": self.language,
            "timestamps": self.timestamps,
            "diarization": self.diarization,
            "speakers_expected": self.speakers_expected,
            "webhook_url": self.webhook_url,
            "retention": {
                "delete_after_retrieval": self.retention.delete_after_retrieval,
                "ttl_seconds": self.retention.ttl_seconds,
            },
        }

    def transcription(self, language: str | None = None) -> TranscriptionOptions:
        """What the engine needs of these options (``language`` replaces the asked one, e.g. once detected)."""
        return TranscriptionOptions(
            language=language or self.language,
            timestamps=self.timestamps,
            diarization=self.diarization,
            speakers_expected=self.speakers_expected,
        )


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "start": self.start, "end": self.end, "probability": self.probability}

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Word:
        return cls(word=body["word"], start=body["start"], end=body["end"], probability=body["probability"])


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    start: float
    end: float
    text: str
    speaker: str | None = None
    words: tuple[Word, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The contract's ``Segment``: ``speaker`` and ``words`` only when present."""
        body: dict[str, Any] = {"id": self.id, "start": self.start, "end": self.end, "text": self.text}
        if self.speaker is not None:
            body["speaker"] = self.speaker
        if self.words is not None:
            body["words"] = [word.to_dict() for word in self.words]
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Segment:
        """The inverse of :meth:`to_dict`."""
        words = body.get("words")
        return cls(
            id=body["id"],
            start=body["start"],
            end=body["end"],
            text=body["text"],
            speaker=body.get("speaker"),
            words=None if words is None else tuple(Word.from_dict(word) for word in words),
        )


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    language_probability: float
    duration_seconds: float
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    def to_dict(self, job_id: str) -> dict[str, Any]:
        """The contract's ``Transcript`` (the JSON download)."""
        return {
            "job_id": job_id,
            "text": self.text,
            "language": self.language,
            "language_probability": self.language_probability,
            "duration_seconds": self.duration_seconds,
            "segments": [segment.to_dict() for segment in self.segments],
        }

    def job_fields(self) -> dict[str, Any]:
        """The fields a completed ``Job`` carries."""
        return {
            "transcript": self.text,
            "language": self.language,
            "language_probability": self.language_probability,
            "duration_seconds": self.duration_seconds,
            "segments": [segment.to_dict() for segment in self.segments],
        }

    @classmethod
    def from_job_fields(cls, fields: Mapping[str, Any]) -> Transcript:
        """The inverse of :meth:`job_fields` (a server that stores those fields reads the transcript back)."""
        return cls(
            text=fields["transcript"],
            language=fields["language"],
            language_probability=fields["language_probability"],
            duration_seconds=fields["duration_seconds"],
            segments=tuple(Segment.from_dict(segment) for segment in fields.get("segments", ())),
        )


class Transcriber(Protocol):
    """An engine: media file in, transcript out. Raises ``UnsupportedMedia`` for undecodable input."""

    def transcribe(self, media: Path, options: TranscriptionOptions) -> Transcript: ...
