"""Proof that the suite catches broken HTTP semantics: the mock behind one fault fails exactly the right checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from tests.conformance import http_faults
from tests.conformance.support import run_conformance, serve_mock

_HTTP = ("--only", "http")


@dataclass(frozen=True)
class Fault:
    """One broken rule: how to break it, which checks must fail (exactly), what each must say."""

    wrap: Callable[[ASGIApp], ASGIApp]
    failing: frozenset[str]
    says: str


FAULTS = {
    "lowercase-scheme-rejected": Fault(
        http_faults.RejectLowercaseScheme,
        frozenset({"http/scheme-case"}),
        '"Authorization: bearer <key>" must work like "Bearer <key>"',
    ),
    "retry-after-soon": Fault(
        http_faults.BadRetryAfter,
        frozenset({"http/location"}),
        "Retry-After 'soon' is neither delay-seconds nor an HTTP-date",
    ),
    "remaining-above-quota": Fault(
        http_faults.RemainingAboveQuota,
        frozenset({"http/scheme-case", "http/request-id", "http/location"}),
        "is more than the quota",
    ),
    "location-nowhere": Fault(
        http_faults.LocationNowhere,
        frozenset({"http/location"}),
        "'/v1/files/file_0000000000000000' does not resolve to file_id",
    ),
    "request-id-not-echoed": Fault(
        http_faults.IgnoreClientRequestId,
        frozenset({"http/request-id"}),
        "was not echoed",
    ),
    "insane-request-id-echoed": Fault(
        http_faults.EchoAnyRequestId,
        frozenset({"http/request-id"}),
        "is not sane and must be replaced",
    ),
    "problem-status-differs": Fault(
        http_faults.ProblemStatusDiffers,
        frozenset({"http/request-id"}),
        "the problem's status 400 is not the answer's 404",
    ),
    "undocumented-content-type": Fault(
        http_faults.TextPlainJobList,
        frozenset({"http/scheme-case", "http/request-id"}),
        "the answer is text/plain, but the contract documents only application/json for 200",
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_http_fault_fails_the_checks_that_see_it(name: str, tmp_path: Path) -> None:
    fault = FAULTS[name]
    with serve_mock(fault.wrap, rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, *_HTTP, report_dir=tmp_path)
    assert outcome.exit_code == 1, outcome.output
    assert outcome.failed() == fault.failing, outcome.output
    messages = [outcome.checks()[check_id]["message"] for check_id in sorted(fault.failing)]
    assert all(fault.says in message for message in messages), messages
    assert all(outcome.checks()[check_id]["reproduction"].startswith("curl ") for check_id in fault.failing)


def test_the_intact_mock_passes_the_http_group(tmp_path: Path) -> None:
    with serve_mock(rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, *_HTTP, report_dir=tmp_path)
    assert outcome.exit_code == 0, outcome.output
    assert set(outcome.checks("passed")) == {"http/scheme-case", "http/request-id", "http/location"}, outcome.output
