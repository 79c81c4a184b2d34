"""The scenario registry, magic names in filenames and URLs, and their documentation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.scenarios import SCENARIOS, find_magic_scenario, get_scenario, scenario_error
from voxcontract.errors import BadRequest

README = Path(__file__).resolve().parents[2] / "mockserver" / "README.md"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("call.scenario-job-fails.wav", "job-fails"),
        ("CALL.SCENARIO-SLOW.WAV", "slow"),
        ("https://x.test/a.mp3?scenario=job-fails", "job-fails"),
        ("https://x.test/a.mp3?x=1&scenario=webhook-duplicate&y=2", "webhook-duplicate"),
        ("https://x.test/scenario-stuck/a.mp3", "stuck"),
        ("scenario-empty-transcript", "empty-transcript"),
    ],
)
def test_magic_names(text: str, name: str) -> None:
    scenario = find_magic_scenario(text)
    assert scenario is not None
    assert scenario.name == name


@pytest.mark.parametrize("text", [None, "", "talk.wav", "https://x.test/scenarios.mp3", "scenario.wav"])
def test_no_magic(text: str | None) -> None:
    assert find_magic_scenario(text) is None


def test_unknown_magic_name_is_a_bad_request_listing_the_known_ones() -> None:
    with pytest.raises(BadRequest) as caught:
        find_magic_scenario("a.scenario-job-fails-twice.wav")
    assert all(name in caught.value.detail for name in SCENARIOS)
    with pytest.raises(BadRequest):
        get_scenario("x" * 1000)


def test_errors_of_request_and_upload_scenarios() -> None:
    assert scenario_error(SCENARIOS["rate-limited"]).status == 429  # type: ignore[union-attr]
    assert scenario_error(SCENARIOS["server-error"]).status == 500  # type: ignore[union-attr]
    assert scenario_error(SCENARIOS["unsupported-media"]).code == "unsupported_media"  # type: ignore[union-attr]
    assert scenario_error(SCENARIOS["url-fetch-fails"]) is None
    assert scenario_error(SCENARIOS["url-fetch-fails"], url="https://x").code == "url_fetch_failed"  # type: ignore[union-attr]
    assert all(scenario_error(s) is None for s in SCENARIOS.values() if s.stage == "job")


def test_every_scenario_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    for name in SCENARIOS:
        assert f"`{name}`" in text, name


def test_scenario_names_are_magic_safe() -> None:
    for name in SCENARIOS:
        scenario = find_magic_scenario(f"x.scenario-{name}.wav")
        assert scenario is not None
        assert scenario.name == name
