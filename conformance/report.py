"""The JSON report (``--report DIR`` → ``DIR/report.json``): every check with its verdict, message, notes,
reproduction and the exchange that shows the failure (API keys replaced by their variables). ``DIR/report.html``
(:mod:`conformance.html_report`) renders the same document."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.events import CheckResult, Event, RunFinished, RunResult, Status
from conformance.html_report import write_html_report
from conformance.traceability import traceability_document

__all__ = ["REPORT_FILENAME", "JsonReportWriter", "report_document"]

REPORT_FILENAME = "report.json"
#: Bumped when the document's shape changes incompatibly.
REPORT_VERSION = 1


def _check(item: CheckResult, key_variables: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": item.id,
        "group": item.group,
        "name": item.name,
        "description": item.description,
        "status": item.status.value,
        "duration_seconds": round(item.duration, 3),
        "message": item.message,
        "notes": list(item.notes),
        "findings": list(item.findings),
        "requests": item.requests,
        "reproduction": item.reproduction,
        "exchange": item.exchange.to_dict(key_variables) if item.exchange else None,
        "details": item.details,
    }


def report_document(result: RunResult, key_variables: Mapping[str, str]) -> dict[str, Any]:
    """The report of a run as JSON-ready data."""
    return {
        "report_version": REPORT_VERSION,
        "tool": "voxcontract conformance",
        "base_url": result.base_url,
        "started_at": result.started_at,
        "duration_seconds": round(result.duration, 3),
        "conformant": result.conformant,
        "summary": {status.value: result.count(status) for status in Status},
        "requests": {"used": result.requests_used, "budget": result.request_budget},
        "groups": result.groups,
        "checks": [_check(item, key_variables) for item in result.results],
        # Every statement of the contract, the checks that verify it and its result (conformance.traceability).
        "traceability": traceability_document(result),
    }


class JsonReportWriter:
    """Writes ``report.json`` (and the same document as ``report.html``) into a directory when the run finishes."""

    def __init__(self, directory: Path, key_variables: Mapping[str, str]) -> None:
        self.path = directory / REPORT_FILENAME
        self.key_variables = dict(key_variables)

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            document = report_document(event.result, self.key_variables)
            self.path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            # The page renders the very document just written, so the two never disagree.
            write_html_report(document, self.path.parent)
