from __future__ import annotations

import dataclasses

import pytest

from voxcontract.errors import ConfigError
from voxcontract.settings import CoreSettings


def test_defaults_are_set_in_one_place() -> None:
    settings = CoreSettings()
    assert (settings.host, settings.port, settings.rate_limit_storage) == ("127.0.0.1", 8080, "memory://")
    assert settings.max_upload_bytes == 104_857_600


def test_environment_then_overrides() -> None:
    environ = {
        "VOXCONTRACT_PORT": "9000",
        "VOXCONTRACT_API_KEYS": "k1, k2,,",
        "VOXCONTRACT_VALIDATE_RESPONSES": "off",
        "VOXCONTRACT_RATE_LIMIT": "5/second",
        "UNRELATED": "x",
    }
    settings = CoreSettings.from_env(environ, rate_limit="10/minute", host=None)
    assert settings.port == 9000
    assert settings.api_keys == ("k1", "k2")
    assert settings.validate_responses is False
    assert settings.rate_limit == "10/minute"  # an explicit override wins over the environment
    assert settings.host == "127.0.0.1"  # None means "not given"


@pytest.mark.parametrize(
    "environ",
    [
        {"VOXCONTRACT_PORT": "eighty"},
        {"VOXCONTRACT_PORT": "70000"},
        {"VOXCONTRACT_VALIDATE_RESPONSES": "maybe"},
    ],
)
def test_bad_values_are_config_errors(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"VOXCONTRACT_|port"):
        CoreSettings.from_env(environ)


def test_unknown_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown settings: colour"):
        CoreSettings.from_env({}, colour="blue")


def test_subclasses_read_their_own_fields() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class AppSettings(CoreSettings):
        seed: int = 0
        processing_time: float = 1.0

    settings = AppSettings.from_env({"VOXCONTRACT_SEED": "7", "VOXCONTRACT_PROCESSING_TIME": "0.25"})
    assert (settings.seed, settings.processing_time) == (7, 0.25)


def test_settings_are_immutable_and_replaceable() -> None:
    settings = CoreSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]
    assert settings.replace(port=1).port == 1
