"""Test media made on the fly with PyAV: a tone in any container, with or without a video track."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import av
import numpy as np

# container → (PyAV format, audio codec, sample rate)
AUDIO_FORMATS: dict[str, tuple[str, str, int]] = {
    "wav": ("wav", "pcm_s16le", 16000),
    "mp3": ("mp3", "libmp3lame", 16000),
    "ogg": ("ogg", "libopus", 48000),
    "flac": ("flac", "flac", 16000),
    "m4a": ("mp4", "aac", 16000),
    "webm": ("webm", "libopus", 48000),
    "mp4": ("mp4", "aac", 16000),
    "mov": ("mov", "aac", 16000),
    "mkv": ("matroska", "libopus", 48000),
}


def write_tone(path: Path, seconds: float = 1.0, *, kind: str | None = None, video: bool = False) -> Path:
    """A 440 Hz tone of ``seconds`` in the container of ``kind`` (default: the file suffix)."""
    kind = kind or path.suffix.lstrip(".")
    fmt, codec, rate = AUDIO_FORMATS.get(kind, ("mp4", "aac", 16000))
    with av.open(str(path), mode="w", format=fmt) as container:
        # Every stream is added before the first packet: the container header is written then.
        picture = _video_stream(container) if video else None
        audio = container.add_stream(codec, rate=rate)
        audio.layout = "mono"  # type: ignore[union-attr]
        if picture is not None:
            _encode(container, picture, _video_frames(seconds))
        _encode(container, audio, _tone_frames(seconds, rate))
    return path


def _encode(container: av.container.OutputContainer, stream: Any, frames: list[Any]) -> None:
    for frame in [*frames, None]:
        for packet in stream.encode(frame):
            container.mux(packet)


def _tone_frames(seconds: float, rate: int, chunk: int = 960) -> list[av.AudioFrame]:
    total = int(seconds * rate)
    t = np.arange(total) / rate
    samples = (0.3 * np.sin(2 * math.pi * 440 * t) * 32767).astype(np.int16)
    frames = []
    for start in range(0, total, chunk):
        frame = av.AudioFrame.from_ndarray(samples[start : start + chunk].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frames.append(frame)
    return frames


def _video_stream(container: av.container.OutputContainer) -> Any:
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height = 64, 48  # type: ignore[union-attr]
    stream.pix_fmt = "yuv420p"  # type: ignore[union-attr]
    return stream


def _video_frames(seconds: float) -> list[av.VideoFrame]:
    frames = []
    for index in range(int(seconds * 10)):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 20 % 255, dtype=np.uint8), format="rgb24")
        frame.pts = index
        frames.append(frame)
    return frames
