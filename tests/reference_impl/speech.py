"""English test speech spoken by espeak-ng in two voices, and the same speech in every container the API accepts.

``speak`` writes one voice (espeak-ng's own WAV, 22.05 kHz mono); ``speak_all`` writes every sentence of both voices
into one WAV with short pauses between the voices; ``encode`` transcodes a WAV with PyAV into mp3, ogg/opus, flac,
m4a, or an mp4 with a small video track besides the AAC audio.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np

__all__ = ["ENCODINGS", "SENTENCES", "WER_BAR", "encode", "speak", "speak_all", "to_flac"]

#: Issue 5's accuracy bar: word error rate at most 10 %.
WER_BAR = 0.10
SENTENCES = {
    "en-us": [
        "The quarterly report shows that sales grew by a small margin in the northern region.",
        "Our team will present the new design to the board on Monday morning.",
        "After lunch we will walk through the open questions one by one.",
    ],
    "en-gb-x-rp": [
        "Please remember to bring your laptop and a copy of the budget to the meeting.",
        "The weather forecast predicts heavy rain for most of the coming week.",
        "Thank you all for coming, and have a pleasant evening.",
    ],
}
#: file suffix → (PyAV container format, audio codec, sample rate, with a video track). Opus only runs at 48 kHz;
#: PyAV's encoder resamples the decoded frames to each codec's rate and sample format.
ENCODINGS: dict[str, tuple[str, str, int, bool]] = {
    "mp3": ("mp3", "libmp3lame", 22050, False),
    "ogg": ("ogg", "libopus", 48000, False),
    "flac": ("flac", "flac", 22050, False),
    "m4a": ("mp4", "aac", 22050, False),
    "mp4": ("mp4", "aac", 22050, True),
}
_PAUSE_SECONDS = 0.5
_VIDEO_RATE = 10
_VIDEO_SIZE = (64, 48)


def speak(voice: str, text: str, path: Path) -> Path:
    """``text`` in espeak-ng's ``voice`` at 150 words a minute, as a WAV at ``path``."""
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is missing: run ./dev setup (it installs the Debian package)"
    subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    return path


def speak_all(folder: Path) -> tuple[str, Path]:
    """Every sentence of :data:`SENTENCES`, voice after voice, in ``folder/speech.wav``; the true text and the path."""
    texts, pcm, params = [], bytearray(), None
    for voice, lines in SENTENCES.items():
        text = " ".join(lines)
        with wave.open(str(speak(voice, text, folder / f"{voice}.wav")), "rb") as part:
            params = part.getparams()
            pause = bytes(int(_PAUSE_SECONDS * params.framerate) * params.sampwidth * params.nchannels)
            pcm += (pause if pcm else b"") + part.readframes(params.nframes)
        texts.append(text)
    assert params is not None
    path = folder / "speech.wav"
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(bytes(pcm))
    return " ".join(texts), path


def encode(wav: Path, suffix: str) -> Path:
    """``wav`` transcoded into the container and codec of :data:`ENCODINGS` ``[suffix]``, beside it."""
    fmt, codec, rate, video = ENCODINGS[suffix]
    target_path = wav.with_suffix(f".{suffix}")
    with av.open(str(wav)) as source, av.open(str(target_path), "w", format=fmt) as target:
        duration = float(source.duration or 0) / av.time_base
        # Every stream is added before the first packet: the container header is written then.
        picture = _video_stream(target) if video else None
        audio = target.add_stream(codec, rate=rate)
        audio.layout = "mono"  # type: ignore[union-attr]
        if picture is not None:
            _encode(target, picture, _video_frames(duration))
        _encode(target, audio, [_unstamped(frame) for frame in source.decode(audio=0)])
    return target_path


def to_flac(wav: Path) -> Path:
    """``wav`` as FLAC beside it."""
    return encode(wav, "flac")


def _unstamped(frame: av.AudioFrame) -> av.AudioFrame:
    frame.pts = None  # the encoder's own resampler stamps frames at its rate
    return frame


def _encode(container: av.container.OutputContainer, stream: Any, frames: list[Any]) -> None:
    for frame in [*frames, None]:
        for packet in stream.encode(frame):
            container.mux(packet)


def _video_stream(container: av.container.OutputContainer) -> Any:
    stream = container.add_stream("mpeg4", rate=_VIDEO_RATE)
    stream.width, stream.height = _VIDEO_SIZE
    stream.pix_fmt = "yuv420p"
    return stream


def _video_frames(seconds: float) -> list[av.VideoFrame]:
    """A solid dark-blue picture for ``seconds``."""
    width, height = _VIDEO_SIZE
    picture = np.zeros((height, width, 3), dtype=np.uint8)
    picture[..., 2] = 128
    frames = []
    for index in range(max(1, round(seconds * _VIDEO_RATE))):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = index
        frames.append(frame)
    return frames
