"""Proof that the errors group (and rate-limit/spent-quota) catches wrong refusals: the mock misanswering one kind
of refusal fails exactly the check that owns it; the intact mock passes every one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.checks import registered_checks
from conformance.groups import load_group
from tests.conformance.error_faults import Misanswer, MisansweredRefusal, problem_code, request_path
from tests.conformance.support import run_conformance, serve_mock

_ERRORS = ("--only", "errors")
_MAX_HEADER_COUNT = 100
_EMPTY_PAGE = json.dumps({"jobs": [], "has_more": False, "next_cursor": None}).encode()


@dataclass(frozen=True)
class Fault:
    """One refusal misanswered, the check that must fail (alone), and what it must say."""

    misanswer: Misanswer
    failing: str
    says: str
    args: tuple[str, ...] = _ERRORS
    settings: dict[str, Any] = field(default_factory=dict)


FAULTS = {
    "too-many-header-fields-400": Fault(
        Misanswer(lambda scope, status, _: status == 431 and len(scope["headers"]) > _MAX_HEADER_COUNT, 400),
        "errors/header-count",
        "expected 431, got GET /v1/health -> 400",
    ),
    "too-large-header-fields-400": Fault(
        Misanswer(lambda scope, status, _: status == 431 and len(scope["headers"]) <= _MAX_HEADER_COUNT, 400),
        "errors/header-bytes",
        "expected 431, got GET /v1/health -> 400",
    ),
    "upload-past-the-limit-400": Fault(
        Misanswer(problem_code("payload_too_large"), 400, "malformed_body"),
        "errors/payload-too-large",
        "declaring 104857601 bytes: expected 413, got POST /v1/upload -> 400",
    ),
    "text-plain-400": Fault(
        Misanswer(problem_code("unsupported_content_type", "/v1/transcribe"), 400, "invalid_request"),
        "errors/unsupported-content-type",
        "POST /v1/transcribe with a text/plain body: expected 415",
    ),
    "broken-multipart-invalid-request": Fault(
        Misanswer(problem_code("malformed_body", "/v1/upload"), code="invalid_request"),
        "errors/malformed-body",
        "the problem's code is 'invalid_request', expected malformed_body",
    ),
    "nan-invalid-request": Fault(
        Misanswer(lambda _, __, problem: "NaN" in str(problem.get("detail")), code="invalid_request"),
        "errors/json-limits",
        "NaN: the problem's code is 'invalid_request', expected malformed_body",
    ),
    "excerpt-not-marked": Fault(
        Misanswer(
            lambda _, __, problem: "[cut:" in str(problem.get("detail")),
            edit_detail=lambda detail: re.sub(r"… \[cut: \d+ characters\]", "", detail),
        ),
        "errors/excerpt",
        "without marking it '… [cut: 5000 characters]'",
    ),
    "malformed-job-id-404": Fault(
        Misanswer(lambda scope, status, _: request_path(scope) == "/v1/transcripts/not-a-job-id", 404, "not_found"),
        "errors/invalid-request",
        "GET /v1/transcripts/{job_id} violating its parameters: expected 400",
    ),
    "unissued-cursor-served": Fault(
        Misanswer(
            lambda scope, status, _: request_path(scope) == "/v1/jobs" and b"cursor=" in scope["query_string"],
            instead=(200, "application/json", _EMPTY_PAGE),
        ),
        "errors/unissued-cursor",
        "expected 400, got GET /v1/jobs?cursor=",
    ),
    "long-metadata-key-422": Fault(
        Misanswer(lambda _, __, problem: "Metadata keys" in str(problem.get("detail")), 422),
        "errors/metadata-key-length",
        "a metadata key of 65 characters: expected 400",
    ),
    "unknown-language-400": Fault(
        Misanswer(problem_code("language_not_supported"), 400, "invalid_request"),
        "errors/language-not-supported",
        "expected 422",
    ),
    "file-in-use-deleted": Fault(
        Misanswer(problem_code("file_in_use"), instead=(204, "text/plain", b"")),
        "errors/file-in-use",
        "was deleted (204), expected 409 file_in_use",
    ),
    "private-url-fetched": Fault(
        Misanswer(problem_code("url_not_allowed"), code="url_fetch_failed"),
        "errors/url-not-allowed",
        "the problem's code is 'url_fetch_failed', expected url_not_allowed",
    ),
    "low-sample-rate-invalid-request": Fault(
        Misanswer(problem_code("unsupported_media", "/v1/upload"), code="invalid_request"),
        "errors/low-sample-rate",
        "a WAV sampled at 2000 Hz: the problem's code is 'invalid_request', expected unsupported_media",
    ),
    "too-long-media-unsupported": Fault(
        Misanswer(problem_code("media_too_long", "/v1/upload"), code="unsupported_media"),
        "errors/media-too-long",
        "uploading 14401 s of silence: the problem's code is 'unsupported_media', expected media_too_long",
    ),
    "spent-quota-without-retry-after": Fault(
        Misanswer(
            lambda scope, status, _: status == 429 and request_path(scope) == "/v1/webhooks/secret",
            drop_headers=("retry-after",),
        ),
        "rate-limit/spent-quota",
        "GET /v1/webhooks/secret once the quota is spent: the 429 carries no Retry-After",
        ("--only", "rate-limit"),
        {"rate_limit": "30/3 seconds"},
    ),
    "spent-quota-not-limited": Fault(
        Misanswer(
            lambda scope, status, _: status == 429 and scope["method"] == "DELETE",
            instead=(404, "application/problem+json", b""),
        ),
        "rate-limit/spent-quota",
        "once the quota is spent: expected 429",
        ("--only", "rate-limit"),
        {"rate_limit": "30/3 seconds"},
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_misanswered_refusal_fails_the_check_that_owns_it(name: str, tmp_path: Path) -> None:
    fault = FAULTS[name]
    settings = {"rate_limit": "1000/minute", **fault.settings}
    with serve_mock(lambda app: MisansweredRefusal(app, fault.misanswer), **settings) as mock:
        outcome = run_conformance(mock.url, *fault.args, report_dir=tmp_path)
    assert outcome.exit_code == 1, outcome.output
    assert outcome.failed() == {fault.failing}, outcome.output
    failure = outcome.checks()[fault.failing]
    assert fault.says in failure["message"], failure["message"]
    assert failure["reproduction"].startswith(("curl ", "head -c ")), failure["reproduction"]


def test_the_intact_mock_passes_every_errors_check(tmp_path: Path) -> None:
    with serve_mock(rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, *_ERRORS, report_dir=tmp_path)
    assert outcome.exit_code == 0, outcome.output
    load_group("errors")
    assert set(outcome.checks("passed")) == {check.id for check in registered_checks("errors")}


def test_a_job_that_ended_before_its_file_was_deleted_leaves_file_in_use_unverified(tmp_path: Path) -> None:
    with serve_mock(rate_limit="1000/minute", processing_time=0) as mock:
        outcome = run_conformance(mock.url, *_ERRORS, report_dir=tmp_path)
    check = outcome.checks()["errors/file-in-use"]
    assert check["status"] == "unverified", check
    assert "the job had already ended (completed)" in check["message"]
    assert "--audio" in check["message"]


def test_the_errors_group_leaves_the_rate_limit_group_passing(tmp_path: Path) -> None:
    # Its 431s refuse the header fields unread, the key among them: no RateLimit headers are due on them.
    with serve_mock(rate_limit="30/3 seconds") as mock:
        outcome = run_conformance(mock.url, "--only", "errors,rate-limit", report_dir=tmp_path)
    assert outcome.exit_code == 0, outcome.output
    assert {item["status"] for item in outcome.checks().values()} == {"passed"}, outcome.output
