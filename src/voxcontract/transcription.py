"""What a transcription engine produces, and the small protocol every engine implements.

The mock's deterministic engine and the reference server's faster-whisper engine both implement
:class:`Transcriber`, so the servers (and their tests) can swap them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = ["Segment", "Transcriber", "Transcript", "TranscriptionOptions", "Word"]

TimestampGranularity = Literal["none", "segment", "word"]


@dataclass(frozen=True, slots=True)
class TranscriptionOptions:
    language: str = "auto"
    timestamps: TimestampGranularity = "segment"
    diarization: bool = False
    speakers_expected: int | None = None


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "start": self.start, "end": self.end, "probability": self.probability}


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


class Transcriber(Protocol):
    """An engine: media file in, transcript out. Raises ``UnsupportedMedia`` for undecodable input."""

    def transcribe(self, media: Path, options: TranscriptionOptions) -> Transcript: ...
