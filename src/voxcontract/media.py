"""Probing uploaded media with PyAV: is it decodable audio (or video with audio), what type, how long.

Both servers call :func:`probe` at upload, so undecodable or unsupported media is refused with 400
``unsupported_media``, and media longer than the deployment's limit with 400 ``media_too_long``, before any job is
started.

A container's header is a claim, not a measurement: a WAV header that says 8 Hz turns 136 KB into 8,500 s of
"audio" that a decoder then expands to gigabytes. Sample rates below :data:`MIN_SAMPLE_RATE` (no real recording of
speech has one) are unsupported media, and a duration that has to be measured by decoding stops counting at the limit.
"""

from __future__ import annotations

import contextlib
import logging
import math
import posixpath
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av

from voxcontract.errors import MediaTooLong, UnsupportedMedia

__all__ = [
    "MIN_SAMPLE_RATE",
    "MediaInfo",
    "MediaSource",
    "clean_filename",
    "filename_from_url",
    "open_container",
    "probe",
    "source_name",
]

#: Media to read: a file, or a seekable binary stream (an object in a remote store, read by ranges).
MediaSource = Path | BinaryIO

logger = logging.getLogger(__name__)

_MAX_FILENAME = 255
_DEFAULT_URL_FILENAME = "download"
#: The lowest audio sample rate accepted (Hz): telephony is 8 kHz; below half of that there is no speech to hear.
MIN_SAMPLE_RATE = 4000

#: WAV format tags of PCM audio: integer, IEEE float, and "extensible" (whose subformat the decoder checks).
_PCM_FORMAT_TAGS = frozenset({0x0001, 0x0003, 0xFFFE})
#: FFmpeg's format options for a file whose header describes its one stream fully: read no packets ahead.
_NO_PROBING = {"probesize": "32", "analyzeduration": "0"}

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


def probe(media: MediaSource, *, max_seconds: float = math.inf) -> MediaInfo:
    """What ``media`` holds; :class:`UnsupportedMedia` unless it is decodable audio in a supported container,
    :class:`MediaTooLong` when it lasts more than ``max_seconds``."""
    try:
        with _open(media) as container:
            info = _inspect(container, max_seconds)
    except (UnsupportedMedia, MediaTooLong):
        raise
    except (av.error.FFmpegError, IndexError, ValueError, OSError, EOFError) as exc:
        logger.info("undecodable media %s: %s", source_name(media), exc)
        raise UnsupportedMedia("The upload is not decodable audio or video.") from exc
    if info.duration_seconds > max_seconds:
        raise MediaTooLong(
            f"The media lasts {info.duration_seconds:.0f} s; this deployment transcribes at most {max_seconds:.0f} s."
        )
    return info


def source_name(media: MediaSource) -> str:
    """A name for ``media`` in the log: the file's name, or the stream's own name."""
    return media.name if isinstance(media, Path) else str(getattr(media, "name", "stream"))


def open_container(
    media: MediaSource, *, format: str | None = None, options: dict[str, str] | None = None
) -> av.container.InputContainer:
    """PyAV's input container on a file or a stream (rewound: a stream may be opened more than once)."""
    if not isinstance(media, Path):
        media.seek(0)
    source = str(media) if isinstance(media, Path) else media
    return av.open(source, mode="r", format=format, options=options, metadata_errors="ignore")


def _open(media: MediaSource) -> av.container.InputContainer:
    """``media`` opened for reading; a PCM WAV without FFmpeg's stream probing, which its header makes needless.

    Probing (reading ahead and analysing packets to find each stream's parameters) costs ~1.5 ms even for a
    one-second file: most of an upload's time on the mock. A WAV whose format tag says PCM carries its rate,
    channels and length in its header; it is opened as ``wav`` with probing off, and kept only when the stream is
    PCM indeed. Anything else, or anything that fails so, is opened with probing, as every other file is.
    """
    if _claims_pcm_wav(media):
        with contextlib.suppress(av.error.FFmpegError, OSError):
            container = open_container(media, format="wav", options=_NO_PROBING)
            streams = container.streams.audio
            if len(container.streams) == 1 and streams and streams[0].codec_context.name.startswith("pcm_"):
                return container
            container.close()
    return open_container(media)


def _claims_pcm_wav(media: MediaSource) -> bool:
    """Whether the media starts as a RIFF WAVE whose first chunk is ``fmt `` with a PCM format tag."""
    with contextlib.suppress(OSError):
        head = _head(media, 22)
        return (
            len(head) == 22
            and head[:4] == b"RIFF"
            and head[8:16] == b"WAVEfmt "
            and int.from_bytes(head[20:22], "little") in _PCM_FORMAT_TAGS
        )
    return False


def _head(media: MediaSource, size: int) -> bytes:
    if isinstance(media, Path):
        with media.open("rb") as stream:
            return stream.read(size)
    media.seek(0)
    return media.read(size)


def _inspect(container: av.container.InputContainer, max_seconds: float) -> MediaInfo:
    name = container.format.name
    if name not in _CONTAINERS:
        raise UnsupportedMedia(
            f"The container format {name!r} is not supported; send wav, mp3, m4a, ogg, flac, webm, mp4, mov or mkv."
        )
    if not container.streams.audio:
        raise UnsupportedMedia("The upload has no audio stream.")
    rate = container.streams.audio[0].rate or 0
    if 0 < rate < MIN_SAMPLE_RATE:
        raise UnsupportedMedia(f"The audio's sample rate ({rate} Hz) is below {MIN_SAMPLE_RATE} Hz: not speech audio.")
    has_video = bool(container.streams.video)
    duration = _duration(container, max_seconds)
    if duration <= 0:
        raise UnsupportedMedia("The upload's audio stream is empty.")
    audio_type, video_type = _CONTAINERS[name]
    if name == "matroska,webm" and not has_video:
        audio_type = "audio/webm"
    return MediaInfo(video_type if has_video else audio_type, round(duration, 3), has_video, name)


def _duration(container: av.container.InputContainer, max_seconds: float) -> float:
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return _decoded_duration(container, max_seconds)


def _decoded_duration(container: av.container.InputContainer, max_seconds: float) -> float:
    """Some streams (raw ADTS, some ogg) declare no duration: decode to count the samples, one frame at a time,
    and stop once past ``max_seconds`` (the caller refuses the media then)."""
    stream = container.streams.audio[0]
    samples = 0
    rate = stream.rate or 0
    for frame in container.decode(stream):
        rate = frame.sample_rate or rate
        if 0 < rate < MIN_SAMPLE_RATE:
            raise UnsupportedMedia(f"The audio's sample rate ({rate} Hz) is below {MIN_SAMPLE_RATE} Hz.")
        samples += frame.samples
        if rate and samples / rate > max_seconds:
            break
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
