"""Issue 5's diarization acceptance through the API: a two-voice espeak-ng dialogue gets two speakers, with at least
80 % of segments labelled consistently (real server, real faster-whisper, real resemblyzer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reference_impl.dialogue import consistency, make_dialogue
from tests.reference_impl.support import RunningReference, transcribe
from voxcontract.transcription import Segment

CONSISTENCY_BAR = 0.8


@pytest.mark.parametrize("speakers_expected", [2, None])
def test_a_dialogue_gets_two_consistent_speakers(
    reference: RunningReference, tmp_path: Path, speakers_expected: int | None
) -> None:
    wav, turns = make_dialogue(tmp_path)
    with reference.client() as client:
        job = transcribe(client, wav, diarization=True, speakers_expected=speakers_expected)
        assert job["status"] == "completed", job
        assert job["options"]["diarization"] is True
        segments = [Segment.from_dict(segment) for segment in job["segments"]]
        assert {segment.speaker for segment in segments} == {"SPEAKER_1", "SPEAKER_2"}
        assert segments[0].speaker == "SPEAKER_1"
        assert consistency(segments, turns) >= CONSISTENCY_BAR
        srt = client.get(f"/v1/transcripts/{job['job_id']}", params={"format": "vtt"}).text
        assert "<v SPEAKER_2>" in srt or "SPEAKER_2" in srt


def test_without_diarization_no_segment_has_a_speaker(reference: RunningReference, tmp_path: Path) -> None:
    wav, _ = make_dialogue(tmp_path)
    with reference.client() as client:
        job = transcribe(client, wav)
    assert job["status"] == "completed"
    assert all("speaker" not in segment for segment in job["segments"])
