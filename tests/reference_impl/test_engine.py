"""The faster-whisper engine with the real bundled model (tiny.en, CPU, int8) on the espeak-ng fixtures."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import json
import subprocess
import sys
import textwrap
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from reference_impl.audio import SAMPLE_RATE
from reference_impl.engine import WhisperTranscriber, resolve_compute_type, resolve_device
from reference_impl.models import MULTILINGUAL_MODEL, default_model_path, is_multilingual, resolve_model
from tests.reference_impl.speech import WER_BAR, speak, speak_all
from tests.reference_impl.wer import edit_distance, words
from voxcontract.errors import ConfigError, LanguageNotSupported, MediaTooLong, UnsupportedMedia
from voxcontract.transcription import Transcript, TranscriptionOptions

FIXTURES = Path(__file__).parents[2] / "mockserver" / "fixtures"
MANIFEST: list[dict[str, Any]] = json.loads((FIXTURES / "manifest.json").read_text())
# Measured: 13.2 % over all four fixtures (tiny.en int8, beam 5); float32 gives 10.3 %. The invented brand name
# "VoxScriber" alone costs two errors. The limit leaves room for CPU-specific int8 kernels, not for regressions.
WER_LIMIT = 0.15


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    return WhisperTranscriber(device="cpu", compute_type="int8", cpu_threads=2)


@pytest.fixture(scope="module")
def word_transcripts(transcriber: WhisperTranscriber) -> dict[str, Transcript]:
    options = TranscriptionOptions(timestamps="word")
    return {entry["file"]: transcriber.transcribe(FIXTURES / entry["file"], options) for entry in MANIFEST}


def test_wer_over_all_fixtures(word_transcripts: dict[str, Transcript]) -> None:
    errors = total = 0
    for entry in MANIFEST:
        reference, hypothesis = words(entry["text"]), words(word_transcripts[entry["file"]].text)
        distance = edit_distance(reference, hypothesis)
        print(f"{entry['file']}: WER {distance / len(reference):.1%}  {word_transcripts[entry['file']].text!r}")
        errors, total = errors + distance, total + len(reference)
    print(f"all fixtures: WER {errors / total:.1%} ({errors}/{total})")
    assert errors / total <= WER_LIMIT


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
def test_every_fixture_format_transcribes(entry: dict[str, Any], word_transcripts: dict[str, Transcript]) -> None:
    transcript = word_transcripts[entry["file"]]
    assert transcript.text == transcript.text.strip()
    assert "  " not in transcript.text
    assert transcript.duration_seconds == pytest.approx(entry["duration_seconds"], abs=0.1)
    assert [segment.id for segment in transcript.segments] == list(range(len(transcript.segments)))


def test_word_timestamps_lie_inside_segments_and_duration(word_transcripts: dict[str, Transcript]) -> None:
    for transcript in word_transcripts.values():
        for segment in transcript.segments:
            assert 0 <= segment.start <= segment.end <= transcript.duration_seconds
            assert segment.words
            for word in segment.words:
                assert segment.start <= word.start <= word.end <= segment.end
                assert 0 <= word.probability <= 1


def test_segment_granularity_has_nowords(transcriber: WhisperTranscriber) -> None:
    transcript = transcriber.transcribe(FIXTURES / "hello.wav", TranscriptionOptions(timestamps="segment"))
    assert transcript.segments
    assert all(segment.words is None for segment in transcript.segments)


def test_no_timestamps_means_no_segments_but_full_text(transcriber: WhisperTranscriber) -> None:
    transcript = transcriber.transcribe(FIXTURES / "hello.wav", TranscriptionOptions(timestamps="none"))
    assert transcript.segments == ()
    assert transcript.text.lower().startswith("hello and welcome")


def test_auto_language_is_english_on_an_english_only_model(word_transcripts: dict[str, Transcript]) -> None:
    assert {(t.language, t.language_probability) for t in word_transcripts.values()} == {("en", 1.0)}


def test_diarization_leaves_speakers_unset(transcriber: WhisperTranscriber) -> None:
    transcript = transcriber.transcribe(FIXTURES / "hello.wav", TranscriptionOptions(diarization=True))
    assert all(segment.speaker is None for segment in transcript.segments)


def test_mp4_video_transcribes(transcriber: WhisperTranscriber, tmp_path: Path) -> None:
    video = _mp4_with_video(FIXTURES / "hello.wav", tmp_path / "hello.mp4")
    transcript = transcriber.transcribe(video, TranscriptionOptions())
    assert transcript.text.lower().startswith("hello and welcome")


def test_other_languages_are_a_422_on_an_english_only_model(transcriber: WhisperTranscriber) -> None:
    assert transcriber.supported_languages() == frozenset({"en"})
    transcriber.check_language("en")
    transcriber.check_language("auto")
    with pytest.raises(LanguageNotSupported, match="English-only") as caught:
        transcriber.check_language("fr")
    assert (caught.value.status, caught.value.code) == (422, "language_not_supported")
    with pytest.raises(LanguageNotSupported):
        transcriber.transcribe(FIXTURES / "hello.wav", TranscriptionOptions(language="fr"))


@pytest.mark.parametrize("content", [b"this is not media at all" * 20, b""], ids=["garbage", "empty"])
def test_undecodable_media_is_unsupported(transcriber: WhisperTranscriber, tmp_path: Path, content: bytes) -> None:
    (tmp_path / "upload.bin").write_bytes(content)
    with pytest.raises(UnsupportedMedia):
        transcriber.transcribe(tmp_path / "upload.bin", TranscriptionOptions())


def test_the_model_is_loaded_once_per_process(transcriber: WhisperTranscriber) -> None:
    twin = WhisperTranscriber("tiny.en", device="cpu", compute_type="int8", cpu_threads=2)
    assert twin.model is transcriber.model


def test_model_resolution(tmp_path: Path) -> None:
    assert resolve_model(None) == resolve_model("tiny.en") == default_model_path()
    assert resolve_model(str(default_model_path())) == default_model_path().resolve()
    assert not is_multilingual(default_model_path())
    with pytest.raises(ConfigError, match=r"model\.bin"):
        resolve_model(str(tmp_path))


def test_device_and_compute_type_resolution() -> None:
    assert resolve_device("auto") in {"cpu", "cuda"}
    assert resolve_device("cpu") == "cpu"
    assert resolve_compute_type("auto", "cpu") == "int8"
    assert resolve_compute_type("auto", "cuda") == "float16"
    assert resolve_compute_type("int8_float16", "cuda") == "int8_float16"


def _mp4_with_video(source: Path, target: Path) -> Path:
    """``source``'s audio as AAC in an MP4 next to a small MPEG-4 video track."""
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=16000)
    with av.open(str(source)) as inp, av.open(str(target), mode="w", format="mp4") as out:
        # Every stream is added before the first packet: the container header is written then.
        picture: Any = out.add_stream("mpeg4", rate=10)
        picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        audio: Any = out.add_stream("aac", rate=16000)
        audio.layout = "mono"
        seconds = float(inp.duration or 0) / av.time_base
        frames = [_video_frame(index) for index in range(int(seconds * 10) + 1)]
        for frame in [*frames, None]:
            out.mux(picture.encode(frame))
        for decoded in inp.decode(audio=0):
            for chunk in resampler.resample(decoded):
                out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
    return target


def _video_frame(index: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 20 % 255, dtype=np.uint8), format="rgb24")
    frame.pts = index
    return frame


# Windows: stitching, language, limits


class Stop(Exception):
    pass


def wer(reference: str, hypothesis: str) -> float:
    return edit_distance(words(reference), words(hypothesis)) / len(words(reference))


def write_wav(path: Path, samples: np.ndarray[Any, Any], rate: int = SAMPLE_RATE) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def wav_samples(path: Path) -> tuple[np.ndarray[Any, Any], int]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(
            np.float32
        ) / 32768, wav.getframerate()


def joined_speech(folder: Path, times: int) -> tuple[str, Path]:
    """speak_all's two voices ``times`` over with a second's pause between: the text and a WAV."""
    text, wav = speak_all(folder)
    samples, rate = wav_samples(wav)
    pause = np.zeros(rate, dtype=np.float32)
    return " ".join([text] * times), write_wav(
        folder / f"speech-x{times}.wav", np.concatenate([samples, pause] * times), rate
    )


def test_windows_are_stitched_into_one_transcript(transcriber: WhisperTranscriber, tmp_path: Path) -> None:
    text, media = joined_speech(tmp_path, 1)  # ~30 s in windows of about 8 s
    small = WhisperTranscriber(device="cpu", compute_type="int8", cpu_threads=2, window_seconds=8)
    transcript = small.transcribe(media, TranscriptionOptions(timestamps="word"))
    whole = transcriber.model.transcribe(str(media), language="en", beam_size=5, vad_filter=True)[1]
    print(f"WER {wer(text, transcript.text):.1%}: {transcript.text!r}")
    assert transcript.duration_seconds == whole.duration  # counted from the samples decoded
    assert [segment.id for segment in transcript.segments] == list(range(len(transcript.segments)))
    assert len(transcript.segments) >= 4
    ends = [0.0] + [segment.end for segment in transcript.segments]
    for previous_end, segment in zip(ends, transcript.segments, strict=False):
        assert previous_end - 0.5 <= segment.start <= segment.end <= transcript.duration_seconds
        assert segment.words
        assert all(segment.start <= word.start <= word.end <= segment.end for word in segment.words)
    assert transcript.segments[-1].end > transcript.duration_seconds - 5  # the last window's times are offset
    assert transcript.text == " ".join(segment.text for segment in transcript.segments)
    assert wer(text, transcript.text) <= WER_BAR


def test_long_speech_in_windows_is_as_accurate_as_the_whole_file(
    transcriber: WhisperTranscriber, tmp_path: Path
) -> None:
    text, media = joined_speech(tmp_path, 4)  # ~2 min: four windows
    windowed = transcriber.transcribe(media, TranscriptionOptions()).text
    segments, _ = transcriber.model.transcribe(str(media), language="en", beam_size=5, vad_filter=True)
    whole = " ".join(segment.text.strip() for segment in segments)
    print(f"WER windowed {wer(text, windowed):.1%}, whole file {wer(text, whole):.1%}")
    assert wer(text, windowed) <= wer(text, whole) + 0.01


def test_progress_rises_to_the_end(transcriber: WhisperTranscriber) -> None:
    seen: list[float] = []
    transcriber.transcribe(FIXTURES / "meeting.ogg", TranscriptionOptions(), seen.append)
    assert len(seen) > 10
    assert seen == sorted(seen)
    assert seen[0] >= 0
    assert 0.8 <= seen[-1] <= 1


def test_the_stop_check_is_consulted_during_silence(transcriber: WhisperTranscriber, tmp_path: Path) -> None:
    """Silence produces no segment: the engine still checks (every decoded packet, every window) and stops."""
    silence = write_wav(tmp_path / "silence.wav", np.zeros(10 * 60 * SAMPLE_RATE, dtype=np.float32))
    calls: list[float] = []

    def stop_after_a_while(done: float) -> None:
        calls.append(done)
        if len(calls) == 500:
            raise Stop()

    with pytest.raises(Stop):
        transcriber.transcribe(silence, TranscriptionOptions(), stop_after_a_while)


def test_the_stop_check_runs_while_the_model_works_on_a_window_without_speech(tmp_path: Path) -> None:
    """Noise without VAD: Whisper decodes it at every temperature of its fallback (seconds per window) and yields no
    segment; the stop check runs before each model call, after the last packet is decoded."""
    noise = np.random.default_rng(7).normal(0, 0.1, 30 * SAMPLE_RATE).astype(np.float32)
    media = write_wav(tmp_path / "noise.wav", noise)
    with av.open(str(media)) as container:
        packets = sum(1 for _ in container.demux(container.streams.audio[0]))
    no_vad = WhisperTranscriber(device="cpu", compute_type="int8", cpu_threads=2, vad_filter=False)
    calls: list[float] = []

    def stop_once_decoded(done: float) -> None:
        calls.append(done)
        if len(calls) > packets + 1:  # every packet, then the window's start: what comes next is the model's
            raise Stop()

    with pytest.raises(Stop):
        no_vad.transcribe(media, TranscriptionOptions(), stop_once_decoded)


def test_decoding_stops_past_the_maximum_duration(tmp_path: Path) -> None:
    capped = WhisperTranscriber(device="cpu", compute_type="int8", cpu_threads=2, max_media_seconds=3.0)
    with pytest.raises(MediaTooLong):
        capped.transcribe(FIXTURES / "hello.wav", TranscriptionOptions())


def test_a_lying_sample_rate_is_unsupported_media(transcriber: WhisperTranscriber, tmp_path: Path) -> None:
    # 32 KB "at 8 Hz" is 2,000 s once resampled to 16 kHz (the 136 KB took 3 GB through whole-file decoding).
    lying = write_wav(tmp_path / "8hz.wav", np.zeros(16_000, dtype=np.float32), rate=8)
    with pytest.raises(UnsupportedMedia):
        transcriber.transcribe(lying, TranscriptionOptions())


def test_a_multilingual_model_detects_the_language_on_the_first_window_with_speech(tmp_path: Path) -> None:
    german = speak("de", "Guten Morgen. Heute besprechen wir den Haushalt für das nächste Jahr.", tmp_path / "de.wav")
    samples, rate = wav_samples(german)
    media = write_wav(tmp_path / "late.wav", np.concatenate([np.zeros(75 * rate, dtype=np.float32), samples]), rate)
    base = WhisperTranscriber(MULTILINGUAL_MODEL, data_dir=tmp_path, device="cpu", compute_type="int8", cpu_threads=2)
    transcript = base.transcribe(media, TranscriptionOptions())
    print(f"{transcript.language} at {transcript.language_probability:.2f}: {transcript.text!r}")
    assert (transcript.language, transcript.segments[0].start > 70) == ("de", True)
    assert 0.5 <= transcript.language_probability <= 1


# Memory: a separate process, so that its peak RSS is the engine's alone

MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, re, sys
    from pathlib import Path
    from reference_impl.engine import WhisperTranscriber
    from voxcontract.transcription import TranscriptionOptions

    def peak_mb():
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent (pytest, ~0.8 GB here).
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status)[1]) / 1024

    transcriber = WhisperTranscriber(device="cpu", compute_type="int8", cpu_threads=2)
    transcriber.model
    loaded = peak_mb()
    transcript = transcriber.transcribe(Path(sys.argv[1]), TranscriptionOptions())
    print(json.dumps({"loaded": loaded, "peak": peak_mb(), "duration": transcript.duration_seconds}))
    """
)
#: The issue's goal for any duration. The model loaded is ~240 MB; the whole-file decoding peaked at ~770 MB on this
#: half hour of silence (~1 GB more per hour), the windows at the model's own size.
PEAK_RSS_LIMIT_MB = 500


def test_half_an_hour_of_audio_keeps_the_peak_rss_of_a_short_file(tmp_path: Path) -> None:
    media = write_wav(tmp_path / "silence-30min.wav", np.zeros(30 * 60 * SAMPLE_RATE, dtype=np.float32))
    run = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(media)], capture_output=True, text=True, check=True, timeout=600
    )
    memory = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"model loaded {memory['loaded']:.0f} MB, peak {memory['peak']:.0f} MB")
    assert memory["duration"] == 30 * 60
    assert memory["peak"] < PEAK_RSS_LIMIT_MB
