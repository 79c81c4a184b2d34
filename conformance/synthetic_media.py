"""Media the suite makes instead of shipping: silence of a chosen sample rate and length, in a few bytes.

A check that needs media with one property (sampled too low, lasting too long) builds it here; silence keeps the
files small, so a four-hour recording is about 3 MB of FLAC and is made in about a second and a half.
"""

from __future__ import annotations

import io
import wave

import av

__all__ = ["silent_flac", "silent_wav"]

#: Samples per encoded chunk: a minute at 4 kHz, so memory stays small whatever the length.
_CHUNK_SAMPLES = 240_000


def silent_wav(rate: int, seconds: float = 0.5) -> bytes:
    """``seconds`` of 16-bit mono silence sampled at ``rate`` Hz, as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x00\x00" * int(rate * seconds))
    return buffer.getvalue()


def silent_flac(seconds: float, rate: int = 4000) -> bytes:
    """``seconds`` of 16-bit mono silence sampled at ``rate`` Hz, as FLAC (its STREAMINFO states the length)."""
    total = round(seconds * rate)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        stream.format = "s16"
        silence = bytes(2 * _CHUNK_SAMPLES)
        for start in range(0, total, _CHUNK_SAMPLES):
            samples = min(_CHUNK_SAMPLES, total - start)
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            frame.planes[0].update(silence[: 2 * samples])
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
