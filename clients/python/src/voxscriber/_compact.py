"""Client-side compaction: the audio track of any media PyAV reads, as mono 16 kHz Opus in Ogg (the ``compact``
extra). Speech loses nothing a recogniser uses at 16 kHz mono, and Opus at ~24 kbit/s is a fraction of the bytes
of a WAV or a video; the server probes and transcribes the result like any upload."""

from __future__ import annotations

import io
import os
from typing import IO, Any

__all__ = ["compact_audio"]

SAMPLE_RATE = 16_000
BIT_RATE = 24_000


def compact_audio(source: str | os.PathLike[str] | bytes | IO[bytes]) -> bytes:
    """The first audio stream of ``source`` re-encoded as mono 16 kHz Opus in an Ogg container."""
    try:
        import av
    except ImportError as exc:  # the extra is optional
        raise ImportError("compact=True needs PyAV: pip install 'voxscriber[compact]'") from exc
    media: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    output = io.BytesIO()
    with av.open(media) as container, av.open(output, "w", format="ogg") as ogg:
        audio = container.streams.audio[0]
        encoder = ogg.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
        encoder.bit_rate = BIT_RATE
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(audio):
            for resampled in resampler.resample(frame):
                ogg.mux(encoder.encode(resampled))
        for resampled in resampler.resample(None):
            ogg.mux(encoder.encode(resampled))
        ogg.mux(encoder.encode(None))
    return output.getvalue()
