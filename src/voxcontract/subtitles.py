"""Transcript downloads: plain text, SRT and WebVTT, rendered from a :class:`~voxcontract.transcription.Transcript`.

With ``timestamps="none"`` a transcript has no segments; the subtitle formats then carry one cue spanning the
whole media, so every completed job can be downloaded in every format.
"""

from __future__ import annotations

import json

from voxcontract.transcription import Segment, Transcript

__all__ = ["MEDIA_TYPES", "render_download", "render_srt", "render_text", "render_vtt"]

#: The download format → the media type the contract documents for it.
MEDIA_TYPES = {"json": "application/json", "text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}


def _cues(transcript: Transcript) -> list[Segment]:
    if transcript.segments:
        return [segment for segment in transcript.segments if segment.text.strip()]
    return [Segment(id=0, start=0.0, end=transcript.duration_seconds, text=transcript.text)]


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cue_text(segment: Segment) -> str:
    text = " ".join(segment.text.split())
    # A blank line would end the cue early in both formats; "-->" would start a timing line in WebVTT.
    text = text.replace("-->", "->")
    return f"[{segment.speaker}] {text}" if segment.speaker else text


def render_text(transcript: Transcript) -> str:
    return transcript.text.strip() + "\n"


def render_srt(transcript: Transcript) -> str:
    blocks = [
        f"{index}\n{_clock(cue.start, ',')} --> {_clock(max(cue.end, cue.start), ',')}\n{_cue_text(cue)}\n"
        for index, cue in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def render_vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_clock(cue.start, '.')} --> {_clock(max(cue.end, cue.start), '.')}\n{_cue_text(cue)}\n"
        for cue in _cues(transcript)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


_EXTENSIONS = {"json": "json", "text": "txt", "srt": "srt", "vtt": "vtt"}


def render_download(transcript: Transcript, job_id: str, format: str) -> tuple[bytes, str, str]:
    """``GET /v1/transcripts/{job_id}?format=...``: the body, its media type and its download file name."""
    if format == "json":
        content = json.dumps(transcript.to_dict(job_id))
    else:
        content = {"text": render_text, "srt": render_srt, "vtt": render_vtt}[format](transcript)
    return content.encode("utf-8"), MEDIA_TYPES[format], f"{job_id}.{_EXTENSIONS[format]}"
