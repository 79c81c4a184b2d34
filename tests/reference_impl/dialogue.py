"""A two-voice dialogue spoken by espeak-ng, with its true turns: test speech for speaker diarization.

``make_dialogue(folder)`` writes ``dialogue.wav`` (16 kHz mono, 16-bit) and returns it with the turns as
``(start, end, voice)`` in seconds. The voices are espeak-ng's American English and its female variant f3,
which resemblyzer's voice encoder tells apart (see tests/reference_impl/test_diarization.py for the figures).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import av

from voxcontract.transcription import Segment

__all__ = ["SAMPLE_RATE", "TURNS", "VOICES", "Turns", "consistency", "make_dialogue", "true_voice"]

Turns = list[tuple[float, float, str]]

SAMPLE_RATE = 16_000
GAP_SECONDS = 0.6
VOICES = ("en-us", "en-us+f3")
TURNS: tuple[tuple[str, str], ...] = (
    (VOICES[0], "Good morning. Shall we start with the quarterly numbers?"),
    (VOICES[1], "Yes, please. Sales grew a little in the northern region, but costs grew faster."),
    (VOICES[0], "That is what worries me. Which costs went up the most?"),
    (VOICES[1], "Mostly shipping and the new warehouse. The lease started in April."),
    (VOICES[0], "Can we move some of the shipping to the rail partner we talked about last year?"),
    (VOICES[1], "I think so. I will ask them for a quote before Friday."),
    (VOICES[0], "Good. Then let us meet again next Tuesday to decide."),
    (VOICES[1], "Tuesday works for me. Thank you, and have a pleasant afternoon."),
)


def make_dialogue(tmp_dir: Path) -> tuple[Path, list[tuple[float, float, str]]]:
    """Write the dialogue to ``tmp_dir/dialogue.wav``; return it and the true ``(start, end, voice)`` turns."""
    pcm, turns = bytearray(), []
    silence = bytes(2 * int(GAP_SECONDS * SAMPLE_RATE))
    for index, (voice, text) in enumerate(TURNS):
        if index:
            pcm += silence
        start = len(pcm) / 2 / SAMPLE_RATE
        pcm += speak_pcm(voice, text, tmp_dir / f"turn{index}.wav")
        turns.append((start, len(pcm) / 2 / SAMPLE_RATE, voice))
    path = tmp_dir / "dialogue.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(bytes(pcm))
    return path, turns


def speak_pcm(voice: str, text: str, scratch: Path) -> bytes:
    """``text`` in ``voice`` as 16 kHz mono signed 16-bit PCM (espeak-ng writes 22.05 kHz; PyAV resamples)."""
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is missing: run ./dev setup (it installs the Debian package)"
    subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(scratch), text], check=True, capture_output=True)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pcm = bytearray()
    with av.open(str(scratch)) as source:
        for frame in source.decode(audio=0):
            pcm += _frames_bytes(resampler.resample(frame))
    pcm += _frames_bytes(resampler.resample(None))
    return bytes(pcm)


def _frames_bytes(frames: list[av.AudioFrame]) -> bytes:
    return b"".join(bytes(frame.planes[0])[: 2 * frame.samples] for frame in frames)


def true_voice(segment: Segment, turns: Turns) -> str:
    """The voice whose turn overlaps the segment the longest."""
    return max(turns, key=lambda turn: min(segment.end, turn[1]) - max(segment.start, turn[0]))[2]


def consistency(segments: Sequence[Segment], turns: Turns) -> float:
    """Share of segments whose label matches their true voice under the best one-to-one mapping of labels to voices."""
    truth = [true_voice(segment, turns) for segment in segments]
    labels = sorted({str(segment.speaker) for segment in segments})
    voices: list[str | None] = sorted(set(truth))
    voices += [None] * (len(labels) - len(voices))  # labels beyond the voices map to nothing
    best = 0
    for chosen in itertools.permutations(voices):
        mapping = dict(zip(labels, chosen, strict=False))
        hits = sum(mapping[str(segment.speaker)] == voice for segment, voice in zip(segments, truth, strict=True))
        best = max(best, hits)
    return best / len(segments)
