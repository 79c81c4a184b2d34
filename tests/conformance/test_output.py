"""The outputs of a run: JUnit XML, the JSON report and the console, from one synthetic result."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
from rich.console import Console

from conformance.console import ConsoleReporter
from conformance.events import CheckFinished, CheckResult, CheckStarted, RunFinished, RunResult, RunStarted, Status
from conformance.exchange import Exchange
from conformance.junit import JUnitWriter
from conformance.report import JsonReportWriter

REQUEST = httpx.Request("GET", "http://api.test/v1/jobs", headers={"Authorization": "Bearer key-a"})
EXCHANGE = Exchange.from_httpx(httpx.Response(200, request=REQUEST))
CURL = 'curl -sS -i -H "Authorization: Bearer $VOXSCRIBER_API_KEY" http://api.test/v1/jobs'
RESULTS = (
    CheckResult(
        "auth",
        "missing-key",
        "No key: 401.",
        Status.FAILED,
        0.25,
        "GET /v1/jobs answered 200",
        findings=("also this",),
        reproduction=CURL,
        exchange=EXCHANGE,
        requests=9,
    ),
    CheckResult("auth", "invalid-key", "Unknown key: 401.", Status.PASSED, 0.5, notes=("a note",)),
    CheckResult("webhooks", "delivery", "Delivered.", Status.SKIPPED, 0.0, "no receiver"),
    CheckResult("webhooks", "retry-same-id", "Retried.", Status.UNVERIFIED, 0.0, "refused (allow-list it)"),
    CheckResult("contract", "load", "Load.", Status.ERROR, 0.0, "cannot import schemathesis"),
)
RESULT = RunResult("http://api.test", RESULTS, 1.5, 12, 100, "2026-01-01T00:00:00Z")


def test_junit_has_a_suite_per_group_and_a_case_per_check(tmp_path: Path) -> None:
    JUnitWriter(tmp_path / "out" / "junit.xml").handle(RunFinished(RESULT))
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert root.tag == "testsuites"
    assert {key: root.get(key) for key in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5", "failures": "1", "errors": "1", "skipped": "2"
    }  # fmt: skip
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == ["auth", "webhooks", "contract"]
    cases = suites["auth"].findall("testcase")
    assert [(case.get("classname"), case.get("name")) for case in cases] == [
        ("conformance.auth", "missing-key"),
        ("conformance.auth", "invalid-key"),
    ]
    failure = cases[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "GET /v1/jobs answered 200"
    assert failure.text is not None
    assert CURL in failure.text
    assert "also: also this" in failure.text
    assert cases[1].find("system-out") is not None
    skips = [case.find("skipped") for case in suites["webhooks"].findall("testcase")]
    assert [skip.get("message") if skip is not None else None for skip in skips] == [
        "no receiver",
        "unverified: refused (allow-list it)",
    ]
    assert suites["contract"].find("testcase/error") is not None


def test_the_json_report_redacts_keys_and_keeps_the_evidence(tmp_path: Path) -> None:
    JsonReportWriter(tmp_path, {"key-a": "VOXSCRIBER_API_KEY"}).handle(RunFinished(RESULT))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["conformant"] is False
    assert report["summary"] == {"passed": 1, "failed": 1, "skipped": 1, "unverified": 1, "error": 1}
    assert report["requests"] == {"used": 12, "budget": 100}
    failed = report["checks"][0]
    assert (failed["id"], failed["reproduction"], failed["requests"]) == ("auth/missing-key", CURL, 9)
    assert failed["exchange"]["request_headers"]["Authorization"] == "Bearer $VOXSCRIBER_API_KEY"
    assert "key-a" not in (tmp_path / "report.json").read_text()


def test_the_console_shows_progress_a_table_and_each_failure_with_its_curl() -> None:
    buffer = io.StringIO()
    reporter = ConsoleReporter(Console(file=buffer, width=200, highlight=False))
    reporter.handle(RunStarted("http://api.test", ("auth", "webhooks", "contract"), 4, 100))
    for index, item in enumerate(RESULTS, start=1):
        reporter.handle(CheckStarted(item.group, item.name, item.description, index, 4))
        reporter.handle(CheckFinished(item, index, 4))
    reporter.handle(RunFinished(RESULT))
    text = buffer.getvalue()
    assert "✗ auth/missing-key" in text
    assert "✓ auth/invalid-key" in text
    assert "Conformance results" in text
    assert "[a note]" in text
    assert "FAILED auth/missing-key" in text
    assert CURL in text
    assert "ERROR contract/load" in text
    assert "? webhooks/retry-same-id  refused (allow-list it)" in text
    assert "NOT conformant: 1 passed, 1 failed, 1 skipped, 1 unverified, 1 error in 1.5 s, 12 of 100 requests" in text
