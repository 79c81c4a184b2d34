"""Documented refusals of the suite's own set-up are "unverified", with the flag or server setting that fixes them.

The reference server refuses webhooks to the suite's loopback receiver unless allow-listed; a deployment may have a
rate limit the suite cannot wait out, a quota larger than its request budget, or no second key for it. None of these
is a violation, and none lets the check decide.
"""

from __future__ import annotations

from pathlib import Path

from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed
from conformance.refusals import rate_limit_refusal
from tests.conformance.support import KEY_A, run_conformance, serve_mock
from tests.reference_impl.support import KEY_A as REFERENCE_KEY_A
from tests.reference_impl.support import serve_reference

HOOKED = ("webhooks/delivery", "webhooks/signature", "webhooks/payload", "webhooks/retry-same-id")
ISOLATION = ("auth/tenant-isolation-read", "auth/tenant-isolation-list", "auth/tenant-isolation-delete")


def test_the_reference_servers_refusal_of_the_receiver_names_the_allow_list(tmp_path: Path) -> None:
    with serve_reference(tmp_path / "data") as server:
        args = ("--only", "webhooks", "--api-key", REFERENCE_KEY_A)
        refused = run_conformance(server.url, *args, report_dir=tmp_path / "refused", keys=False)
    assert refused.exit_code == 0, refused.output
    checks = refused.checks()
    assert checks["webhooks/secret"]["status"] == "passed"
    for check_id in HOOKED:
        assert checks[check_id]["status"] == "unverified", checks[check_id]
        assert "url_not_allowed" in checks[check_id]["message"]
        assert "--url-allowlist" in checks[check_id]["message"]
    assert "Unverified" in refused.output


def test_the_receiver_allow_listed_on_the_reference_server_verifies_the_webhooks(tmp_path: Path) -> None:
    with serve_reference(tmp_path / "data", url_allowlist=("127.0.0.1",)) as server:
        args = ("--only", "webhooks,errors", "--api-key", REFERENCE_KEY_A)
        allowed = run_conformance(server.url, *args, report_dir=tmp_path / "allowed", keys=False)
    assert allowed.exit_code == 0, allowed.output
    assert {allowed.checks()[check_id]["status"] for check_id in HOOKED} == {"passed"}
    # The operator's allow-list for the receiver is the deployment's documented exception to url_not_allowed.
    refused = allowed.checks()["errors/url-not-allowed"]
    assert refused["status"] == "passed", refused
    assert refused["notes"] == [
        "127.0.0.1 is allow-listed for the suite's receiver: the deployment fetched http://127.0.0.1:9/conformance.wav"
    ]


def test_without_a_second_key_tenant_isolation_is_unverified(tmp_path: Path) -> None:
    with serve_mock() as mock:
        alone = run_conformance(mock.url, "--only", "auth", "--api-key", KEY_A, report_dir=tmp_path, keys=False)
    assert alone.exit_code == 0, alone.output
    for check_id in ISOLATION:
        assert alone.checks()[check_id]["status"] == "unverified"
        assert "--second-api-key" in alone.checks()[check_id]["message"]


def test_a_second_key_the_deployment_refuses_is_unverified_not_a_failure(tmp_path: Path) -> None:
    with serve_mock() as mock:
        args = ("--only", "auth", "--api-key", KEY_A, "--second-api-key", "key-nobody-issued")
        refused = run_conformance(mock.url, *args, report_dir=tmp_path, keys=False)
    assert refused.exit_code == 0, refused.output
    for check_id in ISOLATION:
        assert refused.checks()[check_id]["status"] == "unverified"
        assert "does not accept the second key" in refused.checks()[check_id]["message"]


def test_a_rate_limit_the_suite_cannot_wait_out_makes_checks_unverified_not_failed(tmp_path: Path) -> None:
    with serve_mock(rate_limit="12/hour") as mock:
        limited = run_conformance(mock.url, "--only", "lifecycle,data", report_dir=tmp_path)
    assert limited.failed() == set(), limited.output
    unverified = limited.checks("unverified")
    assert unverified, limited.output
    assert any("--max-wait" in item["message"] and "429" in item["message"] for item in unverified.values())


def _failed_on(status: int, body: bytes, headers: dict[str, str]) -> CheckFailed:
    exchange = Exchange("GET", "http://api.test/v1/jobs", {}, None, status, headers, body)
    return CheckFailed(f"expected 200, got {exchange.summary()}", exchange=exchange)


def test_only_a_rate_limited_429_is_a_refusal() -> None:
    problem = b'{"code": "rate_limited", "status": 429}'
    refusal = rate_limit_refusal(_failed_on(429, problem, {"Retry-After": "3600"}), 65)
    assert refusal is not None
    assert "3600 s" in refusal.reason
    assert refusal.remedy is not None
    assert "--max-wait 3600" in refusal.remedy
    assert rate_limit_refusal(_failed_on(400, b'{"code": "rate_limited"}', {}), 65) is None
    assert rate_limit_refusal(_failed_on(429, b'{"code": "internal"}', {}), 65) is None
    assert rate_limit_refusal(CheckFailed("no exchange"), 65) is None
