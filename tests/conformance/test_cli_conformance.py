"""``voxcontract conformance``: flags and environment, exit codes 0/1/2, URL forms, media, report files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from conformance.checks import registered_checks
from mockserver.fixtures import __file__ as fixtures_init
from tests.conformance.support import run_conformance, serve_mock
from voxcontract.cli import main
from voxcontract.serving import free_port

MEETING = Path(fixtures_init).parent / "meeting.ogg"


def _unused_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_an_unreachable_deployment_is_exit_2() -> None:
    outcome = run_conformance(_unused_url())
    assert outcome.exit_code == 2
    assert "cannot reach http://127.0.0.1:" in outcome.output


def test_usage_errors_are_exit_2(tmp_path: Path) -> None:
    cases = [
        (["--audio", str(tmp_path / "missing.wav")], "does not exist"),
        (["--only", "auth,nope"], "unknown group(s) nope"),
        (["--webhook-listen", "nowhere"], "HOST:PORT"),
        (["--request-budget", "0"], "at least 1"),
        (["--job-deadline", "-1"], "--job-deadline must be a positive number"),
    ]
    for args, message in cases:
        outcome = run_conformance(_unused_url(), *args)
        assert (outcome.exit_code, message in outcome.output) == (2, True), (args, outcome.output)
    result = CliRunner().invoke(main, ["conformance", "--url", _unused_url()])
    assert result.exit_code == 2
    assert "--api-key" in result.output


def test_flags_can_come_from_the_environment() -> None:
    env = {"VOXCONTRACT_CONFORMANCE_URL": _unused_url(), "VOXCONTRACT_CONFORMANCE_API_KEY": "key-a"}
    result = CliRunner().invoke(main, ["conformance"], env=env)
    assert result.exit_code == 2
    assert "cannot reach" in result.output


def test_a_url_that_is_not_the_root_is_exit_2() -> None:
    with serve_mock() as mock:
        outcome = run_conformance(mock.url + "/api")
    assert outcome.exit_code == 2
    assert "answered 404: is --url the deployment's root (without /v1)?" in outcome.output


def test_an_unbindable_webhook_address_is_exit_2() -> None:
    with serve_mock() as mock:
        outcome = run_conformance(mock.url, "--only", "webhooks", "--webhook-listen", "203.0.113.7:0")
    assert outcome.exit_code == 2
    assert "the webhook receiver cannot listen on 203.0.113.7:0" in outcome.output


def test_a_v1_url_other_media_and_a_separate_junit_file(tmp_path: Path) -> None:
    with serve_mock() as mock:
        outcome = run_conformance(
            mock.url + "/v1/",
            "--only", "lifecycle", "--audio", str(MEETING), "--junit", str(tmp_path / "ci.xml"),
        )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert f"against {mock.url}:" in outcome.output
    assert (tmp_path / "ci.xml").read_text().count("<testcase") == len(registered_checks("lifecycle"))
