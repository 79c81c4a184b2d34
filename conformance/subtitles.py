"""Strict readers of SRT and WebVTT downloads: numbered blocks, timings, monotonic cues.

They accept what players accept (CRLF line ends, a BOM, WebVTT cue identifiers, settings and NOTE/STYLE/REGION
blocks) and raise :class:`SubtitleError` naming the line for anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Cue", "SubtitleError", "parse_srt", "parse_vtt"]

_SRT_TIMING = re.compile(r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d),(\d{3})(?: .*)?")
_VTT_TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_VTT_TIMING = re.compile(_VTT_TIME + r"[ \t]+-->[ \t]+" + _VTT_TIME + r"(?:[ \t].*)?")
_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
_VTT_NON_CUE_BLOCKS = ("NOTE", "STYLE", "REGION")


class SubtitleError(ValueError):
    """The text is not valid SRT or WebVTT."""


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: its times in seconds and its text lines."""

    start: float
    end: float
    text: str


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each blank-line separated block."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _check_order(cues: list[Cue], cue: Cue, line: int) -> None:
    if cue.end < cue.start:
        raise SubtitleError(f"line {line}: the cue ends ({cue.end:.3f}) before it starts ({cue.start:.3f})")
    if cues and cue.start < cues[-1].start:
        raise SubtitleError(f"line {line}: the cue starts ({cue.start:.3f}) before the previous one")


def parse_srt(text: str) -> list[Cue]:
    """The cues of an SRT document: ``N``, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text, numbered from 1 in order."""
    cues: list[Cue] = []
    for line, block in _blocks(text):
        if not block[0].strip().isdigit():
            raise SubtitleError(f"line {line}: expected the cue number {len(cues) + 1}, got {block[0][:40]!r}")
        if int(block[0]) != len(cues) + 1:
            raise SubtitleError(f"line {line}: cue number {block[0].strip()}, expected {len(cues) + 1}")
        timing = _SRT_TIMING.fullmatch(block[1].strip()) if len(block) > 1 else None
        if timing is None:
            got = block[1][:60] if len(block) > 1 else "nothing"
            raise SubtitleError(f"line {line + 1}: expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm', got {got!r}")
        if len(block) < 3:
            raise SubtitleError(f"line {line + 2}: cue {len(cues) + 1} has no text")
        parts = timing.groups()
        cue = Cue(_seconds(*parts[:4]), _seconds(*parts[4:]), "\n".join(block[2:]))
        _check_order(cues, cue, line + 1)
        cues.append(cue)
    return cues


def parse_vtt(text: str) -> list[Cue]:
    """The cues of a WebVTT document: the ``WEBVTT`` header, then cues (an optional id, a timing, text)."""
    blocks = _blocks(text)
    if not text.lstrip("\ufeff").startswith("WEBVTT") or not blocks or not _VTT_HEADER.fullmatch(blocks[0][1][0]):
        raise SubtitleError("line 1: a WebVTT document starts with 'WEBVTT'")
    cues: list[Cue] = []
    for line, block in blocks[1:]:
        if block[0].split(" ")[0].split("\t")[0] in _VTT_NON_CUE_BLOCKS:
            continue
        offset = 0 if "-->" in block[0] else 1
        timing = _VTT_TIMING.fullmatch(block[offset].strip()) if len(block) > offset else None
        if timing is None:
            got = block[offset][:60] if len(block) > offset else "nothing"
            raise SubtitleError(f"line {line + offset}: expected '[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm', got {got!r}")
        if len(block) <= offset + 1:
            raise SubtitleError(f"line {line + offset + 1}: the cue has no text")
        parts = timing.groups()
        cue = Cue(_seconds(*parts[:4]), _seconds(*parts[4:]), "\n".join(block[offset + 1 :]))
        _check_order(cues, cue, line + offset)
        cues.append(cue)
    return cues
