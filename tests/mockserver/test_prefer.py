"""Parsing ``Prefer`` (RFC 7240) and the canned answers taken from the contract's examples."""

from __future__ import annotations

import pytest

from mockserver.prefer import CannedAnswers, Preferences, parse_prefer
from voxcontract.spec import load_spec


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["code=404"], Preferences(code=404)),
        (["code=404, example=notFound"], Preferences(code=404, example="notFound")),
        (['example="completed"; foo=bar'], Preferences(example="completed")),
        (["respond-async", "Scenario = job-fails ,wait=5"], Preferences(scenario="job-fails")),
        (["code=4044", "code=abc"], Preferences()),
        (["code=500", "code=404"], Preferences(code=500)),
        (["example=", "scenario="], Preferences()),
        ([], Preferences()),
    ],
)
def test_parse_prefer(values: list[str], expected: Preferences) -> None:
    assert parse_prefer(values) == expected


def test_canned_answers_know_every_example() -> None:
    canned = CannedAnswers(load_spec())

    assert canned.example_names("getJobStatus")[:5] == [
        "queued",
        "processing",
        "completed",
        "completedWithWords",
        "failed",
    ]
    assert "srt" in canned.example_names("getTranscript")
    assert canned.answer("getJobStatus", Preferences(), "/x") is None
    assert canned.answer("getJobStatus", Preferences(code=418), "/x") is None
