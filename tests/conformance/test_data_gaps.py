"""The data and webhook checks that close traceability gaps: each fails against a mock that breaks its rule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp

from tests.conformance import data_faults
from tests.conformance.support import run_conformance, serve_mock


@dataclass(frozen=True)
class Fault:
    """One broken rule: how to break it, which group to run, the checks that must fail (exactly), what they say."""

    wrap: Callable[[ASGIApp], ASGIApp] | None
    group: str
    failing: frozenset[str]
    says: str
    settings: dict[str, Any] = field(default_factory=dict)


FAULTS = {
    "list-oldest-first": Fault(data_faults.ListOldestFirst, "data", frozenset({"data/list-pages"}), "not newest first"),
    "list-default-page-of-10": Fault(
        lambda app: data_faults.DefaultQuery(app, "/v1/jobs", "limit", "10"),
        "data",
        frozenset({"data/list-pages"}),
        "not the newest 20 (the default limit)",
    ),
    "status-filter-ignored": Fault(
        data_faults.StatusFilterIgnored, "data", frozenset({"data/list-status-filter"}), "GET /v1/jobs?status="
    ),
    "other-default-timestamps": Fault(
        data_faults.OtherDefaultTimestamps, "data", frozenset({"data/defaults"}), "options.timestamps 'word'"
    ),
    "transcript-default-format-text": Fault(
        lambda app: data_faults.DefaultQuery(app, "/v1/transcripts/", "format", "text"),
        "data",
        # The other downloads without format expect JSON too.
        frozenset({"data/defaults", "data/delete-after-retrieval", "data/retrieval-keeps-shared-file"}),
        "GET /v1/transcripts",
    ),
    "metadata-dropped": Fault(data_faults.MetadataDropped, "data", frozenset({"data/metadata"}), "metadata is {}"),
    "metadata-dropped-from-webhooks": Fault(
        data_faults.MetadataDropped, "webhooks", frozenset({"webhooks/metadata"}), "carries metadata {}"
    ),
    "file-checked-before-idempotency": Fault(
        data_faults.FileCheckedBeforeIdempotency,
        "data",
        frozenset({"data/idempotency-first"}),
        "expected 409",
    ),
    "delete-leaves-job-running": Fault(
        data_faults.DeleteLeavesJobRunning, "data", frozenset({"data/cancel-job"}), "right after its job"
    ),
    "file-deleted-with-its-job": Fault(
        data_faults.FileDeletedWithJob, "data", frozenset({"data/cancel-job"}), "reading the file of the deleted job"
    ),
    "all-jobs-of-a-key-at-once": Fault(
        data_faults.ListAllUnfinishedAsProcessing, "data", frozenset({"data/running-limit"}), "processing at once"
    ),
    "retrieval-deletes-a-shared-file": Fault(
        data_faults.RetrievalDeletesSharedFile,
        "data",
        frozenset({"data/retrieval-keeps-shared-file"}),
        "still needs it",
    ),
    # Every event is sent again after its 200: the slowly acknowledged one too.
    "webhook-sent-again-after-200": Fault(
        None,
        "webhooks",
        frozenset({"webhooks/acknowledged", "webhooks/slow-acknowledgement"}),
        "yet attempt",
        {"default_scenario": "webhook-duplicate"},
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_fault_fails_the_check_that_owns_the_rule(name: str, tmp_path: Path) -> None:
    fault = FAULTS[name]
    with serve_mock(fault.wrap, **{"rate_limit": "1000/minute", **fault.settings}) as mock:
        outcome = run_conformance(mock.url, "--only", fault.group, report_dir=tmp_path)
    assert outcome.exit_code == 1, outcome.output
    assert outcome.failed() == fault.failing, outcome.output
    messages = [outcome.checks()[check_id]["message"] for check_id in sorted(fault.failing)]
    assert all(fault.says in message for message in messages), messages


def test_the_intact_mock_passes_the_new_checks(tmp_path: Path) -> None:
    with serve_mock(rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "data,webhooks", report_dir=tmp_path)
    assert outcome.exit_code == 0, outcome.output
    statuses = {check_id: item["status"] for check_id, item in outcome.checks().items()}
    new = {check_id for name, fault in FAULTS.items() for check_id in fault.failing}
    assert {statuses[check_id] for check_id in new} == {"passed"}, statuses
