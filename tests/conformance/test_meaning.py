"""What a finished job means: word error rate, durations, segment texts, subtitle cues, word order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.config import ConformanceConfig
from conformance.meaning import (
    DEFAULT_KNOWN_AUDIO,
    KnownAudio,
    cue_problems,
    duration_problems,
    segment_text_problems,
    transcript_problems,
    word_error_rate,
    word_order_problems,
)
from conformance.subtitles import Cue, parse_srt, parse_vtt
from mockserver.fixtures import speech_fixture
from tests.conformance.support import run_conformance, serve_mock
from voxcontract.errors import ConfigError
from voxcontract.subtitles import render_srt, render_vtt
from voxcontract.transcription import Segment, Transcript


def test_the_bundled_audio_is_known_once_and_matches_the_mock_fixture() -> None:
    hello = speech_fixture("hello.wav")
    assert (Path(__file__).parents[2] / "conformance" / "media" / "hello.wav").read_bytes() == hello.read_bytes()
    assert DEFAULT_KNOWN_AUDIO.text == hello.text
    assert DEFAULT_KNOWN_AUDIO.duration_seconds == hello.duration_seconds


def test_word_error_rate_ignores_case_and_punctuation() -> None:
    known = "Hello and welcome to VoxScriber. This is a short test recording."
    assert word_error_rate(known, "hello, and welcome to voxscriber this is a short test recording") == 0
    assert word_error_rate(known, "Hello and welcome to Vox Scriber. This is a short test recording.") == 2 / 11
    assert word_error_rate("a b c d", "a c d e") == 2 / 4
    assert transcript_problems("Hello and welcome to Vox Scriber. This is a short test recording.", known, 0.35) == []
    problem = transcript_problems("Yellow and become to VoxScriber.", known, 0.35)[0]
    assert "is 73% words off the known text" in problem  # 2 of 11 misheard, 6 missing
    assert "(at most 35% allowed)" in problem


def test_durations_within_the_tolerance_or_the_floor() -> None:
    assert duration_problems("the job", 4.4, 4.253, 0.05) == []
    assert duration_problems("the job", 4.08, 4.0, 0.0) == []  # within the 0.1 s floor
    assert "the media lasts 4.253 s (±0.213 s allowed)" in duration_problems("the job", 5.529, 4.253, 0.05)[0]
    assert "not a number" in duration_problems("the job", None, 4.253, 0.05)[0]


def _job(*texts: str, transcript: str) -> dict[str, Any]:
    segments = [{"start": float(n), "end": n + 0.9, "text": text} for n, text in enumerate(texts)]
    return {"transcript": transcript, "segments": segments}


def test_the_transcript_is_its_segments_joined() -> None:
    assert segment_text_problems(_job(" Hello there.", " How are you?", transcript="Hello there. How are you?")) == []
    assert segment_text_problems({"transcript": "anything", "segments": []}) == []
    assert "is not its segments' texts joined" in segment_text_problems(_job("Hello.", transcript="Goodbye."))[0]


def _transcript(speaker: str | None = None) -> Transcript:
    segments = (
        Segment(id=0, start=0.0194, end=1.9136, text=" Hello and welcome.", speaker=speaker),
        Segment(id=1, start=2.0, end=2.0, text=" "),
        Segment(id=2, start=2.5, end=4.2345, text=" A test --> recording.", speaker=speaker),
    )
    text = "Hello and welcome. A test --> recording."
    return Transcript(text=text, language="en", language_probability=1.0, duration_seconds=4.25, segments=segments)


def _document(transcript: Transcript) -> dict[str, Any]:
    return transcript.to_dict("job_1")


def test_rendered_subtitles_match_their_segments_with_or_without_speakers() -> None:
    for transcript in (_transcript(), _transcript("SPEAKER_1")):
        document = _document(transcript)
        assert cue_problems(parse_srt(render_srt(transcript)), document, "srt") == []
        assert cue_problems(parse_vtt(render_vtt(transcript)), document, "vtt") == []


def test_cues_off_in_count_time_or_text_are_named() -> None:
    document = _document(_transcript())
    assert cue_problems([Cue(0.019, 1.914, "Hello and welcome.")], document, "srt") == [
        "the srt download has 1 cues for 2 segments with text"
    ]
    late = [Cue(1.019, 2.914, "Hello and welcome."), Cue(2.5, 4.235, "A test -> recording.")]
    assert cue_problems(late, document, "vtt") == ["vtt cue 1 runs 1.019 - 2.914 s, its segment 0.019 - 1.914 s"]
    wrong = [Cue(0.019, 1.914, "Hello and welcome."), Cue(2.5, 4.234, "A best -> recording.")]
    expected = "srt cue 2 says 'A best -> recording.', its segment 'A test --> recording.'"
    assert cue_problems(wrong, document, "srt") == [expected]


def test_words_in_order_without_overlap() -> None:
    words = [{"word": "a", "start": 0.0, "end": 0.5}, {"word": "b", "start": 0.48, "end": 0.9}]
    assert word_order_problems({"segments": [{"start": 0, "end": 1, "text": "a b", "words": words}]}) == []
    words[1]["start"] = 0.0
    problems = word_order_problems({"segments": [{"start": 0, "end": 1, "text": "a b", "words": words}]})
    assert problems == ["segment 0 word 1 'b' starts at 0.000 s, before the word before it ('a') ends at 0.500 s"]


def test_own_audio_without_its_text_and_duration_is_unverified(tmp_path: Path) -> None:
    weather = speech_fixture("weather.mp3")
    with serve_mock(rate_limit="1000/minute") as mock:
        unknown = run_conformance(mock.url, "--only", "lifecycle", "--audio", str(weather.path), report_dir=tmp_path)
        known = run_conformance(
            mock.url,
            *("--only", "lifecycle", "--audio", str(weather.path), "--audio-text", weather.text),
            *("--audio-duration", str(weather.duration_seconds)),
            report_dir=tmp_path / "known",
        )
    assert unknown.exit_code == 0, unknown.output
    for check_id in ("lifecycle/transcript-text", "lifecycle/duration"):
        assert unknown.checks()[check_id]["status"] == "unverified"
        assert unknown.checks()[check_id]["message"].startswith("the ")
    assert "--audio-text" in unknown.checks()["lifecycle/transcript-text"]["message"]
    assert known.exit_code == 0, known.output
    assert {known.checks()[c]["status"] for c in ("lifecycle/transcript-text", "lifecycle/duration")} == {"passed"}


def test_known_audio_comes_with_the_audio_it_describes() -> None:
    weather = speech_fixture("weather.mp3")
    assert ConformanceConfig(url="http://x", api_key="k").known_audio == DEFAULT_KNOWN_AUDIO
    given = ConformanceConfig(url="http://x", api_key="k", audio=weather.path, audio_text=weather.text)
    assert given.known_audio == KnownAudio(weather.text, None)
    with pytest.raises(ConfigError, match="describe --audio"):
        ConformanceConfig(url="http://x", api_key="k", audio_text="hello")
    with pytest.raises(ConfigError, match="--max-word-error-rate must be a number >= 0"):
        ConformanceConfig(url="http://x", api_key="k", max_word_error_rate=float("nan"))
