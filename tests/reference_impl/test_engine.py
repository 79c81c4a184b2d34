"""The faster-whisper engine with the real bundled model (tiny.en, CPU, int8) on the espeak-ng fixtures."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from reference_impl.engine import WhisperTranscriber, resolve_compute_type, resolve_device
from reference_impl.models import default_model_path, is_multilingual, resolve_model
from tests.reference_impl.wer import edit_distance, words
from voxcontract.errors import ConfigError, UnprocessableEntity, UnsupportedMedia
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
    with pytest.raises(UnprocessableEntity, match="English-only") as caught:
        transcriber.check_language("fr")
    assert (caught.value.status, caught.value.code) == (422, "language_not_supported")
    with pytest.raises(UnprocessableEntity):
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
