"""Peak memory (RSS) and wall time of the reference engine on long media: the whole file at once, then in windows.

- **before**: faster-whisper given the file's path, ``WhisperModel.transcribe(str(path))``, as the engine called it
  until issue 9: the whole file is decoded into one 16 kHz float32 array (plus the decoder's 16-bit copy, the VAD's
  concatenation of speech and the whole log-Mel spectrogram).
- **after**: ``reference_impl.engine.WhisperTranscriber`` as the server runs it: streamed decoding, windows of about
  a minute cut at quiet points, segments stitched.

Both use the same model (default tiny.en), CPU int8, beam 5, VAD, segment timestamps, ``--cpu-threads`` threads.
Every run is a fresh Python process that reports its own peak resident set size (Linux's ``VmHWM``, else
``ru_maxrss``), so one run's memory cannot hide in another's; the table also shows the peak after loading the model
(the floor).

Media, made once and cached in ``benchmarks/.cache/memory/`` (Ogg/Opus, 24 kbit/s, 48 kHz mono):

- **speech**: English sentences from templates (seeded, so the text is known), spoken by espeak-ng in two voices
  alternating by paragraph; a pool of paragraphs repeats to fill the duration.
- **silence**: digital silence.

For speech, the word error rate of each transcript against the spoken text is shown, and the windowed transcript's
WER against the whole-file one (how far windowing moved the words; the goal: within 1 point).

    .venv/bin/python benchmarks/reference_memory.py                       # 10 min of speech and silence
    .venv/bin/python benchmarks/reference_memory.py --durations 10m,1h,3h --json memory.json
    .venv/bin/python benchmarks/reference_memory.py --durations 30m --kinds silence --modes after
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from rich.console import Console
from rich.table import Table

CACHE = Path(__file__).resolve().parent / ".cache" / "memory"
KINDS = ("speech", "silence")
MODES = ("before", "after")
DEFAULT_DURATIONS = "10m"
_UNITS = {"s": 1, "m": 60, "h": 3600}
_OPUS_RATE = 48_000
_OPUS_BITRATE = 24_000
_PARAGRAPH_PAUSE_SECONDS = 0.7
_POOL_PARAGRAPHS = 40
_SENTENCES_PER_PARAGRAPH = 8
_VOICES = ("en-us", "en-gb-x-rp")
_SUBJECTS = (
    "the committee", "our manager", "the new engineer", "my neighbour", "the finance team", "a local farmer",
    "the museum", "the city council", "her brother", "the support desk", "the head teacher", "our best customer",
)  # fmt: skip
_VERBS = (
    "approved", "reviewed", "postponed", "discussed", "announced", "cancelled", "delivered", "repaired",
    "painted", "explained", "ordered", "described",
)  # fmt: skip
_OBJECTS = (
    "the annual budget", "a detailed plan", "the spring festival", "an old bridge", "the weekly schedule",
    "the new library", "a small garden", "the travel policy", "the broken heater", "the morning meeting",
    "a long letter", "the parking rules",
)  # fmt: skip
_TAILS = (
    "after a long debate", "on Tuesday afternoon", "before the summer holidays", "without any warning",
    "in the main hall", "at the end of the month", "with great care", "for the second time",
    "despite the heavy rain", "early this morning", "over a cup of coffee", "in front of the station",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Media:
    kind: str
    seconds: float
    path: Path
    #: The spoken words (empty for silence).
    text: str


@dataclass(frozen=True, slots=True)
class Run:
    """One transcription in its own process."""

    kind: str
    seconds: float
    mode: str
    model_rss_mb: float
    peak_rss_mb: float
    wall_seconds: float
    transcript: str
    wer: float | None = None


# --- media ----------------------------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """``"90s"``, ``"10m"``, ``"3h"`` (or plain seconds) → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 10m, 3h)")
    return float(match[1]) * _UNITS[match[2] or "s"]


def label(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def paragraphs(seed: int = 9) -> list[str]:
    """The pool of paragraphs: template sentences, seeded (the same text on every machine)."""
    chooser = random.Random(seed)
    pool = []
    for _ in range(_POOL_PARAGRAPHS):
        sentences = [
            f"{chooser.choice(_SUBJECTS)} {chooser.choice(_VERBS)} {chooser.choice(_OBJECTS)} {chooser.choice(_TAILS)}."
            for _ in range(_SENTENCES_PER_PARAGRAPH)
        ]
        pool.append(" ".join(sentence[0].upper() + sentence[1:] for sentence in sentences))
    return pool


def spoken_pool(folder: Path) -> list[tuple[str, np.ndarray, int]]:
    """Each paragraph of the pool spoken by espeak-ng: (text, 16-bit samples, rate)."""
    spoken = []
    for index, text in enumerate(paragraphs()):
        path = folder / f"paragraph-{index}.wav"
        voice = _VOICES[index % len(_VOICES)]
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
        with wave.open(str(path), "rb") as clip:
            samples = np.frombuffer(clip.readframes(clip.getnframes()), dtype=np.int16)
            spoken.append((text, samples, clip.getframerate()))
    return spoken


def speech_blocks(seconds: float, folder: Path) -> tuple[Iterator[tuple[np.ndarray, int]], list[str]]:
    """Blocks of samples filling ``seconds`` with the pool's paragraphs in order (repeating), and their texts."""
    pool = spoken_pool(folder)
    rate = pool[0][2]
    pause = np.zeros(round(_PARAGRAPH_PAUSE_SECONDS * rate), dtype=np.int16)
    plan, total, index = [], 0, 0
    while total + len(pool[index % len(pool)][1]) <= seconds * rate:
        plan.append(pool[index % len(pool)])
        total += len(plan[-1][1]) + len(pause)
        index += 1
    tail = np.zeros(max(round(seconds * rate) - total, 0), dtype=np.int16)

    def blocks() -> Iterator[tuple[np.ndarray, int]]:
        for _, samples, _ in plan:
            yield samples, rate
            yield pause, rate
        yield tail, rate

    return blocks(), [text for text, _, _ in plan]


def silence_blocks(seconds: float) -> Iterator[tuple[np.ndarray, int]]:
    rate, left = 16_000, round(seconds * 16_000)
    while left > 0:
        size = min(left, 60 * rate)
        yield np.zeros(size, dtype=np.int16), rate
        left -= size


def write_opus(blocks: Iterator[tuple[np.ndarray, int]], path: Path) -> None:
    """16-bit mono blocks as Ogg/Opus (PyAV's encoder resamples them to 48 kHz)."""
    partial = path.with_suffix(".partial")
    with av.open(str(partial), "w", format="ogg") as out:
        stream: Any = out.add_stream("libopus", rate=_OPUS_RATE)
        stream.layout, stream.bit_rate = "mono", _OPUS_BITRATE
        for samples, rate in blocks:
            for start in range(0, len(samples), rate * 10):
                frame = av.AudioFrame.from_ndarray(samples[start : start + rate * 10].reshape(1, -1), layout="mono")
                frame.sample_rate = rate
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    partial.rename(path)


def make_media(kind: str, seconds: float, cache: Path) -> Media:
    """The cached media file of ``kind`` and length (made on first use)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{kind}-{seconds:g}s.ogg"
    text_path = path.with_suffix(".txt")
    if not path.exists():
        with tempfile.TemporaryDirectory(prefix="vox-memory-") as folder:
            if kind == "speech":
                blocks, texts = speech_blocks(seconds, Path(folder))
                write_opus(blocks, path)
                text_path.write_text(" ".join(texts) + "\n")
            else:
                write_opus(silence_blocks(seconds), path)
                text_path.write_text("\n")
    return Media(kind, seconds, path, text_path.read_text().strip())


# --- word error rate ------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Lowercased words, punctuation stripped (as tests/reference_impl/wer.py)."""
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Word-level Levenshtein distance, one row at a time in numpy (hours of speech: tens of thousands of words).

    The insertion term depends on the cell to its left; ``row[j] - j`` is a running minimum, so a row is a
    cumulative minimum instead of a Python loop."""
    vocabulary: dict[str, int] = {}
    ref = np.array([vocabulary.setdefault(word, len(vocabulary)) for word in reference], dtype=np.int64)
    hyp = np.array([vocabulary.setdefault(word, len(vocabulary)) for word in hypothesis], dtype=np.int64)
    columns = np.arange(len(hyp) + 1)
    row = columns.copy()
    for index, word in enumerate(ref, 1):
        candidates = np.empty_like(row)
        candidates[0] = index
        candidates[1:] = np.minimum(row[1:] + 1, row[:-1] + (hyp != word))
        row = np.minimum.accumulate(candidates - columns) + columns
    return int(row[-1])


def wer(reference: str, hypothesis: str) -> float:
    expected = words(reference)
    return edit_distance(expected, words(hypothesis)) / max(len(expected), 1)


# --- one run, in a child process ------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB: Linux's VmHWM, which starts afresh at exec (``ru_maxrss`` carries
    the forking parent's over exec: a child of a big process would report the parent's peak); elsewhere ru_maxrss."""
    with contextlib.suppress(OSError):
        match = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
        if match:
            return int(match[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(mode: str, media: Path, cpu_threads: int) -> dict[str, Any]:
    """Transcribe ``media`` the ``mode`` way in this process; what it cost."""
    from reference_impl.engine import WhisperTranscriber
    from voxcontract.transcription import TranscriptionOptions

    transcriber = WhisperTranscriber(device="cpu", compute_type="int8", cpu_threads=cpu_threads)
    model = transcriber.model
    model_rss = peak_rss_mb()
    start = time.perf_counter()
    if mode == "before":
        segments, _ = model.transcribe(str(media), language="en", beam_size=5, vad_filter=True)
        text = " ".join(segment.text.strip() for segment in segments if segment.text.strip())
    else:
        text = transcriber.transcribe(media, TranscriptionOptions()).text
    wall = time.perf_counter() - start
    return {"model_rss_mb": model_rss, "peak_rss_mb": peak_rss_mb(), "wall_seconds": wall, "transcript": text}


def measure(media: Media, mode: str, cpu_threads: int) -> Run:
    command = [sys.executable, __file__, "--child", mode, "--media", str(media.path), "--cpu-threads", str(cpu_threads)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    finished = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    return Run(
        kind=media.kind,
        seconds=media.seconds,
        mode=mode,
        wer=wer(media.text, result["transcript"]) if media.text else None,
        **result,
    )


# --- report ---------------------------------------------------------------------------------------------------


def result_table(runs: Sequence[Run]) -> Table:
    table = Table(
        title="Transcribing long media: peak RSS and wall time, each run in a fresh process (tiny.en, CPU int8)"
    )
    for column in ("media", "mode", "model loaded MB", "peak RSS MB", "wall s", "x real time", "WER"):
        table.add_column(column, justify="left" if column in ("media", "mode") else "right")
    for run in runs:
        table.add_row(
            f"{label(run.seconds)} {run.kind}",
            run.mode,
            f"{run.model_rss_mb:,.0f}",
            f"{run.peak_rss_mb:,.0f}",
            f"{run.wall_seconds:,.1f}",
            f"{run.seconds / run.wall_seconds:,.0f}",
            "" if run.wer is None else f"{run.wer:.1%}",
        )
    return table


def agreement(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """For speech run both ways: the windowed transcript's WER against the whole-file one, and the WER difference."""
    rows = []
    for before in runs:
        after = next(
            (r for r in runs if r.mode == "after" and (r.kind, r.seconds) == (before.kind, before.seconds)), None
        )
        if before.mode != "before" or before.wer is None or after is None or after.wer is None:
            continue
        rows.append(
            {
                "media": f"{label(before.seconds)} {before.kind}",
                "wer_before": before.wer,
                "wer_after": after.wer,
                "points": (after.wer - before.wer) * 100,
                "after_vs_before": wer(before.transcript, after.transcript),
            }
        )
    return rows


def agreement_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="Windowed vs whole-file transcripts of speech")
    for column in ("media", "WER whole file", "WER windowed", "difference (points)", "windowed vs whole file"):
        table.add_column(column, justify="left" if column == "media" else "right")
    for row in rows:
        table.add_row(
            row["media"],
            f"{row['wer_before']:.2%}",
            f"{row['wer_after']:.2%}",
            f"{row['points']:+.2f}",
            f"{row['after_vs_before']:.2%}",
        )
    return table


def machine() -> dict[str, Any]:
    import ctranslate2
    import faster_whisper

    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "faster_whisper": faster_whisper.__version__,
        "ctranslate2": ctranslate2.__version__,
    }


# --- command line ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--durations", default=DEFAULT_DURATIONS, help="comma-separated, e.g. 10m,1h,3h")
    parser.add_argument("--kinds", default=",".join(KINDS), help="speech, silence or both")
    parser.add_argument("--modes", default=",".join(MODES), help="before (whole file), after (windows) or both")
    parser.add_argument("--cpu-threads", type=int, default=min(os.cpu_count() or 1, 2), help="engine threads")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the media are kept between runs")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--media", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.durations = [parse_duration(part) for part in args.durations.split(",") if part.strip()]
    for name, allowed in (("kinds", KINDS), ("modes", MODES)):
        chosen = [part.strip() for part in getattr(args, name).split(",") if part.strip()]
        if not chosen or set(chosen) - set(allowed):
            parser.error(f"--{name} takes {', '.join(allowed)}")
        setattr(args, name, chosen)
    if not args.durations or args.cpu_threads < 1:
        parser.error("--durations needs at least one duration, --cpu-threads at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Make the media, measure every (duration, kind, mode) in its own process, print the tables."""
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.media, args.cpu_threads)))
        return 0
    console = Console(stderr=True)
    runs = []
    for seconds in args.durations:
        for kind in args.kinds:
            console.print(f"{label(seconds)} of {kind}: making the media (cached in {args.cache})")
            media = make_media(kind, seconds, args.cache)
            for mode in args.modes:
                console.print(f"  {mode} ...")
                runs.append(measure(media, mode, args.cpu_threads))
    out = Console(width=160)
    out.print(result_table(runs))
    rows = agreement(runs)
    if rows:
        out.print(agreement_table(rows))
    info = machine()
    out.print(f"{time.strftime('%Y-%m-%d')} · {info['cpus']} CPU(s), {info['cpu']} · python {info['python']}")
    if args.json is not None:
        report = {"date": time.strftime("%Y-%m-%d"), "machine": info, "cpu_threads": args.cpu_threads}
        report |= {"runs": [asdict(run) for run in runs], "agreement": rows}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
