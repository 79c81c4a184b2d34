"""The reference server's settings: validation, environment, and the operator's README listing every one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reference_impl.settings import ReferenceSettings
from voxcontract.errors import ConfigError

README = Path(__file__).parents[2] / "reference_impl" / "README.md"


def test_every_setting_is_documented_for_operators() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [f.name for f in dataclasses.fields(ReferenceSettings) if f"`VOXCONTRACT_{f.name.upper()}`" not in text]
    assert missing == []


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "VOXCONTRACT_DATA_DIR": str(tmp_path),
        "VOXCONTRACT_WORKERS": "3",
        "VOXCONTRACT_WEBHOOK_RETRY_SCHEDULE": "1, 2,4",
        "VOXCONTRACT_URL_ALLOWLIST": "10.1.2.0/24,media.internal:8443",
        "VOXCONTRACT_ALLOW_PRIVATE_URLS": "no",
    }
    settings = ReferenceSettings.from_env(environ)
    assert settings.data_path == tmp_path.resolve()
    assert settings.workers == 3
    assert settings.webhook_retry_schedule == (1.0, 2.0, 4.0)
    assert settings.network_policy().allowlist == ("10.1.2.0/24", "media.internal:8443")
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'voxcontract.db'}"
    assert settings.queue_path == tmp_path.resolve() / "queue.db"


@pytest.mark.parametrize(
    "changes",
    [
        {"device": "tpu"},
        {"workers": -1},
        {"lease_seconds": 0},
        {"poll_interval": float("nan")},
        {"max_attempts": 0},
        {"webhook_retry_schedule": (1.0, -2.0)},
        {"file_ttl_seconds": 0},
    ],
)
def test_bad_settings_are_refused_with_the_name(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(changes)).split("_")[0]):
        ReferenceSettings(**changes)  # type: ignore[arg-type]
