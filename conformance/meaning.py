"""What a finished job must *mean*, given audio whose words and duration the suite knows.

The bundled recording's text and duration are defined here, once (:data:`DEFAULT_KNOWN_AUDIO`); media passed with
``--audio`` is known only as far as ``--audio-text`` and ``--audio-duration`` say. Pure functions over the job (or
transcript, or subtitle cues) as JSON; each returns the problems it finds, empty when none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conformance.subtitles import Cue

__all__ = [
    "DEFAULT_DURATION_TOLERANCE",
    "DEFAULT_KNOWN_AUDIO",
    "DEFAULT_MAX_WORD_ERROR_RATE",
    "DURATION_FLOOR_SECONDS",
    "SUBTITLE_ROUNDING_SECONDS",
    "KnownAudio",
    "cue_problems",
    "duration_problems",
    "segment_text_problems",
    "transcript_problems",
    "word_error_rate",
    "word_order_problems",
]

#: The word error rate allowed by default: lenient enough for any real engine on clear speech.
DEFAULT_MAX_WORD_ERROR_RATE = 0.35
#: How far (relative) a reported duration may be off the real one by default.
DEFAULT_DURATION_TOLERANCE = 0.05
#: Subtitle times have millisecond resolution: a server may round or truncate (plus float noise).
SUBTITLE_ROUNDING_SECONDS = 0.0011
#: The smallest duration difference ever reported, whatever the relative tolerance (decoder padding of short clips).
DURATION_FLOOR_SECONDS = 0.1
#: How much consecutive words of a segment may overlap (engines round word times to centiseconds).
WORD_OVERLAP_SECONDS = 0.05
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_SPEAKER_PREFIX = re.compile(r"^\s*(?:\[SPEAKER_[0-9]+\]|<v[ .][^>]*>)\s*")
_VTT_TAG = re.compile(r"</?[a-z][^>]*>")


@dataclass(frozen=True, slots=True)
class KnownAudio:
    """What the suite knows of the media it uploads: the words said and the real duration (None: unknown)."""

    text: str | None
    duration_seconds: float | None


#: The bundled ``hello.wav`` (espeak-ng, en-us): the same recording as the mock's ``hello.wav`` speech fixture.
DEFAULT_KNOWN_AUDIO = KnownAudio(
    text="Hello and welcome to VoxScriber. This is a short test recording.",
    duration_seconds=4.253,
)


def _words(text: str) -> list[str]:
    """Lower-case words without punctuation: what a word error rate compares."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words of ``reference``, by word-level edit distance."""
    expected, heard = _words(reference), _words(hypothesis)
    if not expected:
        return 0.0 if not heard else 1.0
    previous = list(range(len(heard) + 1))
    for row, word in enumerate(expected, start=1):
        current = [row]
        for column, other in enumerate(heard, start=1):
            current.append(min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + (word != other)))
        previous = current
    return previous[-1] / len(expected)


def transcript_problems(transcript: str, known_text: str, max_word_error_rate: float) -> list[str]:
    """The transcript's word error rate against the known text, when above ``max_word_error_rate``."""
    rate = word_error_rate(known_text, transcript)
    if rate <= max_word_error_rate:
        return []
    return [
        f"the transcript {transcript[:120]!r} is {rate:.0%} words off the known text {known_text!r}"
        f" (at most {max_word_error_rate:.0%} allowed)"
    ]


def duration_problems(what: str, reported: object, real: float, tolerance: float) -> list[str]:
    """``what``'s duration_seconds off the real duration by more than ``tolerance`` (relative) or the floor."""
    allowed = max(real * tolerance, DURATION_FLOOR_SECONDS)
    if not isinstance(reported, int | float) or isinstance(reported, bool):
        return [f"{what} has duration_seconds {reported!r}, not a number"]
    if abs(float(reported) - real) <= allowed:
        return []
    return [f"{what} has duration_seconds {reported}, but the media lasts {real:.3f} s (±{allowed:.3f} s allowed)"]


def _segments(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [segment for segment in document.get("segments") or [] if isinstance(segment, dict)]


def _squeezed(text: str) -> str:
    return "".join(text.split())


def segment_text_problems(document: dict[str, Any], transcript_key: str = "transcript") -> list[str]:
    """The transcript differs from its segments' texts joined (whitespace aside); nothing to say without segments."""
    segments = _segments(document)
    if not segments:
        return []
    joined = "".join(str(segment.get("text", "")) for segment in segments)
    transcript = str(document.get(transcript_key) or "")
    if _squeezed(joined) == _squeezed(transcript):
        return []
    return [f"the {transcript_key} {transcript[:120]!r} is not its segments' texts joined ({joined[:120]!r})"]


def _cue_text(text: str) -> str:
    """A cue's words: without a speaker prefix (``[SPEAKER_1]``, ``<v SPEAKER_1>``), tags and line breaks."""
    return " ".join(_VTT_TAG.sub("", _SPEAKER_PREFIX.sub("", text)).split())


def cue_problems(cues: Sequence[Cue], document: dict[str, Any], fmt: str) -> list[str]:
    """Cues that do not match the segments with text one for one: count, start and end (to the millisecond), text."""
    segments = [segment for segment in _segments(document) if str(segment.get("text", "")).strip()]
    if not segments:
        return []
    if len(cues) != len(segments):
        return [f"the {fmt} download has {len(cues)} cues for {len(segments)} segments with text"]
    problems: list[str] = []
    for number, (cue, segment) in enumerate(zip(cues, segments, strict=True), start=1):
        start, end = float(segment.get("start", 0.0)), float(segment.get("end", 0.0))
        if (
            abs(cue.start - start) > SUBTITLE_ROUNDING_SECONDS
            or abs(cue.end - max(end, start)) > SUBTITLE_ROUNDING_SECONDS
        ):
            problems.append(
                f"{fmt} cue {number} runs {cue.start:.3f} - {cue.end:.3f} s, its segment {start:.3f} - {end:.3f} s"
            )
        expected = " ".join(str(segment.get("text", "")).split())
        if _cue_text(cue.text) != expected.replace("-->", "->"):
            problems.append(f"{fmt} cue {number} says {cue.text[:80]!r}, its segment {expected[:80]!r}")
    return problems


def word_order_problems(document: dict[str, Any]) -> list[str]:
    """Words of a segment out of order, or overlapping the word before by more than rounding."""
    problems: list[str] = []
    for index, segment in enumerate(_segments(document)):
        words = [word for word in segment.get("words") or [] if isinstance(word, dict)]
        for number in range(1, len(words)):
            before, word = words[number - 1], words[number]
            start, previous_end = float(word.get("start", 0.0)), float(before.get("end", 0.0))
            if start < previous_end - WORD_OVERLAP_SECONDS:
                problems.append(
                    f"segment {index} word {number} {word.get('word')!r} starts at {start:.3f} s, before the word"
                    f" before it ({before.get('word')!r}) ends at {previous_end:.3f} s"
                )
    return problems
