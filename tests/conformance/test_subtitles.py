"""The SRT and WebVTT readers: what the core renders parses back; broken documents name their line."""

from __future__ import annotations

import re

import pytest

from conformance.subtitles import SubtitleError, parse_srt, parse_vtt
from voxcontract.subtitles import render_srt, render_vtt
from voxcontract.transcription import Segment, Transcript

TRANSCRIPT = Transcript(
    text="Hello there. General Kenobi.",
    language="en",
    language_probability=0.9,
    duration_seconds=3725.5,
    segments=(
        Segment(id=0, start=0.0, end=1.25, text="Hello there.", speaker="SPEAKER_1"),
        Segment(id=1, start=3600.5, end=3725.25, text="General Kenobi.", speaker="SPEAKER_2"),
    ),
)


def test_rendered_srt_and_vtt_parse_back() -> None:
    for parse, render in ((parse_srt, render_srt), (parse_vtt, render_vtt)):
        cues = parse(render(TRANSCRIPT))
        assert [(cue.start, cue.end) for cue in cues] == [(0.0, 1.25), (3600.5, 3725.25)]
        assert cues[1].text == "[SPEAKER_2] General Kenobi."


def test_players_tolerances_are_accepted() -> None:
    srt = (
        "\ufeff1\r\n00:00:00,000 --> 00:00:01,000\r\nHi\r\nthere\r\n\r\n"
        "2\r\n00:00:01,000 --> 00:00:02,000 X1:0\r\nYo\r\n"
    )
    assert [cue.text for cue in parse_srt(srt)] == ["Hi\nthere", "Yo"]
    vtt = "WEBVTT - a title\n\nNOTE a remark\n\nintro\n00:01.000 --> 00:02.500 align:start\nHi\n"
    assert [(cue.start, cue.end) for cue in parse_vtt(vtt)] == [(1.0, 2.5)]
    assert parse_srt("") == []
    assert parse_vtt("WEBVTT\n") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2\n00:00:00,000 --> 00:00:01,000\nHi\n", "line 1: cue number 2, expected 1"),
        ("one\n00:00:00,000 --> 00:00:01,000\nHi\n", "line 1: expected the cue number 1"),
        ("1\n00:00:00.000 --> 00:00:01.000\nHi\n", "line 2: expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm'"),
        ("1\n00:00:00,000 --> 00:00:01,000\n", "line 3: cue 1 has no text"),
        ("1\n00:00:02,000 --> 00:00:01,000\nHi\n", "ends (1.000) before it starts"),
        ("1\n00:00:02,000 --> 00:00:03,000\nA\n\n2\n00:00:01,000 --> 00:00:03,000\nB\n", "before the previous one"),
    ],
)
def test_broken_srt_is_refused(text: str, message: str) -> None:
    with pytest.raises(SubtitleError, match=re.escape(message)):
        parse_srt(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\n00:00.000 --> 00:01.000\nHi\n", "starts with 'WEBVTT'"),
        ("WEBVTTX\n\n00:00.000 --> 00:01.000\nHi\n", "starts with 'WEBVTT'"),
        ("WEBVTT\n\n00:00,000 --> 00:01,000\nHi\n", "line 3: expected"),
        ("WEBVTT\n\n00:00.000 --> 00:01.000\n", "has no text"),
    ],
)
def test_broken_vtt_is_refused(text: str, message: str) -> None:
    with pytest.raises(SubtitleError, match=re.escape(message)):
        parse_vtt(text)
