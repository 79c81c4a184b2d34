"""The HTML report (``conformance.html_report``): what it shows, that a hostile server cannot inject into it, and
that Chromium renders a real run's report from disk without touching the network."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Scope

from conformance.events import CheckResult, RunFinished, RunResult, Status
from conformance.exchange import Exchange
from conformance.html_report import HTML_REPORT_FILENAME, render_html_report
from conformance.report import JsonReportWriter, report_document
from tests.browser import BROWSER_OWN_HOSTS, RecordingProxy, png_facts, run_chromium
from tests.conformance.faults import AnswerRewriter
from tests.conformance.http_faults import RejectLowercaseScheme
from tests.conformance.support import Outcome, run_conformance, serve_mock

KEYS = {"key-a": "VOXSCRIBER_API_KEY"}
CURL = 'curl -sS -i -H "Authorization: Bearer $VOXSCRIBER_API_KEY" http://api.test/v1/jobs'
#: What a hostile server puts in its answers: a script that would rename the page, an image that would phone home.
#: (No double quotes: it survives JSON encoding verbatim.)
HOSTILE = "<script>document.title='pwned'</script><img src=http://evil.example/x.png>"
EVIL_HOST = "evil.example"
SCREEN = (1280, 1800)


def _exchange(body: str = '{"jobs": []}') -> Exchange:
    request = httpx.Request("GET", "http://api.test/v1/jobs", headers={"Authorization": "Bearer key-a"})
    answer = httpx.Response(200, request=request, headers={"X-Evil": HOSTILE}, content=body.encode())
    return Exchange.from_httpx(answer)


def _run(*results: CheckResult) -> RunResult:
    return RunResult("http://api.test", results, 1.5, 12, 100, "2026-01-01T00:00:00Z")


FAILED = CheckResult(
    "auth",
    "missing-key",
    "No key: 401.",
    Status.FAILED,
    0.25,
    "GET /v1/jobs answered 200",
    findings=("the answer has no X-Request-Id",),
    reproduction=CURL,
    exchange=_exchange(),
    requests=9,
)
RESULTS = (
    FAILED,
    CheckResult("auth", "invalid-key", "Unknown key: 401.", Status.PASSED, 0.5, notes=("a passing note",)),
    CheckResult("webhooks", "delivery", "Delivered.", Status.SKIPPED, 0.0, "no receiver"),
    CheckResult(
        "webhooks",
        "retry-same-id",
        "Retried.",
        Status.UNVERIFIED,
        1.25,
        "the deployment refused the receiver's URL (allow-list it: webhook_allow_hosts)",
        notes=("observed 1 attempt of job.completed",),
    ),
    CheckResult("contract", "load", "Load.", Status.ERROR, 0.0, "cannot import schemathesis", details="Traceback ..."),
)
STATEMENT: dict[str, Any] = {
    "id": "paths./v1/jobs.get.responses.401",
    "kind": "status",
    "location": "#/paths/~1v1~1jobs/get/responses/401",
    "text": "No key: 401",
    "checks": ["auth/missing-key"],
    "not_checkable": None,
    "result": "failed",
}
TRACEABILITY: dict[str, Any] = {
    "statements": [
        STATEMENT,
        {
            "id": "headers.X-Request-Id",
            "kind": "header",
            "location": "#/components/headers/X-Request-Id",
            "text": "Every answer carries X-Request-Id",
            "checks": ["auth/invalid-key", "http/request-id"],
            "not_checkable": None,
            "result": "passed",
        },
        {
            "id": "limits.retention",
            "kind": "limit",
            "location": "#/info/description",
            "text": "Media is kept for 24 hours",
            "checks": [],
            "not_checkable": "a day cannot be waited for",
            "result": "not checkable",
        },
    ],
    "summary": {"statements": 3, "mapped": 2, "not_checkable": 1, "by_result": {"failed": 1, "passed": 1}},
}


def _document(*results: CheckResult, **extra: Any) -> dict[str, Any]:
    """The report document of a run of ``results``, with only the traceability given in ``extra``."""
    document = report_document(_run(*(results or RESULTS)), KEYS)
    document.pop("traceability", None)
    return {**document, **extra}


#: Every element the page is made of: no script, image, frame or link to anything.
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "h4", "p", "dl", "dt", "dd", "code",
    "ul", "li", "span", "nav", "a", "section", "pre", "details", "summary", "table", "thead", "tbody", "tr", "th",
    "td", "div", "strong", "input", "label",
}  # fmt: skip


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of the page, as a browser's tokenizer sees it, with its attributes."""
    collector = _TagCollector()
    collector.feed(page)
    return collector.tags


def _text(page: str) -> str:
    """The page's visible text, whitespace collapsed (tags dropped, entities decoded)."""
    without_head = re.sub(r"<head>.*</head>", "", page, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without_head)).split())


def _element(page: str, element_id: str) -> str:
    """The text of the element with ``id`` up to its closing tag of the same name (no nesting of that tag)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    assert match, f"no element with id {element_id!r}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(2))).split())


# --- what the page shows -----------------------------------------------------------------------------


def test_the_verdict_counts_and_facts_of_the_run_are_shown() -> None:
    page = render_html_report(_document())
    assert _element(page, "verdict") == "NOT conformant"
    assert _element(page, "summary") == "1 passed 1 failed 1 error 1 unverified 1 skipped"
    text = _text(page)
    assert "Target http://api.test" in text
    assert "Started 2026-01-01T00:00:00Z" in text
    assert "Duration 1.50 s" in text
    assert "Requests 12 of a budget of 100" in text


def test_a_conformant_run_says_so() -> None:
    passed = CheckResult("auth", "invalid-key", "Unknown key: 401.", Status.PASSED, 0.5)
    page = render_html_report(_document(passed))
    assert _element(page, "verdict") == "Conformant"
    assert "None: no check failed and none could not run." in _text(page)


def test_every_group_and_check_is_listed_with_its_status_and_time() -> None:
    page = render_html_report(_document())
    for group in ("auth", "webhooks", "contract"):
        assert f'id="group-{group}"' in page
    rows = {item.id: _element(page, "check-" + item.id.replace("/", "-")) for item in RESULTS}
    assert rows["auth/missing-key"].startswith("missing-key No key: 401. failed 0.25 s 9 GET /v1/jobs answered 200")
    assert rows["auth/invalid-key"] == "invalid-key Unknown key: 401. passed 0.50 s 0 a passing note"
    assert rows["webhooks/delivery"] == "delivery Delivered. skipped 0.00 s 0 no receiver"
    assert rows["webhooks/retry-same-id"].startswith("retry-same-id Retried. unverified 1.25 s")
    assert rows["contract/load"] == "load Load. error 0.00 s 0 cannot import schemathesis"


def test_a_failure_shows_its_message_findings_curl_and_exchange() -> None:
    page = render_html_report(_document())
    card = _element(page, "detail-check-auth-missing-key")
    assert "GET /v1/jobs answered 200" in card
    assert "Further findings the answer has no X-Request-Id" in card
    assert [html.unescape(curl) for curl in re.findall(r'<pre class="curl">(.*?)</pre>', page)] == [CURL]
    assert "GET http://api.test/v1/jobs" in card
    assert "Authorization Bearer $VOXSCRIBER_API_KEY" in card
    assert "Response: 200" in card
    assert '{"jobs": []}' in card
    assert "key-a" not in page


def test_an_error_shows_its_details() -> None:
    card = _element(render_html_report(_document()), "detail-check-contract-load")
    assert "cannot import schemathesis" in card
    assert "Details Traceback ..." in card


def test_unverified_checks_show_what_they_observed_and_what_would_decide_them() -> None:
    card = _element(render_html_report(_document()), "detail-check-webhooks-retry-same-id")
    assert "allow-list it: webhook_allow_hosts" in card
    assert "Notes observed 1 attempt of job.completed" in card


def test_the_traceability_table_maps_statements_to_checks_and_results_by_kind() -> None:
    page = render_html_report(_document(traceability=TRACEABILITY))
    section = page[page.index('id="traceability"') :]
    assert "no traceability table" not in section
    text = _text(section)
    assert "statements 3 mapped 2 not checkable 1 by result failed 1 by result passed 1" in text
    # Grouped by kind, in order, each with its counts.
    kinds = re.findall(r"<summary><strong>(\w+)</strong>", section)
    assert kinds == ["header", "limit", "status"]
    assert "status · 1 statement · 1 failed" in text
    # statement → checks (linked to their rows when the run has them) → result
    assert '<a href="#check-auth-missing-key">auth/missing-key</a>' in section
    assert "http/request-id" in text
    assert 'href="#check-http-request-id"' not in section  # not in this run: named, not linked
    assert "not checkable from outside: a day cannot be waited for" in text
    # One filter per result, and the rows carry the class the filter hides the others by.
    for result_class in ("r-failed", "r-passed", "r-not-checkable"):
        assert f'id="filter-{result_class}"' in section
        assert f'<tr class="statement {result_class}">' in section
        assert f"#filter-{result_class}:checked ~ .kinds tr.statement:not(.{result_class})" in page


def test_a_report_without_traceability_says_so() -> None:
    page = render_html_report(_document())
    assert "no traceability table" in _element(page, "no-traceability")


def test_the_json_writer_writes_the_page_from_the_same_document(tmp_path: Path) -> None:
    JsonReportWriter(tmp_path, KEYS).handle(RunFinished(_run(*RESULTS)))
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert (tmp_path / HTML_REPORT_FILENAME).read_text(encoding="utf-8") == render_html_report(document)


# --- a hostile server --------------------------------------------------------------------------------


def test_a_hostile_server_cannot_inject_markup_into_the_page() -> None:
    hostile = CheckResult(
        "auth",
        "missing-key",
        HOSTILE,
        Status.FAILED,
        0.1,
        HOSTILE,
        notes=(HOSTILE,),
        findings=(HOSTILE,),
        reproduction=f"curl {HOSTILE}",
        exchange=_exchange(HOSTILE),
    )
    hostile_statement = {**STATEMENT, "text": HOSTILE, "result": "x}</style>" + HOSTILE}
    page = render_html_report(
        _document(hostile, traceability={"statements": [hostile_statement], "summary": {HOSTILE: HOSTILE}})
    )
    tags = _tags(page)
    assert {name for name, _ in tags} <= PAGE_TAGS
    assert not [
        attrs
        for _, attrs in tags
        if any(name in ("src", "srcset", "style") or name.startswith("on") for name, _ in attrs)
    ]
    assert [
        value for _, attrs in tags for name, value in attrs if name == "href" and not (value or "").startswith("#")
    ] == []
    assert page.count("</style>") == 1
    assert str(escape(HOSTILE)) in page  # shown as text
    assert "Content-Security-Policy\" content=\"default-src 'none'" in page


# --- in a real browser, over a real run --------------------------------------------------------------


def _browse(tmp_path: Path, page: Path, *arguments: str) -> str:
    return run_chromium(tmp_path, *arguments, "--dump-dom", page.as_uri()).stdout


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Outcome, Path]:
    """The suite against the intact mock; ``--audio`` without its text and duration makes two checks unverified."""
    report_dir = tmp_path_factory.mktemp("report")
    media = Path(__file__).parents[2] / "conformance" / "media" / "hello.wav"
    with serve_mock(rate_limit="1000/minute") as mock:
        outcome = run_conformance(
            mock.url, "--only", "auth,http,lifecycle", "--audio", str(media), report_dir=report_dir
        )
    assert outcome.exit_code == 0, outcome.output
    return outcome, report_dir / HTML_REPORT_FILENAME


@pytest.mark.browser
def test_chromium_renders_a_real_runs_report_with_every_check(real_run: tuple[Outcome, Path], tmp_path: Path) -> None:
    outcome, page = real_run
    screenshot = tmp_path / "report.png"
    run_chromium(tmp_path, f"--screenshot={screenshot}", f"--window-size={SCREEN[0]},{SCREEN[1]}", page.as_uri())
    assert screenshot.is_file(), "chromium wrote no screenshot"
    data = screenshot.read_bytes()
    width, height, pixels = png_facts(data)
    assert (width, height) == SCREEN
    assert len(data) > 20_000, "the screenshot compresses like a blank page"
    assert len(set(pixels[::97])) > 16, "the screenshot has (almost) one colour"

    dom = _browse(tmp_path, page)
    assert re.search(r'<p id="verdict" class="verdict ok">Conformant</p>', dom), dom[:2000]
    for check in outcome.checks().values():
        assert f'<tr id="check-{check["group"]}-{check["name"]}">' in dom, check["id"]
        assert f'<code class="check-name">{check["name"]}</code>' in dom, check["id"]
    traceability = (outcome.report or {}).get("traceability")
    if traceability:
        for statement in traceability["statements"]:
            assert f"<code>{html.escape(statement['id'], quote=False)}</code>" in dom, statement["id"]
    else:
        assert 'id="no-traceability"' in dom
    unverified = outcome.checks("unverified")
    assert set(unverified) == {"lifecycle/transcript-text", "lifecycle/duration"}
    for check in unverified.values():
        assert f'id="detail-check-{check["group"]}-{check["name"]}"' in dom
        assert html.escape(check["message"], quote=False) in dom


class HostileProblems(AnswerRewriter):
    """Every problem's ``detail`` carries markup that would run a script and load an image if it were not escaped."""

    def rewrite(
        self, scope: Scope, status: int, headers: MutableHeaders, body: bytes
    ) -> tuple[int, MutableHeaders, bytes]:
        if body and headers.get("content-type", "").startswith("application/problem+json"):
            problem = json.loads(body)
            body = json.dumps({**problem, "detail": HOSTILE}).encode()
        return status, headers, body


def _hostile(app: ASGIApp) -> ASGIApp:
    # The lowercase scheme refused: http/scheme-case fails and shows the hostile 401 it got.
    return HostileProblems(RejectLowercaseScheme(app))


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    report_dir = tmp_path_factory.mktemp("hostile")
    with serve_mock(_hostile, rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "http", report_dir=report_dir)
    assert outcome.failed() == {"http/scheme-case"}, outcome.output
    assert HOSTILE in outcome.checks()["http/scheme-case"]["exchange"]["response_body"]
    return report_dir / HTML_REPORT_FILENAME


@pytest.mark.browser
@pytest.mark.parametrize(
    ("injected", "expected"),
    [("", set()), (f'<img src="http://{EVIL_HOST}/control.png">', {EVIL_HOST})],
    ids=["the-report", "control-with-a-remote-image"],
)
def test_chromium_requests_nothing_and_runs_nothing_from_a_hostile_servers_report(
    hostile_report: Path, tmp_path: Path, injected: str, expected: set[str]
) -> None:
    # Without the page's Content-Security-Policy, only the escaping stands between the server's markup and the
    # network: any load reaches the proxy (the control case proves it does) and a script would rename the page.
    page = hostile_report.read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace(
        "</main>", injected + "</main>"
    )
    bare = tmp_path / "bare.html"
    bare.write_text(page, encoding="utf-8")
    proxy = RecordingProxy()
    try:
        dom = _browse(tmp_path, bare, f"--proxy-server=http://127.0.0.1:{proxy.port}")
    finally:
        proxy.close()
    assert '<p id="verdict" class="verdict bad">NOT conformant</p>' in dom
    assert "<title>NOT conformant" in dom
    assert "pwned" not in dom.split("</title>")[0]
    assert html.escape(HOSTILE, quote=False) in dom
    assert set(proxy.hosts) - BROWSER_OWN_HOSTS == expected, proxy.hosts
