"""Status transitions, segment times, words and speakers of a finished job."""

from __future__ import annotations

from typing import Any

from conformance.transcripts import segment_problems, speaker_problems, transition_problems, word_problems


def test_polled_statuses_may_skip_processing_but_never_go_back() -> None:
    assert transition_problems([("queued", 0), ("completed", 1), ("completed", 1)]) == []
    assert transition_problems([("queued", 0), ("processing", 0.5), ("failed", 0.5)]) == []
    assert transition_problems([("processing", 0.5), ("completed", 1), ("processing", 1)]) == [
        "answer 3: the status went from completed to processing"
    ]
    assert transition_problems([("processing", 0.6), ("processing", 0.5)]) == [
        "answer 2: the progress went down from 0.6 to 0.5"
    ]
    assert transition_problems([("failed", 0.2), ("completed", 1)]) == [
        "answer 2: the status went from failed to completed"
    ]


def _job(*segments: dict[str, Any], duration: float = 4.0) -> dict[str, Any]:
    return {"duration_seconds": duration, "segments": list(segments)}


def test_segments_are_ordered_and_inside_the_media() -> None:
    good = _job({"start": 0.0, "end": 2.0, "text": "a"}, {"start": 2.0, "end": 4.4, "text": "b"})
    assert segment_problems(good) == []
    bad = _job({"start": 2.0, "end": 1.0, "text": "a"}, {"start": 1.5, "end": 9.0, "text": "b"})
    problems = segment_problems(bad)
    assert "segment 0 (2.000 - 1.000 s) ends before it starts" in problems
    assert any("segment 1" in problem and "outside the media" in problem for problem in problems)
    assert any("starts before the segment before it" in problem for problem in problems)


def test_words_are_present_and_inside_their_segment() -> None:
    word = {"word": "hi", "start": 0.1, "end": 0.5, "probability": 0.9}
    assert word_problems(_job({"start": 0.0, "end": 1.0, "text": "hi", "words": [word]})) == []
    assert word_problems(_job({"start": 0.0, "end": 1.0, "text": "hi"})) == ["segment 0 has text but no words"]
    outside = {**word, "start": 1.5, "end": 1.8}
    assert "outside its segment" in word_problems(_job({"start": 0.0, "end": 1.0, "text": "hi", "words": [outside]}))[0]


def test_diarized_segments_carry_speakers() -> None:
    assert speaker_problems(_job({"start": 0, "end": 1, "text": "a", "speaker": "SPEAKER_1"})) == []
    assert speaker_problems(_job({"start": 0, "end": 1, "text": "a"})) == ["segment 0 has no speaker label"]
