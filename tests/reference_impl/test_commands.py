"""``voxcontract serve`` (its start-up), ``worker`` and ``keys create|list|revoke`` on a real data dir."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reference_impl.commands import prepare_server
from reference_impl.settings import ReferenceSettings
from voxcontract.cli import main
from voxcontract.serving import BackgroundServer, free_port


def test_the_first_start_makes_one_key_shown_once(tmp_path: Path) -> None:
    settings = ReferenceSettings(data_dir=str(tmp_path), workers=0)
    first = prepare_server(settings)
    assert first.new_key is not None
    assert first.new_key.startswith("vox_")
    with BackgroundServer(first.app) as server:
        headers = {"Authorization": f"Bearer {first.new_key}"}
        assert httpx.get(server.base_url + "/v1/jobs", headers=headers).status_code == 200
    first.app.deployment.close()
    second = prepare_server(settings)
    assert second.new_key is None
    second.app.deployment.close()
    assert first.new_key.encode() not in (tmp_path / "voxcontract.db").read_bytes()


def test_configured_keys_are_imported_and_no_other_is_made(tmp_path: Path) -> None:
    start = prepare_server(ReferenceSettings(data_dir=str(tmp_path), workers=0, api_keys=("vox_from_env",)))
    assert start.new_key is None
    assert start.app.deployment.keys.lookup("vox_from_env") is not None
    start.app.deployment.close()


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "ci-bot", "--data-dir", str(tmp_path)])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("vox_")
    listed = runner.invoke(main, ["keys", "list", "--data-dir", str(tmp_path), "--format", "json"])
    (record,) = json.loads(listed.stdout)
    assert record["name"] == "ci-bot"
    assert record["revoked_at"] is None
    assert token not in listed.stdout
    table = runner.invoke(main, ["keys", "list", "--data-dir", str(tmp_path)])
    assert record["key_id"] in table.stdout
    revoked = runner.invoke(main, ["keys", "revoke", record["key_id"], "--data-dir", str(tmp_path)])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(main, ["keys", "revoke", record["key_id"], "--data-dir", str(tmp_path)])
    assert again.exit_code == 1
    assert "no active key" in again.output
    (after,) = json.loads(runner.invoke(main, ["keys", "list", "--data-dir", str(tmp_path), "--format", "json"]).stdout)
    assert after["revoked_at"] is not None


def test_keys_need_the_database_only_not_the_media_bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin host with the deployment's environment but no route to its bucket still manages keys; a server
    there cannot start (the bucket is checked at start)."""
    monkeypatch.setenv("VOXCONTRACT_MEDIA_URL", "s3://unreachable-bucket/media")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nothing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "admin", "--data-dir", str(tmp_path)])
    assert created.exit_code == 0, created.output
    listed = runner.invoke(main, ["keys", "list", "--data-dir", str(tmp_path), "--format", "json"])
    assert [record["name"] for record in json.loads(listed.stdout)] == ["admin"]
    server = runner.invoke(main, ["worker", "--data-dir", str(tmp_path)])
    assert server.exit_code == 2
    assert "unreachable-bucket" in server.output


def test_bad_settings_are_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["serve", "--data-dir", str(tmp_path), "--model", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "model" in result.output
    result = runner.invoke(main, ["worker", "--data-dir", str(tmp_path), "--lease-seconds", "-1"])
    assert result.exit_code == 2
    assert "lease_seconds" in result.output
