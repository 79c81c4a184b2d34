"""What the Python SDK's client-side compaction saves, and what it costs in accuracy.

``voxscriber.Client.upload(..., compact=True)`` extracts the first audio track and re-encodes it as mono 16 kHz
Opus in Ogg before uploading (``voxscriber._compact.compact_audio``), as the guide advises for large recordings and
video. For each medium this prints the bytes before and after, and the word error rate of the reference server's
engine (``reference_impl.engine.WhisperTranscriber``: tiny.en, int8, beam 5, VAD) on the original and on the
compacted file, against the text that was spoken.

Media: the four speech fixtures of ``mockserver/fixtures`` (WAV, MP3, Ogg/Opus, M4A), about a minute of espeak-ng
speech as 16-bit PCM WAV (what a recorder writes), and the same speech as the sound track of an MP4 video
(H.264 at 640x360, 25 fps, AAC 48 kHz stereo). All are made in a temporary directory; nothing is downloaded.

    .venv/bin/python benchmarks/client_compaction.py
    .venv/bin/python benchmarks/client_compaction.py --quick --json compaction.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_memory import wer
from voxscriber._compact import compact_audio

from mockserver.fixtures import speech_fixtures

SPOKEN = (
    "The quarterly report shows steady growth in every region. Our team shipped the new billing system in March, "
    "and customers noticed the faster checkout. Next quarter we will focus on support response times, the mobile "
    "application, and a clearer onboarding guide. Please send your questions to the product team before Friday. "
    "Thank you all for the careful work on the migration, which finished two weeks ahead of the plan."
)
_VIDEO_SIZE = (640, 360)
_VIDEO_RATE = 25


@dataclass(frozen=True, slots=True)
class Medium:
    name: str
    path: Path
    text: str


@dataclass(frozen=True, slots=True)
class Row:
    medium: str
    bytes_before: int
    bytes_after: int
    wer_before: float
    wer_after: float

    @property
    def ratio(self) -> float:
        return self.bytes_before / self.bytes_after if self.bytes_after else float("nan")


def espeak_wav(folder: Path, repeats: int) -> Medium:
    """``SPOKEN`` read ``repeats`` times by espeak-ng (en-us, 150 wpm): a 16-bit mono PCM WAV at 22.05 kHz."""
    once = folder / "once.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(once), SPOKEN], check=True, capture_output=True)
    with wave.open(str(once), "rb") as clip:
        params, frames = clip.getparams(), clip.readframes(clip.getnframes())
    path = folder / "speech.wav"
    pause = b"\x00\x00" * (params.framerate // 2)
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        for _ in range(repeats):
            out.writeframes(frames + pause)
    return Medium("speech.wav (espeak-ng, PCM)", path, " ".join([SPOKEN] * repeats))


def video_with(speech: Medium, folder: Path) -> Medium:
    """An MP4 whose sound track is ``speech`` (AAC, 48 kHz stereo) under a moving H.264 picture."""
    path = folder / "talk.mp4"
    with av.open(str(speech.path)) as source, av.open(str(path), "w") as out:
        picture = out.add_stream("libx264", rate=_VIDEO_RATE)
        picture.width, picture.height = _VIDEO_SIZE  # type: ignore[union-attr]
        picture.pix_fmt = "yuv420p"  # type: ignore[union-attr]
        sound = out.add_stream("aac", rate=48_000, layout="stereo")
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48_000)
        seconds = 0.0
        for frame in source.decode(audio=0):
            seconds += frame.samples / frame.sample_rate
            for resampled in resampler.resample(frame):
                out.mux(sound.encode(resampled))  # type: ignore[arg-type]
        for resampled in resampler.resample(None):
            out.mux(sound.encode(resampled))  # type: ignore[arg-type]
        out.mux(sound.encode(None))
        for index in range(round(seconds * _VIDEO_RATE)):
            out.mux(picture.encode(_picture(index)))  # type: ignore[arg-type]
        out.mux(picture.encode(None))
    return Medium("talk.mp4 (H.264 + AAC)", path, speech.text)


def _picture(index: int) -> av.VideoFrame:
    width, height = _VIDEO_SIZE
    x = np.arange(width, dtype=np.uint16)[None, :] + index * 4
    y = np.arange(height, dtype=np.uint16)[:, None]
    red, green, blue = np.broadcast_arrays((x + y) % 256, (x * 2) % 256, (y * 3 + index) % 256)
    rgb = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24")


def media(folder: Path, quick: bool) -> list[Medium]:
    found = [Medium(f"{fixture.file} (fixture)", fixture.path, fixture.text) for fixture in speech_fixtures()]
    speech = espeak_wav(folder, repeats=1 if quick else 2)
    return [*found, speech, video_with(speech, folder)]


def measure(items: list[Medium], folder: Path) -> list[Row]:
    from reference_impl.engine import WhisperTranscriber
    from voxcontract.transcription import TranscriptionOptions

    transcriber = WhisperTranscriber(device="cpu", compute_type="int8")
    rows = []
    for item in items:
        compacted = folder / f"{item.path.stem}.compact.ogg"
        compacted.write_bytes(compact_audio(str(item.path)))
        before = transcriber.transcribe(item.path, TranscriptionOptions()).text
        after = transcriber.transcribe(compacted, TranscriptionOptions()).text
        sizes = item.path.stat().st_size, compacted.stat().st_size
        rows.append(Row(item.name, *sizes, wer(item.text, before), wer(item.text, after)))
    return rows


def table(rows: list[Row]) -> Table:
    result = Table(title="upload(..., compact=True): mono 16 kHz Opus in Ogg; WER of tiny.en on each")
    for column in ("medium", "bytes before", "bytes after", "smaller by", "WER before", "WER after"):
        result.add_column(column, justify="left" if column == "medium" else "right")
    for row in rows:
        result.add_row(
            row.medium,
            f"{row.bytes_before:,}",
            f"{row.bytes_after:,}",
            f"{row.ratio:.1f}x",
            f"{row.wer_before:.1%}",
            f"{row.wer_after:.1%}",
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 28 s of espeak-ng speech instead of about 56 s")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="voxcontract-compaction-") as tmp:
        folder = Path(tmp)
        rows = measure(media(folder, args.quick), folder)
    Console(width=140).print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(row), "ratio": row.ratio} for row in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
