"""MockSettings: defaults in one place, VOXCONTRACT_* variables, validation."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.settings import DEFAULT_TEST_KEY, MockSettings
from voxcontract.errors import ConfigError
from voxcontract.spec import load_spec


def test_defaults() -> None:
    settings = MockSettings()

    assert (settings.seed, settings.processing_time, settings.clock) == (0, 1.0, "real")
    assert settings.start_time == "2026-01-01T00:00:00Z"
    assert settings.webhook_retry_schedule == (0.5, 1.0, 2.0, 4.0, 8.0)
    assert (settings.webhook_timeout, settings.default_scenario) == (10.0, None)
    assert settings.effective_api_keys == (DEFAULT_TEST_KEY,) == ("vox_test_key",)


def test_receivers_get_the_time_the_contract_promises_them() -> None:
    assert MockSettings().webhook_timeout == load_spec()["x-voxscriber-limits"]["webhook_timeout_seconds"]


def test_configured_keys_replace_the_test_key() -> None:
    assert MockSettings(api_keys=("a", "b")).effective_api_keys == ("a", "b")


def test_every_field_from_the_environment() -> None:
    environ = {
        "VOXCONTRACT_SEED": "42",
        "VOXCONTRACT_PROCESSING_TIME": "0",
        "VOXCONTRACT_CLOCK": "manual",
        "VOXCONTRACT_START_TIME": "2030-01-01T00:00:00+02:00",
        "VOXCONTRACT_WEBHOOK_RETRY_SCHEDULE": "0.1, 0.2,0.4",
        "VOXCONTRACT_WEBHOOK_TIMEOUT": "1.5",
        "VOXCONTRACT_DEFAULT_SCENARIO": "slow",
        "VOXCONTRACT_API_KEYS": "k1,k2",
    }

    settings = MockSettings.from_env(environ, seed=None, processing_time=2.0)

    assert settings.seed == 42
    assert settings.processing_time == 2.0  # an explicit override wins
    assert (settings.clock, settings.start_time) == ("manual", "2030-01-01T00:00:00+02:00")
    assert settings.webhook_retry_schedule == (0.1, 0.2, 0.4)
    assert (settings.webhook_timeout, settings.default_scenario) == (1.5, "slow")
    assert settings.api_keys == ("k1", "k2")


def test_empty_default_scenario_variable_means_none() -> None:
    assert MockSettings.from_env({"VOXCONTRACT_DEFAULT_SCENARIO": ""}).default_scenario is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("processing_time", -1.0),
        ("processing_time", float("inf")),
        ("clock", "sundial"),
        ("start_time", "yesterday"),
        ("start_time", "2026-01-01T00:00:00"),
        ("webhook_retry_schedule", (1.0, -2.0)),
        ("webhook_timeout", 0.0),
        ("default_scenario", "nope"),
        ("port", 70000),
    ],
)
def test_invalid_values_are_config_errors(field: str, value: Any) -> None:
    with pytest.raises(ConfigError):
        MockSettings(**{field: value})
