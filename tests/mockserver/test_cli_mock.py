"""``voxcontract mock``: flags and VOXCONTRACT_* variables reach the settings; the banner; config errors exit 2."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from mockserver import cli as mock_cli
from voxcontract import cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_serve(app: Any, host: str, port: int, log_level: str, certificate: Any = None) -> None:
        calls.append({"app": app, "host": host, "port": port, "log_level": log_level, "certificate": certificate})

    monkeypatch.setattr(mock_cli, "serve_app", fake_serve)
    for name in ("SEED", "PORT", "API_KEYS", "CLOCK", "RATE_LIMIT", "DEFAULT_SCENARIO"):
        monkeypatch.delenv(f"VOXCONTRACT_{name}", raising=False)
    return calls


def test_flags_reach_the_settings_and_the_banner_prints(served: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        cli.main,
        [
            "mock",
            "--port",
            "9123",
            "--seed",
            "5",
            "--api-key",
            "k1",
            "--api-key",
            "k2",
            "--processing-time",
            "0",
            "--rate-limit",
            "3/minute",
            "--clock",
            "manual",
            "--webhook-retry-schedule",
            "0.5,1,2",
            "--default-scenario",
            "slow",
            "--webhook-timeout",
            "2",
            "--start-time",
            "2030-01-01T00:00:00Z",
        ],
    )

    assert result.exit_code == 0, result.output
    (call,) = served
    settings = call["app"].settings
    assert (call["host"], call["port"]) == ("127.0.0.1", 9123)
    assert (settings.seed, settings.api_keys, settings.processing_time) == (5, ("k1", "k2"), 0.0)
    assert (settings.rate_limit, settings.clock, settings.default_scenario) == ("3/minute", "manual", "slow")
    assert settings.webhook_retry_schedule == (0.5, 1.0, 2.0)
    assert settings.start_time == "2030-01-01T00:00:00Z"
    assert "http://127.0.0.1:9123" in result.output
    assert "k1" in result.output
    assert "k2" in result.output
    assert call["app"].webhook_secret("k1") in result.output
    assert "http://127.0.0.1:9123/v1/ui/" in result.output
    assert "/__mock/" in result.output


def test_environment_applies_when_flags_are_absent(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXCONTRACT_SEED", "9")
    monkeypatch.setenv("VOXCONTRACT_WEBHOOK_RETRY_SCHEDULE", "0.1,0.2")

    result = CliRunner().invoke(cli.main, ["mock", "--clock", "manual"])

    assert result.exit_code == 0, result.output
    settings = served[0]["app"].settings
    assert (settings.seed, settings.webhook_retry_schedule, settings.clock) == (9, (0.1, 0.2), "manual")
    assert "vox_test_key" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--default-scenario", "nope"],
        ["--webhook-retry-schedule", "1,soon"],
        ["--rate-limit", "lots"],
        ["--start-time", "tomorrow"],
        ["--processing-time", "-1"],
    ],
)
def test_bad_configuration_exits_2(served: list[dict[str, Any]], args: list[str]) -> None:
    result = CliRunner().invoke(cli.main, ["mock", *args])

    assert result.exit_code == 2, result.output
    assert "error" in result.output
    assert served == []


def test_clock_choice_is_checked_by_click(served: list[dict[str, Any]]) -> None:
    assert CliRunner().invoke(cli.main, ["mock", "--clock", "lunar"]).exit_code == 2
