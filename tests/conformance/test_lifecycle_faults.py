"""What a completed job and its downloads promise: each broken server fails exactly the check that owns the promise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from tests.conformance import lifecycle_faults
from tests.conformance.support import run_conformance, serve_mock

BROKEN: dict[str, tuple[Callable[[ASGIApp], ASGIApp], str, str]] = {
    "no-language-probability": (
        lifecycle_faults.WithoutLanguageProbability,
        "lifecycle/completed-job",
        "the completed job lacks language_probability",
    ),
    "granularity-ignored": (
        lifecycle_faults.TimedSegmentsAlways,
        "lifecycle/timestamp-granularity",
        "timestamps=none (text only) gave 1 timed segment(s)",
    ),
    "nameless-download": (
        lifecycle_faults.NamelessDownloads,
        "lifecycle/download-text",
        "Content-Disposition 'attachment; name=transcript' names no file",
    ),
    "undecodable-upload-stored": (
        lifecycle_faults.UploadTakesAnything,
        "lifecycle/undecodable-media",
        "expected 400",
    ),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_promise_fails_its_check(name: str, tmp_path: Path) -> None:
    wrap, check_id, says = BROKEN[name]
    with serve_mock(wrap, rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "lifecycle", report_dir=tmp_path)
    assert check_id in outcome.failed(), outcome.output
    assert says in outcome.checks()[check_id]["message"], outcome.checks()[check_id]


def test_the_intact_mock_keeps_every_promise_of_a_completed_job(tmp_path: Path) -> None:
    with serve_mock(rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "lifecycle", report_dir=tmp_path)
    checks = outcome.checks()
    for check_id in {check_id for _, check_id, _ in BROKEN.values()}:
        assert checks[check_id]["status"] == "passed", checks[check_id]
