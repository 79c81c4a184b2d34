"""Text, SRT and WebVTT renderings: they parse back to the cues they were made from."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from voxcontract.subtitles import render_srt, render_text, render_vtt
from voxcontract.transcription import Segment, Transcript, Word

SRT_BLOCK = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)\n")
VTT_CUE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.+)\n")


def seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    blocks = text.split("\n\n")
    cues = []
    for index, block in enumerate(blocks, start=1):
        match = SRT_BLOCK.fullmatch(block if block.endswith("\n") else block + "\n")
        assert match, f"not an SRT block: {block!r}"
        assert int(match.group(1)) == index
        cues.append((seconds(*match.group(2, 3, 4, 5)), seconds(*match.group(6, 7, 8, 9)), match.group(10)))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in text[len("WEBVTT\n\n") :].split("\n\n"):
        match = VTT_CUE.fullmatch(block if block.endswith("\n") else block + "\n")
        assert match, f"not a WebVTT cue: {block!r}"
        cues.append((seconds(*match.group(1, 2, 3, 4)), seconds(*match.group(5, 6, 7, 8)), match.group(9)))
    return cues


TRANSCRIPT = Transcript(
    text="Hello there. General Kenobi.",
    language="en",
    language_probability=0.99,
    duration_seconds=3725.5,
    segments=(
        Segment(0, 0.0, 1.25, " Hello there. ", speaker="SPEAKER_1"),
        Segment(1, 3600.5, 3725.5, "General --> Kenobi.", words=(Word("General", 3600.5, 3601.0, 0.9),)),
    ),
)


def test_srt_and_vtt_of_a_known_transcript() -> None:
    assert parse_srt(render_srt(TRANSCRIPT)) == [
        (0.0, 1.25, "[SPEAKER_1] Hello there."),
        (3600.5, 3725.5, "General -> Kenobi."),
    ]
    assert render_vtt(TRANSCRIPT).splitlines()[2] == "00:00:00.000 --> 00:00:01.250"
    assert render_text(TRANSCRIPT) == "Hello there. General Kenobi.\n"


def test_a_transcript_without_segments_is_one_cue() -> None:
    bare = Transcript("Just text.", "en", 1.0, 4.0)
    assert parse_srt(render_srt(bare)) == [(0.0, 4.0, "Just text.")]
    assert parse_vtt(render_vtt(bare)) == [(0.0, 4.0, "Just text.")]


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1).filter(
    lambda t: t.split() != []
)


@given(st.lists(st.tuples(st.floats(0, 36_000), st.floats(0, 60), texts), min_size=1, max_size=8))
def test_renderings_parse_back(raw: list[tuple[float, float, str]]) -> None:
    segments = tuple(Segment(i, start, start + length, text) for i, (start, length, text) in enumerate(raw))
    transcript = Transcript(" ".join(t for *_, t in raw), "en", 0.9, 40_000.0, segments)
    for cues in (parse_srt(render_srt(transcript)), parse_vtt(render_vtt(transcript))):
        assert len(cues) == len(segments)
        for (start, end, text), segment in zip(cues, segments, strict=True):
            assert abs(start - segment.start) <= 0.0005
            assert abs(end - segment.end) <= 0.0005
            assert "\n" not in text
            assert "-->" not in text


def test_segments_serialise_as_the_contract_says() -> None:
    assert TRANSCRIPT.segments[0].to_dict() == {
        "id": 0,
        "start": 0.0,
        "end": 1.25,
        "text": " Hello there. ",
        "speaker": "SPEAKER_1",
    }
    assert TRANSCRIPT.to_dict("job_abcdefgh")["segments"][1]["words"] == [
        {"word": "General", "start": 3600.5, "end": 3601.0, "probability": 0.9}
    ]
