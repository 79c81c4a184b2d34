"""Proof that the suite catches violations: the mock behind one fault at a time fails exactly the right checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp

from tests.conformance import faults
from tests.conformance.support import KEY_A, KEY_B, run_conformance, serve_mock


@dataclass(frozen=True)
class Fault:
    """One broken rule: how to break it, what to run, which checks must fail (exactly), what they must say."""

    wrap: Callable[[ASGIApp], ASGIApp] | None
    args: tuple[str, ...]
    failing: frozenset[str]
    says: str
    settings: dict[str, Any] = field(default_factory=dict)


FAULTS = {
    "no-auth-on-list-jobs": Fault(
        lambda app: faults.AcceptAnyKey(app, KEY_A, (KEY_A, KEY_B)),
        ("--only", "auth"),
        frozenset({"auth/missing-key", "auth/malformed-key", "auth/wrong-scheme", "auth/invalid-key"}),
        "GET /v1/jobs",
    ),
    "no-retry-after-on-429": Fault(
        faults.StripRetryAfter,
        ("--only", "rate-limit"),
        frozenset({"rate-limit/burst", "rate-limit/spent-quota"}),
        "no Retry-After",
        {"rate_limit": "30/minute"},
    ),
    "no-rate-limit-headers": Fault(
        lambda app: faults.StripHeaders(app, "/v1/webhooks/secret", ("ratelimit", "ratelimit-policy")),
        ("--only", "rate-limit", "--request-budget", "20"),
        frozenset({"rate-limit/headers"}),
        "GET /v1/webhooks/secret -> 200 lacks RateLimit-Policy and RateLimit",
    ),
    "wrong-webhook-secret": Fault(
        faults.WrongWebhookSecret,
        ("--only", "webhooks"),
        frozenset({"webhooks/signature"}),
        "no matching signature",
    ),
    "illegal-status-transition": Fault(
        faults.RegressCompletedStatus,
        ("--only", "lifecycle"),
        frozenset({"lifecycle/status-transitions", "lifecycle/job-history"}),
        "the status went from completed to processing",
    ),
    "server-error-on-bad-input": Fault(
        faults.ServerErrorOnBadInput,
        ("--only", "lifecycle,data"),
        frozenset({"lifecycle/undecodable-media", "data/bad-input"}),
        "500",
    ),
    "other-tenants-job-visible": Fault(
        lambda app: faults.LeakOtherTenantsJob(app, KEY_B),
        ("--only", "auth"),
        frozenset({"auth/tenant-isolation-read"}),
        "expected 404",
    ),
    "problem-as-plain-json": Fault(
        faults.PlainJsonProblems,
        ("--only", "data"),
        frozenset(
            {
                "data/idempotency-conflict",
                "data/idempotency-first",
                "data/delete-job",
                "data/delete-file",
                "data/delete-after-retrieval",
                "data/bad-input",
            }
        ),
        "must be application/problem+json, not application/json",
    ),
    "malformed-srt": Fault(
        faults.MalformedSrt,
        ("--only", "lifecycle"),
        frozenset({"lifecycle/download-srt"}),
        "not valid SRT",
    ),
    "misheard-transcript": Fault(
        faults.MisheardWords,
        ("--only", "lifecycle"),
        frozenset({"lifecycle/transcript-text"}),
        "words off the known text",
    ),
    "wrong-duration": Fault(
        faults.LongerDuration,
        ("--only", "lifecycle"),
        frozenset({"lifecycle/duration"}),
        "but the media lasts 4.253 s",
    ),
    "transcript-not-its-segments": Fault(
        faults.TranscriptWithoutLastWord,
        ("--only", "lifecycle"),
        frozenset({"lifecycle/segment-text"}),
        "is not its segments' texts joined",
    ),
    "srt-cues-a-second-late": Fault(
        faults.ShiftedSrtCues,
        ("--only", "lifecycle"),
        frozenset({"lifecycle/download-srt"}),
        "srt cue 1 runs 1.019 - 2.914 s, its segment 0.019 - 1.914 s",
    ),
    "words-outside-their-segment": Fault(
        faults.WordsOutsideSegment,
        ("--only", "lifecycle"),
        frozenset({"lifecycle/words"}),
        "lies outside its segment",
    ),
    "overlapping-words": Fault(
        faults.OverlappingWords,
        ("--only", "lifecycle"),
        frozenset({"lifecycle/words"}),
        "before the word before it",
    ),
    # The contract gives receivers 10 s (webhook_timeout_seconds): the stalled receiver answers after 6 s.
    "webhook-timeout-shorter-than-the-contracts": Fault(
        None,
        ("--only", "webhooks"),
        frozenset({"webhooks/slow-acknowledgement"}),
        "the deployment gave up too early",
        settings={"webhook_timeout": 5.0},
    ),
    # ... and after 11 s: a deployment still waiting takes the late 200 as an acknowledgement and never retries.
    "webhook-timeout-longer-than-the-contracts": Fault(
        None,
        ("--only", "webhooks", "--webhook-deadline", "3"),
        frozenset({"webhooks/timeout-retried"}),
        "the deployment waited past the limit",
        settings={"webhook_timeout": 30.0},
    ),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_fault_fails_the_check_that_owns_the_rule(name: str, tmp_path: Path) -> None:
    fault = FAULTS[name]
    settings = {"rate_limit": "1000/minute", **fault.settings}
    with serve_mock(fault.wrap, **settings) as mock:
        outcome = run_conformance(mock.url, *fault.args, report_dir=tmp_path)
    assert outcome.exit_code == 1, outcome.output
    assert outcome.failed() == fault.failing, outcome.output
    messages = [outcome.checks()[check_id]["message"] for check_id in sorted(fault.failing)]
    assert all(fault.says in message for message in messages), messages
    assert all(outcome.checks()[check_id]["reproduction"].startswith("curl ") for check_id in fault.failing)


def test_a_retry_under_another_webhook_id_fails_retry_same_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signer = type("FreshRenamingSigner", (faults.RenamingSigner,), {"attempts": Counter()})
    monkeypatch.setattr("mockserver.webhooks.WebhookSigner", signer)
    with serve_mock(rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "webhooks", report_dir=tmp_path)
    assert outcome.exit_code == 1, outcome.output
    # Every retry is renamed: the one after the timeout too, and the receiver takes the renamed retry after its 500
    # for a new event (answered 500 again, so a third attempt follows).
    assert outcome.failed() == {"webhooks/retry-same-id", "webhooks/timeout-retried", "webhooks/acknowledged"}, (
        outcome.output
    )
    assert "the retry after the 500 carries webhook-id" in outcome.checks()["webhooks/retry-same-id"]["message"]
    message = outcome.checks()["webhooks/timeout-retried"]["message"]
    assert "the retry after the unanswered attempt carries webhook-id" in message
