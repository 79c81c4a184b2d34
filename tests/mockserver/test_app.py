"""The app factory: what MockApp exposes, settings from the environment, the lifespan of the webhook dispatcher."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mockserver.app import MockApp, create_app
from mockserver.settings import DEFAULT_TEST_KEY, MockSettings
from mockserver.state import MockState
from voxcontract.auth import key_fingerprint


def test_create_app_exposes_state_and_settings() -> None:
    settings = MockSettings(seed=3)

    app = create_app(settings)

    assert isinstance(app, MockApp)
    assert app.settings is settings
    assert isinstance(app.state, MockState)
    assert app.connexion is app.public.connexion


def test_settings_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXCONTRACT_SEED", "11")
    monkeypatch.setenv("VOXCONTRACT_CLOCK", "manual")

    app = create_app()

    assert (app.settings.seed, app.settings.clock) == (11, "manual")


def test_the_default_test_key_works_without_configuration() -> None:
    with TestClient(create_app(MockSettings())) as client:
        assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {DEFAULT_TEST_KEY}"}).status_code == 200
        assert client.get("/v1/jobs", headers={"Authorization": "Bearer other"}).status_code == 401


def test_configured_keys_replace_the_test_key() -> None:
    with TestClient(create_app(MockSettings(api_keys=("mine",)))) as client:
        assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {DEFAULT_TEST_KEY}"}).status_code == 401


def test_webhook_secret_helper_matches_the_api() -> None:
    app = create_app(MockSettings())
    with TestClient(app) as client:
        answer = client.get("/v1/webhooks/secret", headers={"Authorization": f"Bearer {DEFAULT_TEST_KEY}"}).json()

    assert app.webhook_secret(DEFAULT_TEST_KEY) == answer["secret"]
    assert app.state.webhook_secret(key_fingerprint(DEFAULT_TEST_KEY)) == answer["secret"]


def test_lifespan_starts_and_stops_the_dispatcher() -> None:
    app = create_app(MockSettings())
    assert not app.dispatcher.running

    with TestClient(app):
        assert app.dispatcher.running

    assert not app.dispatcher.running


def test_swagger_ui_is_served_offline() -> None:
    with TestClient(create_app(MockSettings())) as client:
        ui = client.get("/v1/ui/")
        assert ui.status_code == 200
        assert "swagger-ui" in ui.text
        assert "unpkg" not in ui.text
        assert client.get("/v1/openapi.json").json()["info"]["title"] == "VoxScriber API"


def test_public_api_is_curated() -> None:
    import mockserver

    assert len(set(mockserver.__all__)) == len(mockserver.__all__)
    assert all(hasattr(mockserver, name) for name in mockserver.__all__)
    assert {"create_app", "MockApp", "MockSettings", "DEFAULT_TEST_KEY"} <= set(mockserver.__all__)


def test_importing_the_package_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, mockserver; print('connexion' in sys.modules, mockserver.MockSettings.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.split() == ["False", "MockSettings"]


def test_the_mock_imports_only_the_core_of_this_repository() -> None:
    import ast
    from pathlib import Path

    import mockserver

    root = Path(mockserver.__file__).parent
    imported: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)

    assert not imported & {"reference_impl", "conformance", "tests"}
