"""lifecycle/job-history: every observation of every job judged together, and 'unverified' when one state is all."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp

from conformance.context import default_audio
from conformance.exchange import Exchange
from conformance.observations import JobObservation, JobObservations, distinct_statuses, history_problems
from conformance.watch import long_media
from tests.conformance import faults, job_faults
from tests.conformance.support import run_conformance, serve_mock

CHECK = "lifecycle/job-history"

BROKEN: dict[str, tuple[Callable[[ASGIApp], ASGIApp], str]] = {
    "completed-then-processing": (faults.RegressCompletedStatus, "the status went from completed to processing"),
    "progress-falls": (job_faults.FallingProgress, "the progress went down from 0.9 to 0.8"),
    "completed-at-restamped": (job_faults.RestampedCompletedAt, "completed_at changed from"),
    "list-staler-than-status": (job_faults.StaleJobList, "the status went from completed to queued"),
    "no-polling-hint": (job_faults.StatusWithoutRetryAfter, "the status answer of a queued job carries no Retry-After"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_job_that_breaks_its_history_fails_job_history(name: str, tmp_path: Path) -> None:
    wrap, says = BROKEN[name]
    with serve_mock(wrap, rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "lifecycle", report_dir=tmp_path)
    assert CHECK in outcome.failed(), outcome.output
    result = outcome.checks()[CHECK]
    assert says in result["message"], result["message"]
    assert result["reproduction"].startswith("curl "), result


def test_the_intact_mock_passes_job_history_having_seen_two_states(tmp_path: Path) -> None:
    with serve_mock(rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "lifecycle", report_dir=tmp_path)
    result = outcome.checks()[CHECK]
    assert result["status"] == "passed", outcome.output
    assert "queued -> completed" in result["notes"][0], result["notes"]


def test_a_job_that_ends_at_once_leaves_job_history_unverified(tmp_path: Path) -> None:
    with serve_mock(processing_time=0, rate_limit="1000/minute") as mock:
        outcome = run_conformance(mock.url, "--only", "lifecycle", report_dir=tmp_path)
    result = outcome.checks()[CHECK]
    assert result["status"] == "unverified", outcome.output
    assert "was completed in all" in result["message"], result["message"]
    assert "--audio" in result["message"], result["message"]


# --- the judgement and the record, without a server ------------------------------------------------------------

_CREATED = "2026-01-01T00:00:00Z"


_RESULTS: dict[str, dict[str, Any]] = {
    "completed": {"transcript": "hello"},
    "failed": {"error": {"code": "unsupported_media", "message": "cannot decode"}},
}


def _job(status: str, progress: float, **fields: Any) -> dict[str, Any]:
    """A job as a status answer shows it (an ended one with its result)."""
    return {"job_id": "job_1", "status": status, "progress": progress, "file_id": "file_1", "created_at": _CREATED,
            "updated_at": _CREATED, "options": {}, "metadata": {}, **_RESULTS.get(status, {}), **fields}  # fmt: skip


def _exchange(method: str, path: str, status: int, body: object, **headers: str) -> Exchange:
    url = f"http://deployment{path}"
    return Exchange(method, url, headers, None, status, {"Retry-After": "1"}, json.dumps(body).encode())


def _observed(*jobs: dict[str, Any]) -> list[JobObservation]:
    exchange = Exchange("GET", "http://deployment/v1/status/job_1", {}, None, 200, {"Retry-After": "1"}, b"{}")
    return [JobObservation("job_1", float(at), job, exchange) for at, job in enumerate(jobs)]


def _messages(*jobs: dict[str, Any]) -> list[str]:
    return [violation.message for violation in history_problems(_observed(*jobs))]


def test_a_list_showing_completed_before_a_status_showing_processing_is_a_regression() -> None:
    record = JobObservations(clock=iter(range(10)).__next__)
    record.record(_exchange("POST", "/v1/transcribe", 202, _job("queued", 0)))
    record.record(_exchange("GET", "/v1/jobs", 200, {"data": [_job("completed", 1)], "has_more": False}))
    record.record(_exchange("GET", "/v1/status/job_1", 200, _job("processing", 0.5)))
    messages = [str(violation) for violation in record.violations()]
    assert len(messages) == 2, messages
    assert "went from completed to processing" in messages[0]
    assert "the progress went down from 1.0 to 0.5" in messages[1]
    assert "GET /v1/status/job_1 -> 200 at +2.00 s" in messages[0]


def test_a_legal_life_with_a_skipped_state_breaks_nothing() -> None:
    done = _job("completed", 1, completed_at="2026-01-01T00:00:09Z", updated_at="2026-01-01T00:00:09Z")
    assert _messages(_job("queued", 0), _job("processing", 0.5, updated_at="2026-01-01T00:00:03Z"), done, done) == []
    assert _messages(_job("queued", 0), done) == []


@pytest.mark.parametrize(
    ("later", "says"),
    [
        (_job("queued", 0.5), "the status went from processing back to queued"),
        (_job("processing", 0.4), "the progress went down from 0.5 to 0.4"),
        (_job("processing", 1.5), "progress 1.5 is outside [0, 1]"),
        (_job("processing", 0.5, file_id="file_2"), "file_id changed from file_1 to file_2"),
        (_job("processing", 0.5, created_at="2026-01-01T00:00:01Z"), "created_at changed"),
        (_job("processing", 0.5, options={"language": "en"}), 'options changed from {} to {"language": "en"}'),
        (_job("processing", 0.5, updated_at="2025-12-31T23:59:59Z"), "updated_at 2025-12-31T23:59:59Z is before"),
    ],
)
def test_each_rule_across_two_observations(later: dict[str, Any], says: str) -> None:
    messages = _messages(_job("processing", 0.5), later)
    assert any(says in message for message in messages), messages


def test_a_terminal_status_stays_and_so_do_its_result_and_completed_at() -> None:
    done = _job("completed", 1, completed_at="2026-01-01T00:00:09Z", transcript="hello")
    assert (
        "the status went from completed to failed"
        in _messages(done, {**done, **_RESULTS["failed"], "status": "failed"})[0]
    )
    expected = "the transcript changed after the job completed (GET /v1/status/job_1 -> 200 at +1.00 s)"
    assert _messages(done, {**done, "transcript": "hullo"}) == [expected]
    assert "completed_at changed from 2026-01-01T00:00:09Z to nothing" in _messages(done, _job("completed", 1))[0]
    early = _job("completed", 1, completed_at="2025-12-31T00:00:00Z")
    assert "completed_at 2025-12-31T00:00:00Z is before created_at" in _messages(early)[0]


def test_replays_and_canned_answers_are_not_observations_of_the_present() -> None:
    record = JobObservations()
    record.record(_exchange("POST", "/v1/transcribe", 202, _job("queued", 0), **{"Idempotency-Key": "k"}))
    record.record(_exchange("GET", "/v1/status/job_1", 200, _job("completed", 1)))
    record.record(_exchange("POST", "/v1/transcribe", 202, _job("queued", 0), **{"Idempotency-Key": "k"}))
    record.record(_exchange("GET", "/v1/status/job_1", 200, _job("queued", 0), Prefer="example=queued"))
    record.record(_exchange("GET", "/v1/status/job_1", 404, {"status": 404}))
    assert distinct_statuses(record.of("job_1")) == ["queued", "completed"]
    assert list(record.violations()) == []


def test_long_media_repeats_a_wav_to_at_least_the_asked_duration() -> None:
    media = long_media(default_audio(), 60)
    assert media is not None
    with wave.open(io.BytesIO(media)) as lengthened:
        assert 60 <= lengthened.getnframes() / lengthened.getframerate() < 65
    assert long_media(b"ID3 not a wav") is None


def test_a_status_answer_of_an_unfinished_job_carries_its_polling_hint() -> None:
    hinted = Exchange("GET", "http://deployment/v1/status/job_1", {}, None, 200, {"Retry-After": "2"}, b"{}")
    bare = Exchange("GET", "http://deployment/v1/status/job_1", {}, None, 200, {}, b"{}")
    listed = Exchange("GET", "http://deployment/v1/jobs", {}, None, 200, {}, b"{}")
    processing, completed = _job("processing", 0.5), _job("completed", 1.0, completed_at=_CREATED)

    def problems(exchange: Exchange, job: dict[str, Any]) -> list[str]:
        return [item.message for item in history_problems([JobObservation("job_1", 0.0, job, exchange)])]

    assert problems(hinted, processing) == []
    assert problems(bare, completed) == []
    assert problems(listed, processing) == []
    assert [message.split(" (")[0] for message in problems(bare, processing)] == [
        "the status answer of a processing job carries no Retry-After"
    ]


def test_a_status_answer_shows_the_result_of_an_ended_job() -> None:
    failed, completed = _job("failed", 1.0, completed_at=_CREATED), _job("completed", 1.0, completed_at=_CREATED)
    assert _messages(failed) == []
    assert _messages(completed) == []
    failed_without_error = {name: value for name, value in failed.items() if name != "error"}
    completed_without_transcript = {name: value for name, value in completed.items() if name != "transcript"}
    assert [message.split(" (")[0] for message in _messages(failed_without_error)] == [
        "the failed job carries no error with a code and a message: None"
    ]
    assert [message.split(" (")[0] for message in _messages(completed_without_transcript)] == [
        "the completed job carries no transcript"
    ]
