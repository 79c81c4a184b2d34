"""The HTML report (``--report DIR`` → ``DIR/report.html``): the JSON report's document, for people.

One self-contained page that opens from disk: inline CSS, no script, no font or image from anywhere, and a
Content-Security-Policy that forbids any load, so that even markup a hostile server managed to smuggle in could fetch
nothing. It renders the very document :func:`conformance.report.report_document` builds (the JSON report and the page
never disagree), and everything in it is escaped: bodies and headers come from the server under test.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["HTML_REPORT_FILENAME", "render_html_report", "write_html_report"]

HTML_REPORT_FILENAME = "report.html"
#: The statuses of a check, in the order the summary shows them.
STATUSES = ("passed", "failed", "error", "unverified", "skipped")
_NEEDS_ATTENTION = ("failed", "error")


@dataclass(frozen=True, slots=True)
class ExchangeView:
    """One request and its answer, headers as (name, value) pairs."""

    method: str
    url: str
    status: object
    request_headers: tuple[tuple[str, str], ...]
    request_body: str | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: str | None


@dataclass(frozen=True, slots=True)
class CheckView:
    id: str
    anchor: str
    group: str
    name: str
    description: str
    status: str
    duration: float
    requests: int
    message: str
    notes: tuple[str, ...]
    findings: tuple[str, ...]
    reproduction: str | None
    exchange: ExchangeView | None
    details: str | None


@dataclass(frozen=True, slots=True)
class GroupView:
    name: str
    checks: tuple[CheckView, ...]
    duration: float
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class StatementView:
    id: str
    kind: str
    location: str
    text: str
    #: (check id, the anchor of its result in this report or None when the run did not include it)
    checks: tuple[tuple[str, str | None], ...]
    not_checkable: str | None
    result: str
    result_class: str


@dataclass(frozen=True, slots=True)
class KindView:
    kind: str
    statements: tuple[StatementView, ...]
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class TraceabilityView:
    summary: tuple[tuple[str, str], ...]
    kinds: tuple[KindView, ...]
    #: (result, its CSS class) for the filter, each result once.
    results: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ReportView:
    """Everything the page shows, built once from the report document."""

    conformant: bool
    base_url: str
    started_at: str
    duration: float
    requests_used: object
    request_budget: object
    summary: tuple[tuple[str, int], ...]
    groups: tuple[GroupView, ...]
    attention: tuple[CheckView, ...]
    unverified: tuple[CheckView, ...]
    traceability: TraceabilityView | None


def css_class(text: str) -> str:
    """A CSS class / id fragment made of ``a-z0-9-`` only, whatever ``text`` holds."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "none"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _headers(headers: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(headers, Mapping):
        return ()
    return tuple((str(name), str(value)) for name, value in headers.items())


def _exchange(data: object) -> ExchangeView | None:
    if not isinstance(data, Mapping):
        return None
    return ExchangeView(
        method=_text(data.get("method")),
        url=_text(data.get("url")),
        status=data.get("status"),
        request_headers=_headers(data.get("request_headers")),
        request_body=data.get("request_body"),
        response_headers=_headers(data.get("response_headers")),
        response_body=data.get("response_body"),
    )


def _check(data: Mapping[str, Any]) -> CheckView:
    check_id = _text(data.get("id"))
    return CheckView(
        id=check_id,
        anchor="check-" + css_class(check_id),
        group=_text(data.get("group")),
        name=_text(data.get("name")),
        description=_text(data.get("description")),
        status=_text(data.get("status")),
        duration=float(data.get("duration_seconds") or 0.0),
        requests=int(data.get("requests") or 0),
        message=_text(data.get("message")),
        notes=tuple(_text(note) for note in data.get("notes") or ()),
        findings=tuple(_text(finding) for finding in data.get("findings") or ()),
        reproduction=data.get("reproduction"),
        exchange=_exchange(data.get("exchange")),
        details=data.get("details"),
    )


def _counts(statuses: Iterable[str]) -> tuple[tuple[str, int], ...]:
    counter = Counter(statuses)
    ordered = [status for status in STATUSES if counter[status]] + sorted(set(counter) - set(STATUSES))
    return tuple((status, counter[status]) for status in ordered)


def _groups(names: Iterable[str], checks: tuple[CheckView, ...]) -> tuple[GroupView, ...]:
    # Groups named by the document first (their run order), then any a check names that the list missed.
    ordered = list(dict.fromkeys([*names, *(check.group for check in checks)]))
    views = []
    for name in ordered:
        members = tuple(check for check in checks if check.group == name)
        views.append(
            GroupView(name, members, sum(check.duration for check in members), _counts(c.status for c in members))
        )
    return tuple(views)


def _result_text(result: object) -> str:
    if result is None:
        return "not run"
    if isinstance(result, Mapping):
        return _text(result.get("status") or result.get("result") or result)
    return str(result)


def _statement(data: Mapping[str, Any], anchors: Mapping[str, str]) -> StatementView:
    checks = tuple(_text(check) for check in data.get("checks") or ())
    result = _result_text(data.get("result"))
    return StatementView(
        id=_text(data.get("id")),
        kind=_text(data.get("kind")) or "other",
        location=_text(data.get("location")),
        text=_text(data.get("text")),
        checks=tuple((check, anchors.get(check)) for check in checks),
        not_checkable=data.get("not_checkable"),
        result=result,
        result_class="r-" + css_class(result),
    )


def _traceability(data: object, anchors: Mapping[str, str]) -> TraceabilityView | None:
    if not isinstance(data, Mapping):
        return None
    statements = [_statement(item, anchors) for item in data.get("statements") or () if isinstance(item, Mapping)]
    kinds = tuple(
        _kind(kind, [s for s in statements if s.kind == kind]) for kind in sorted({s.kind for s in statements})
    )
    summary = data.get("summary")
    flat = tuple(_flatten(summary)) if isinstance(summary, Mapping) else ()
    return TraceabilityView(flat, kinds, _result_filters(statements))


def _result_filters(statements: list[StatementView]) -> tuple[tuple[str, str], ...]:
    """(result, CSS class) once per class: two spellings of a result that make the same class share a filter."""
    by_class = {statement.result_class: statement.result for statement in statements}
    return tuple(sorted((result, result_class) for result_class, result in by_class.items()))


def _kind(kind: str, statements: list[StatementView]) -> KindView:
    return KindView(kind, tuple(statements), tuple(sorted(Counter(s.result for s in statements).items())))


def _flatten(summary: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, str]]:
    """``{"statements": 3, "by_result": {"passed": 2}}`` → ("statements", "3"), ("by_result passed", "2")."""
    for key, value in summary.items():
        label = f"{prefix}{key}".replace("_", " ")
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key} ")
        else:
            yield label, _text(value)


def report_view(document: Mapping[str, Any]) -> ReportView:
    """The page's view of a report document (:func:`conformance.report.report_document`)."""
    checks = tuple(_check(item) for item in document.get("checks") or ())
    requests = document.get("requests") or {}
    anchors = {check.id: check.anchor for check in checks}
    summary = document.get("summary") or {}
    return ReportView(
        conformant=bool(document.get("conformant")),
        base_url=_text(document.get("base_url")),
        started_at=_text(document.get("started_at")),
        duration=float(document.get("duration_seconds") or 0.0),
        requests_used=requests.get("used"),
        request_budget=requests.get("budget"),
        summary=tuple((status, int(summary.get(status, 0))) for status in STATUSES),
        groups=_groups(document.get("groups") or (), checks),
        attention=tuple(check for check in checks if check.status in _NEEDS_ATTENTION),
        unverified=tuple(check for check in checks if check.status == "unverified"),
        traceability=_traceability(document.get("traceability"), anchors),
    )


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("conformance", "templates"),
        # Every value is escaped unless a template says otherwise (none does).
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html_report(document: Mapping[str, Any]) -> str:
    """The report document as one self-contained HTML page."""
    return _environment().get_template("report.html.j2").render(report=report_view(document))


def write_html_report(document: Mapping[str, Any], directory: Path) -> Path:
    """Write ``report.html`` into ``directory``; its path."""
    path = directory / HTML_REPORT_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html_report(document), encoding="utf-8")
    return path
