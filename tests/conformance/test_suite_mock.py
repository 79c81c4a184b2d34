"""The whole suite against the intact mock over real HTTP: conformant, every check reported, budget kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.checks import registered_checks
from conformance.groups import load_group
from tests.conformance.support import GROUPS_BUT_CONTRACT, Outcome, run_conformance, serve_mock


def _expected_ids(groups: tuple[str, ...]) -> set[str]:
    for group in groups:
        load_group(group)
    return {check.id for group in groups for check in registered_checks(group)}


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcome, list[dict[str, Any]]]:
    """One run of every group but contract against the intact mock, and the mock's journal after it."""
    report_dir = tmp_path_factory.mktemp("report")
    with serve_mock() as mock:
        outcome = run_conformance(mock.url, "--skip", "contract", report_dir=report_dir)
        return outcome, mock.journal()


def test_the_intact_mock_conforms(intact: tuple[Outcome, list[dict[str, Any]]]) -> None:
    outcome, _ = intact
    assert outcome.exit_code == 0, outcome.output
    checks = outcome.checks()
    assert set(checks) == _expected_ids(GROUPS_BUT_CONTRACT)
    assert {item["status"] for item in checks.values()} <= {"passed", "skipped"}
    assert all(item["message"] for item in checks.values() if item["status"] == "skipped")
    assert "conformant" in outcome.output
    assert outcome.report is not None
    assert outcome.report["conformant"] is True


def test_every_request_is_counted_and_within_the_budget(intact: tuple[Outcome, list[dict[str, Any]]]) -> None:
    outcome, journal = intact
    assert outcome.report is not None
    used = outcome.report["requests"]["used"]
    assert len(journal) == used <= outcome.report["requests"]["budget"]
    # The health probe and the clean-up after each group belong to no check.
    assert sum(check["requests"] for check in outcome.report["checks"]) < used


def test_junit_lists_every_check_by_group(intact: tuple[Outcome, list[dict[str, Any]]]) -> None:
    outcome, _ = intact
    root = outcome.junit
    assert root is not None
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == list(GROUPS_BUT_CONTRACT)
    listed = {f"{suite.get('name')}/{case.get('name')}" for suite in suites for case in suite.findall("testcase")}
    assert listed == _expected_ids(GROUPS_BUT_CONTRACT)
    assert root.get("failures") == "0"
    assert root.get("errors") == "0"
    for suite in suites:
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))


def test_the_console_shows_a_table_and_a_verdict(intact: tuple[Outcome, list[dict[str, Any]]]) -> None:
    outcome, _ = intact
    assert "Conformance results" in outcome.output
    assert "tenant-isolation-read" in outcome.output
    assert "conformant:" in outcome.output


def test_a_tight_budget_leaves_the_burst_unverified_and_is_never_exceeded(tmp_path: Path) -> None:
    with serve_mock(rate_limit="30/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "rate-limit", "--request-budget", "20", report_dir=tmp_path)
        sent = len(mock.journal())
    assert outcome.exit_code == 0, outcome.output
    assert sent <= 20
    burst = outcome.checks()["rate-limit/burst"]
    assert burst["status"] == "unverified"
    assert "quota of q=30 takes more requests than the budget has left" in burst["message"]
    assert "--request-budget" in burst["message"]
    assert outcome.checks()["rate-limit/recovery"]["status"] == "skipped"


def test_the_burst_runs_within_a_budget_that_fits_the_quota(tmp_path: Path) -> None:
    with serve_mock(rate_limit="30/3 seconds") as mock:
        outcome = run_conformance(mock.url, "--only", "rate-limit", "--request-budget", "60", report_dir=tmp_path)
        journal = mock.journal()
    assert outcome.exit_code == 0, outcome.output
    assert len(journal) <= 60
    assert outcome.checks()["rate-limit/burst"]["status"] == "passed"
    assert outcome.checks()["rate-limit/recovery"]["status"] == "passed"
    assert [entry["status"] for entry in journal].count(429) >= 1


def test_a_budget_spent_mid_run_stops_the_run(tmp_path: Path) -> None:
    with serve_mock() as mock:
        outcome = run_conformance(mock.url, "--only", "lifecycle", "--request-budget", "6", report_dir=tmp_path)
        sent = len(mock.journal())
    assert outcome.exit_code == 1
    assert sent == 6
    statuses = [item["status"] for item in outcome.checks().values()]
    assert "error" in statuses
    assert any("request budget" in item["message"] for item in outcome.checks("error").values())
    assert all("budget" in item["message"] for item in outcome.checks("skipped").values())


def test_a_full_run_with_the_contract_group_conforms(tmp_path: Path) -> None:
    pytest.importorskip("schemathesis")
    with serve_mock(rate_limit="300/3 seconds") as mock:
        outcome = run_conformance(mock.url, "--max-examples", "3", report_dir=tmp_path)
        journal = mock.journal()
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None
    assert outcome.report["groups"] == ["contract", *GROUPS_BUT_CONTRACT]
    assert {item["status"] for item in outcome.checks().values()} <= {"passed", "skipped"}
    assert len(journal) <= outcome.report["requests"]["budget"]
