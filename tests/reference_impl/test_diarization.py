"""Speaker diarization: the real path (espeak-ng dialogue → faster-whisper → resemblyzer → clustering), the
clustering on synthetic embeddings, and the answer when the ``diarization`` extra is missing.

Measured when written (2 cores, 40.6 s dialogue, 8 Whisper segments): 8/8 segments consistent with the truth with
and without ``speakers_expected``; cosine similarity 0.86-0.94 within a voice, 0.64-0.69 across; cluster merges at
0.06-0.13 within a voice, 0.33 across; labelling 0.4 s once warm (2 s on first use: imports, librosa's first run).
"""

from __future__ import annotations

import subprocess
import sys
import time
import wave
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reference_impl import diarization
from reference_impl.diarization import (
    DIARIZATION_HINT,
    SpeakerDiarizer,
    cluster_embeddings,
    diarization_available,
    fill_gaps,
)
from tests.reference_impl.dialogue import Turns, consistency, make_dialogue
from voxcontract.errors import DiarizationUnavailable
from voxcontract.transcription import Segment, Transcript, TranscriptionOptions

CONSISTENCY_BAR = 0.8


@pytest.fixture(scope="module")
def extra() -> None:
    """The real path needs the extra: ./dev installs it, so its absence is a failure (a skip would hide it)."""
    if not diarization_available():
        pytest.fail(f"speaker diarization is not installed: {DIARIZATION_HINT}")


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Turns]:
    return make_dialogue(tmp_path_factory.mktemp("dialogue"))


@pytest.fixture(scope="module")
def transcript(extra: None, dialogue: tuple[Path, Turns]) -> Transcript:
    from reference_impl.engine import WhisperTranscriber

    engine = WhisperTranscriber(device="cpu", compute_type="int8", cpu_threads=2)
    return engine.transcribe(dialogue[0], TranscriptionOptions(timestamps="segment"))


def test_consistency_takes_the_best_mapping() -> None:
    turns = [(0.0, 2.0, "x"), (2.0, 4.0, "y"), (4.0, 6.0, "x")]
    labelled = [
        replace(segment, speaker=speaker) for segment, speaker in zip(segments_at(0.4, 2.6, 4.2), "BAB", strict=True)
    ]
    assert consistency(labelled, turns) == 1.0
    assert consistency([replace(segment, speaker="A") for segment in labelled], turns) == pytest.approx(2 / 3)
    assert consistency([replace(s, speaker=str(n)) for n, s in enumerate(labelled)], turns) == pytest.approx(2 / 3)


@pytest.mark.parametrize("speakers_expected", [2, None], ids=["expected-2", "threshold"])
def test_dialogue_speakers_are_told_apart(
    dialogue: tuple[Path, Turns], transcript: Transcript, speakers_expected: int | None
) -> None:
    media, turns = dialogue
    started = time.perf_counter()
    labelled = SpeakerDiarizer().label(media, transcript, speakers_expected=speakers_expected)
    elapsed = time.perf_counter() - started
    speakers = [segment.speaker for segment in labelled.segments]
    score = consistency(labelled.segments, turns)
    print(f"{len(speakers)} segments labelled in {elapsed:.2f} s: {speakers}; consistency {score:.0%}")
    assert len(labelled.segments) >= 6
    assert set(speakers) == {"SPEAKER_1", "SPEAKER_2"}
    assert speakers[0] == "SPEAKER_1"
    assert score >= CONSISTENCY_BAR
    assert [segment.text for segment in labelled.segments] == [segment.text for segment in transcript.segments]


def test_embeddings_separate_the_two_voices(extra: None, dialogue: tuple[Path, Turns]) -> None:
    media, turns = dialogue
    segments = [Segment(id=index, start=start, end=end, text="") for index, (start, end, _) in enumerate(turns)]
    embeddings = np.stack([e for e in SpeakerDiarizer().embed(media, segments) if e is not None])
    similarity = embeddings @ embeddings.T
    same = np.equal.outer([voice for *_, voice in turns], [voice for *_, voice in turns])
    within, across = similarity[same & ~np.eye(len(turns), dtype=bool)], similarity[~same]
    print(f"cosine similarity within a voice {within.min():.3f}-{within.max():.3f}, across {across.min():.3f}-"
          f"{across.max():.3f}")  # fmt: skip
    assert len(embeddings) == len(turns)
    assert within.min() > across.max()


def test_silent_segment_takes_its_nearest_neighbours_speaker(
    extra: None, dialogue: tuple[Path, Turns], tmp_path: Path
) -> None:
    media, turns = dialogue
    padded = with_trailing_silence(media, tmp_path / "padded.wav", seconds=3.0)
    segments = [Segment(id=index, start=start, end=end, text="") for index, (start, end, _) in enumerate(turns)]
    end = turns[-1][1]
    segments.append(Segment(id=len(turns), start=end + 0.5, end=end + 2.5, text=""))
    labelled = SpeakerDiarizer().label(padded, transcript_of(segments))
    speakers = [segment.speaker for segment in labelled.segments]
    assert speakers[:-1] == ["SPEAKER_1", "SPEAKER_2"] * (len(turns) // 2)
    assert speakers[-1] == speakers[-2]


def with_trailing_silence(source: Path, target: Path, *, seconds: float) -> Path:
    with wave.open(str(source), "rb") as wav:
        params, frames = wav.getparams(), wav.readframes(wav.getnframes())
    with wave.open(str(target), "wb") as out:
        out.setparams(params)
        out.writeframes(frames + bytes(2 * int(seconds * params.framerate)))
    return target


def transcript_of(segments: Sequence[Segment]) -> Transcript:
    end = max((segment.end for segment in segments), default=0.0)
    return Transcript(text="", language="en", language_probability=1.0, duration_seconds=end, segments=tuple(segments))


def segments_at(*starts: float) -> list[Segment]:
    return [Segment(id=index, start=start, end=start + 1, text=f"s{index}") for index, start in enumerate(starts)]


# Units: clustering on synthetic embeddings, label numbering, edge cases (no model, no media).


@pytest.fixture
def scipy() -> None:
    pytest.importorskip("scipy", reason=f"scipy comes with the diarization extra: {DIARIZATION_HINT}")


def voices(pattern: str, *, noise: float = 0.05, seed: int = 7) -> np.ndarray:
    """One embedding per character of ``pattern``: the same letter, the same (synthetic) voice.

    Like resemblyzer's, the vectors are non-negative; two voices' centres lie about 0.36 apart in cosine distance.
    """
    rng = np.random.default_rng(seed)
    centres = {letter: np.abs(rng.standard_normal(256)) for letter in sorted(set(pattern))}
    rows = [centres[letter] + noise * rng.standard_normal(256) for letter in pattern]
    return np.stack([row / np.linalg.norm(row) for row in rows])


@pytest.mark.usefixtures("scipy")
@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("ababab", [0, 1, 0, 1, 0, 1]), ("bbaab", [0, 0, 1, 1, 0]), ("abcacb", [0, 1, 2, 0, 2, 1]), ("aaaa", [0] * 4)],
)
def test_threshold_finds_the_voices_numbered_by_first_appearance(pattern: str, expected: list[int]) -> None:
    assert cluster_embeddings(voices(pattern), threshold=diarization.DEFAULT_THRESHOLD) == expected


@pytest.mark.usefixtures("scipy")
def test_speakers_expected_cuts_at_that_count() -> None:
    embeddings = voices("abcabc")
    assert cluster_embeddings(embeddings, speakers_expected=3, threshold=0.0) == [0, 1, 2, 0, 1, 2]
    assert cluster_embeddings(embeddings, speakers_expected=1, threshold=0.0) == [0] * 6
    assert len(set(cluster_embeddings(embeddings, speakers_expected=2, threshold=1.0))) == 2


@pytest.mark.usefixtures("scipy")
def test_speakers_expected_is_capped_by_the_segments() -> None:
    assert cluster_embeddings(voices("abc"), speakers_expected=10, threshold=1.0) == [0, 1, 2]
    assert cluster_embeddings(voices("a"), speakers_expected=4, threshold=0.0) == [0]
    assert cluster_embeddings(np.empty((0, 256)), speakers_expected=2, threshold=0.2) == []


@pytest.mark.usefixtures("scipy")
def test_threshold_is_a_knob() -> None:
    embeddings = voices("abab", noise=0.3)
    assert cluster_embeddings(embeddings, threshold=2.0) == [0, 0, 0, 0]
    assert cluster_embeddings(embeddings, threshold=0.0) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("labels", "filled"),
    [
        ([None, 1, None, None, 0, None], [1, 1, 1, 0, 0, 0]),
        ([2, None, None, None], [2, 2, 2, 2]),
        ([None, None], [0, 0]),
        ([], []),
    ],
)
def test_gaps_take_the_nearest_label(labels: list[int | None], filled: list[int]) -> None:
    assert fill_gaps(labels) == filled


@pytest.fixture
def pretend_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diarization, "diarization_available", lambda: True)


@pytest.mark.usefixtures("pretend_installed")
def test_no_segments_leave_the_transcript_unchanged(tmp_path: Path) -> None:
    transcript = transcript_of([])
    assert SpeakerDiarizer().label(tmp_path / "never-read.wav", transcript) is transcript


@pytest.mark.usefixtures("pretend_installed")
def test_one_segment_is_speaker_1_without_reading_the_media(tmp_path: Path) -> None:
    labelled = SpeakerDiarizer().label(tmp_path / "never-read.wav", transcript_of(segments_at(0.0)), 3)
    assert [segment.speaker for segment in labelled.segments] == ["SPEAKER_1"]
    assert labelled.segments[0].text == "s0"


@pytest.mark.usefixtures("pretend_installed")
def test_labels_follow_first_appearance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(diarization, "cluster_embeddings", lambda *_, **__: [4, 4, 2, 4, 0])
    monkeypatch.setattr(SpeakerDiarizer, "embed", lambda self, media, segments, *_: [np.ones(3)] * len(segments))
    labelled = SpeakerDiarizer().label(tmp_path / "x.wav", transcript_of(segments_at(0, 1, 2, 3, 4)))
    assert [segment.speaker for segment in labelled.segments] == [f"SPEAKER_{n}" for n in (1, 1, 2, 1, 3)]


def test_silence_gives_no_embedding() -> None:
    assert diarization._embed(None, np.zeros(24_000, dtype=np.float32)) is None
    assert diarization._embed(None, np.zeros(0, dtype=np.float32)) is None


# Without the extra.


@pytest.fixture
def uninstalled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for module in ("resemblyzer", "webrtcvad"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    diarization_available.cache_clear()
    yield
    monkeypatch.undo()
    diarization_available.cache_clear()


@pytest.mark.usefixtures("uninstalled")
def test_missing_extra_answers_diarization_unavailable_with_the_hint(tmp_path: Path) -> None:
    assert diarization_available() is False
    with pytest.raises(DiarizationUnavailable) as caught:
        SpeakerDiarizer().label(tmp_path / "x.wav", transcript_of(segments_at(0, 2)))
    assert DIARIZATION_HINT in caught.value.detail
    assert (caught.value.status, caught.value.code) == (422, "diarization_unavailable")


@pytest.mark.usefixtures("pretend_installed")
def test_extra_that_does_not_load_answers_diarization_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(diarization, "_encoder", None)
    monkeypatch.setitem(sys.modules, "resemblyzer", None)
    with pytest.raises(DiarizationUnavailable) as caught:
        SpeakerDiarizer().label(tmp_path / "x.wav", transcript_of(segments_at(0, 2)))
    assert DIARIZATION_HINT in caught.value.detail


def test_availability_check_loads_nothing_heavy(extra: None) -> None:
    """Every API process and worker asks at start-up: importing torch there would cost a second and 250 MB each."""
    code = (
        "import sys; from reference_impl.diarization import diarization_available;"
        "print(diarization_available(), 'torch' in sys.modules)"
    )
    answer = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert answer == ["True", "False"]


def test_hint_names_the_extra() -> None:
    assert "voxcontract[diarization]" in DIARIZATION_HINT
