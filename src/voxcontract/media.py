"""Probing uploaded media with PyAV: is it decodable audio (or video with audio), what type, how long.

Both servers call :func:`probe` at upload, so undecodable or unsupported media is refused with 400
``unsupported_media`` before any job is started.
"""

from __future__ import annotations

import logging
import posixpath
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import av

from voxcontract.errors import UnsupportedMedia

__all__ = ["MediaInfo", "clean_filename", "filename_from_url", "probe"]

logger = logging.getLogger(__name__)

_MAX_FILENAME = 255
_DEFAULT_URL_FILENAME = "download"

# PyAV's demuxer names → (media type for audio-only, media type when a video stream is present).
_CONTAINERS: dict[str, tuple[str, str]] = {
    "wav": ("audio/wav", "audio/wav"),
    "mp3": ("audio/mpeg", "audio/mpeg"),
    "ogg": ("audio/ogg", "video/ogg"),
    "flac": ("audio/flac", "audio/flac"),
    "aac": ("audio/aac", "audio/aac"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("audio/mp4", "video/mp4"),
    "matroska,webm": ("audio/webm", "video/x-matroska"),
}


@dataclass(frozen=True, slots=True)
class MediaInfo:
    content_type: str
    duration_seconds: float
    has_video: bool
    container: str


def probe(path: Path) -> MediaInfo:
    """What ``path`` holds; :class:`UnsupportedMedia` unless it is decodable audio in a supported container."""
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            return _inspect(container)
    except UnsupportedMedia:
        raise
    except (av.error.FFmpegError, IndexError, ValueError, OSError, EOFError) as exc:
        logger.info("undecodable media %s: %s", path.name, exc)
        raise UnsupportedMedia("The upload is not decodable audio or video.") from exc


def _inspect(container: av.container.InputContainer) -> MediaInfo:
    name = container.format.name
    if name not in _CONTAINERS:
        raise UnsupportedMedia(
            f"The container format {name!r} is not supported; send wav, mp3, m4a, ogg, flac, webm, mp4, mov or mkv."
        )
    if not container.streams.audio:
        raise UnsupportedMedia("The upload has no audio stream.")
    has_video = bool(container.streams.video)
    duration = _duration(container)
    if duration <= 0:
        raise UnsupportedMedia("The upload's audio stream is empty.")
    audio_type, video_type = _CONTAINERS[name]
    if name == "matroska,webm" and not has_video:
        audio_type = "audio/webm"
    return MediaInfo(video_type if has_video else audio_type, round(duration, 3), has_video, name)


def _duration(container: av.container.InputContainer) -> float:
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return _decoded_duration(container)


def _decoded_duration(container: av.container.InputContainer) -> float:
    """Some streams (raw ADTS, some ogg) declare no duration: decode to count the samples."""
    stream = container.streams.audio[0]
    samples = 0
    rate = stream.rate or 0
    for frame in container.decode(stream):
        samples += frame.samples
        rate = frame.sample_rate or rate
    return samples / rate if rate else 0.0


def filename_from_url(url: str) -> str:
    """The last segment of the URL's path, decoded; ``download`` when there is none."""
    path = urllib.parse.urlsplit(url).path
    name = posixpath.basename(urllib.parse.unquote(path))
    return clean_filename(name) or _DEFAULT_URL_FILENAME


def clean_filename(name: str | None) -> str:
    """A name safe to echo: no directories, no control characters, at most 255 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable()).strip()[:_MAX_FILENAME]
