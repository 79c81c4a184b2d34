"""What a finished job's transcript must look like beyond its schema: times, order, words and speakers.

Pure functions over the job (or transcript) as JSON; each returns the problems it finds, empty when none.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

__all__ = [
    "LEGAL_TRANSITIONS",
    "TOLERANCE_SECONDS",
    "segment_problems",
    "speaker_problems",
    "transition_problems",
    "word_problems",
]

#: How far past the media's duration a segment may end (decoders and models round).
TOLERANCE_SECONDS = 0.5
#: How far outside its segment a word may lie.
WORD_TOLERANCE_SECONDS = 0.05
#: (from, to) status pairs a poller may observe. Skipping ``processing`` between two polls is fine.
LEGAL_TRANSITIONS = frozenset(
    {
        ("queued", "queued"),
        ("queued", "processing"),
        ("queued", "completed"),
        ("queued", "failed"),
        ("processing", "processing"),
        ("processing", "completed"),
        ("processing", "failed"),
        ("completed", "completed"),
        ("failed", "failed"),
    }
)


def transition_problems(observations: Sequence[tuple[str, float]]) -> list[str]:
    """Illegal status changes and decreasing progress in a job's (status, progress) as polled, in order."""
    problems: list[str] = []
    pairs = itertools.pairwise(observations)
    for number, ((status, progress), (next_status, next_progress)) in enumerate(pairs, start=1):
        if (status, next_status) not in LEGAL_TRANSITIONS:
            problems.append(f"answer {number + 1}: the status went from {status} to {next_status}")
        if next_progress < progress:
            problems.append(f"answer {number + 1}: the progress went down from {progress} to {next_progress}")
    return problems


def _segments(document: dict[str, Any]) -> list[dict[str, Any]]:
    segments = document.get("segments") or []
    return [segment for segment in segments if isinstance(segment, dict)]


def segment_problems(document: dict[str, Any]) -> list[str]:
    """Segments out of order, ending before they start, or outside ``[0, duration + 0.5]``."""
    duration = float(document.get("duration_seconds") or 0.0)
    limit = duration + TOLERANCE_SECONDS
    problems: list[str] = []
    previous = 0.0
    for index, segment in enumerate(_segments(document)):
        start, end = float(segment.get("start", 0.0)), float(segment.get("end", 0.0))
        where = f"segment {index} ({start:.3f} - {end:.3f} s)"
        if end < start:
            problems.append(f"{where} ends before it starts")
        if start < 0 or end > limit:
            problems.append(f"{where} lies outside the media's [0, {duration:.3f}] s (+{TOLERANCE_SECONDS} s)")
        if start < previous:
            problems.append(f"{where} starts before the segment before it ({previous:.3f} s)")
        previous = start
    return problems


def word_problems(document: dict[str, Any]) -> list[str]:
    """With word timestamps asked: segments with text but no words, words outside their segment or reversed."""
    problems: list[str] = []
    for index, segment in enumerate(_segments(document)):
        words = segment.get("words")
        if not words:
            if str(segment.get("text", "")).strip():
                problems.append(f"segment {index} has text but no words")
            continue
        start, end = float(segment.get("start", 0.0)), float(segment.get("end", 0.0))
        for number, word in enumerate(words):
            word_start, word_end = float(word.get("start", 0.0)), float(word.get("end", 0.0))
            where = f"segment {index} word {number} {word.get('word')!r} ({word_start:.3f} - {word_end:.3f} s)"
            if word_end < word_start:
                problems.append(f"{where} ends before it starts")
            if word_start < start - WORD_TOLERANCE_SECONDS or word_end > end + WORD_TOLERANCE_SECONDS:
                problems.append(f"{where} lies outside its segment ({start:.3f} - {end:.3f} s)")
    return problems


def speaker_problems(document: dict[str, Any]) -> list[str]:
    """With diarization asked: segments without a speaker label."""
    return [
        f"segment {index} has no speaker label"
        for index, segment in enumerate(_segments(document))
        if not segment.get("speaker")
    ]
