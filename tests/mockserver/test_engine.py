"""The deterministic engine: manifest texts, invented texts, timestamps, words, speakers, languages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mockserver.engine import FIXTURES_DIR, DeterministicTranscriber, ManifestEntry, load_manifest
from tests.mockserver.support import make_wav
from voxcontract.errors import UnsupportedMedia
from voxcontract.transcription import Transcriber, Transcript, TranscriptionOptions

WORD = TranscriptionOptions(timestamps="word")


def media(tmp_path: Path, seconds: float = 8.0, frequency: float = 440.0) -> Path:
    path = tmp_path / f"tone-{seconds}-{frequency}.wav"
    path.write_bytes(make_wav(seconds, frequency=frequency))
    return path


def check_timing(transcript: Transcript) -> None:
    last_end = 0.0
    for number, segment in enumerate(transcript.segments):
        assert segment.id == number
        assert last_end <= segment.start < segment.end <= transcript.duration_seconds
        last_end = segment.end
        for word in segment.words or ():
            assert segment.start <= word.start < word.end <= segment.end
            assert 0.6 <= word.probability <= 1


def test_is_a_transcriber() -> None:
    engine: Transcriber = DeterministicTranscriber({})
    assert engine


def test_invented_text_is_deterministic_and_sized_by_duration(tmp_path: Path) -> None:
    engine = DeterministicTranscriber({})
    path = media(tmp_path, 8.0)

    first, second = engine.transcribe(path, WORD), engine.transcribe(path, WORD)

    assert first == second
    words = first.text.split()
    assert len(words) == 20  # 2.5 words per second
    assert all(1 <= len(s.text.split()) <= 10 for s in first.segments)
    assert " ".join(s.text for s in first.segments) == first.text
    assert first.duration_seconds == 8.0
    check_timing(first)


def test_other_media_other_text(tmp_path: Path) -> None:
    engine = DeterministicTranscriber({})

    assert (
        engine.transcribe(media(tmp_path, 4.0, 300), WORD).text
        != engine.transcribe(media(tmp_path, 4.0, 500), WORD).text
    )


def test_options_do_not_change_the_words(tmp_path: Path) -> None:
    engine = DeterministicTranscriber({})
    path = media(tmp_path)

    texts = {
        engine.transcribe(path, TranscriptionOptions(language=language, timestamps=timestamps)).text
        for language in ("auto", "en")
        for timestamps in ("none", "segment", "word")
    }

    assert len(texts) == 1


def test_timestamp_granularity(tmp_path: Path) -> None:
    engine = DeterministicTranscriber({})
    path = media(tmp_path)

    assert engine.transcribe(path, TranscriptionOptions(timestamps="none")).segments == ()
    segments = engine.transcribe(path, TranscriptionOptions(timestamps="segment")).segments
    assert segments
    assert all(s.words is None for s in segments)
    assert all(s.words for s in engine.transcribe(path, WORD).segments)


@pytest.mark.parametrize(
    ("expected", "labels"),
    [(None, {"SPEAKER_1", "SPEAKER_2"}), (3, {"SPEAKER_1", "SPEAKER_2", "SPEAKER_3"}), (1, {"SPEAKER_1"})],
)
def test_speakers_alternate(tmp_path: Path, expected: int | None, labels: set[str]) -> None:
    options = TranscriptionOptions(diarization=True, speakers_expected=expected)

    transcript = DeterministicTranscriber({}).transcribe(media(tmp_path, 20.0), options)

    assert {s.speaker for s in transcript.segments} == labels
    assert transcript.segments[0].speaker == "SPEAKER_1"


def test_languages(tmp_path: Path) -> None:
    engine = DeterministicTranscriber({})
    path = media(tmp_path)

    auto = engine.transcribe(path, TranscriptionOptions())
    assert auto.language == "en"
    assert 0.8 <= auto.language_probability < 1
    assert auto.language_probability == engine.transcribe(path, TranscriptionOptions()).language_probability
    explicit = engine.transcribe(path, TranscriptionOptions(language="fr"))
    assert (explicit.language, explicit.language_probability) == ("fr", 1.0)


def test_manifest_text_is_returned_exactly(tmp_path: Path) -> None:
    path = media(tmp_path, 6.0)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    text = "Hello there. How are you today? Fine, thanks!"
    engine = DeterministicTranscriber({digest: ManifestEntry("tone.wav", digest, text, "de")})

    transcript = engine.transcribe(path, WORD)

    assert transcript.text == text
    assert [s.text for s in transcript.segments] == ["Hello there.", "How are you today?", "Fine, thanks!"]
    assert transcript.language == "de"
    assert transcript.segments[-1].words is not None
    assert transcript.segments[-1].words[-1].word == "thanks!"
    check_timing(transcript)


def test_shipped_fixtures_match_their_manifest() -> None:
    manifest = load_manifest()
    assert manifest, "mockserver/fixtures/manifest.json ships with the mock and lists its recordings"
    engine = DeterministicTranscriber()

    for digest, entry in manifest.items():
        path = FIXTURES_DIR / entry.file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
        assert engine.transcribe(path, WORD).text == entry.text


def test_manifest_loading_tolerates_absence_and_junk(tmp_path: Path) -> None:
    assert load_manifest(tmp_path / "missing.json") == {}
    (tmp_path / "junk.json").write_text("{not json")
    assert load_manifest(tmp_path / "junk.json") == {}
    entries = [{"file": "a.wav", "sha256": "ABC", "text": "Hi."}, {"file": "b.wav"}, "nonsense"]
    (tmp_path / "partial.json").write_text(json.dumps(entries))
    assert list(load_manifest(tmp_path / "partial.json")) == ["abc"]


def test_undecodable_media(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"nothing")

    with pytest.raises(UnsupportedMedia):
        DeterministicTranscriber({}).transcribe(path, WORD)


def test_very_short_media_stays_in_bounds(tmp_path: Path) -> None:
    transcript = DeterministicTranscriber({}).transcribe(media(tmp_path, 0.05), WORD)

    assert len(transcript.text.split()) == 1
    assert all(s.end <= transcript.duration_seconds for s in transcript.segments)


def test_a_known_duration_spares_the_probe_and_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = DeterministicTranscriber({})
    path = media(tmp_path, 8.0)
    probed = engine.transcribe(path, WORD)

    def no_probe(*_: object, **__: object) -> None:
        raise AssertionError("the upload was probed already: its duration is known")

    monkeypatch.setattr("mockserver.engine.probe", no_probe)
    assert engine.transcribe(path, WORD, duration=8.0) == probed
