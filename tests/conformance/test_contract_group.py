"""The contract group against the mock over real HTTP: the intact mock passes, a broken one fails the right check.

Each fault is a small pure ASGI middleware around the intact mock (:mod:`tests.conformance.faults`), breaking
one promise of the contract: a 500 for malformed transcription requests, a job list whose ``data`` is an object,
a DELETE that keeps the job.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.datastructures import MutableHeaders
from starlette.types import Receive, Scope, Send

import conformance.groups
from conformance.checks import registered_checks
from conformance.client import BudgetExhausted
from conformance.config import ConformanceConfig, new_context
from conformance.context import ConformanceContext
from conformance.groups import contract
from conformance.outcomes import CheckFailed, CheckSkipped
from conformance.scope import CheckScope, activate
from tests.conformance.faults import AnswerRewriter
from tests.conformance.support import Deployment, serve_mock
from voxcontract.spec import load_spec

API_KEY = "key-a"
MAX_EXAMPLES = 20
SEED = 1
PHASES = ("examples", "coverage", "fuzzing", "stateful")
#: The mock as the brief for this group runs it: quick jobs, a quota Schemathesis never reaches, one tenant.
#: Schemathesis sends a wrong key after answers it probes (ignored_auth): no lock-out for failed authentications.
MOCK: dict[str, Any] = {
    "processing_time": 0.2,
    "rate_limit": "100000/minute",
    "auth_failure_limit": "",
    "api_keys": (API_KEY,),
}


@pytest.fixture(scope="module")
def mock() -> Iterator[Deployment]:
    with serve_mock(**MOCK) as deployment:
        yield deployment


@pytest.fixture
def scope() -> Iterator[CheckScope]:
    """The check scope the runner would activate: notes, exchanges and cancellation live there."""
    active = CheckScope("contract/test")
    activate(active)
    yield active
    activate(None)


def context(base_url: str, *, request_budget: int = 100_000) -> ConformanceContext:
    config = ConformanceConfig(
        url=base_url, api_key=API_KEY, max_examples=MAX_EXAMPLES, seed=SEED, request_budget=request_budget
    )
    return new_context(config)


def run_against(fault: type[Any], phase: str) -> CheckFailed:
    """Run one phase against the mock behind ``fault``; the failure it must raise."""
    with serve_mock(fault, **MOCK) as deployment:
        ctx = context(deployment.url)
        try:
            with pytest.raises(CheckFailed) as failed:
                contract.run_schemathesis(ctx, phase)
        finally:
            ctx.close()
    return failed.value


# --- faults ---------------------------------------------------------------------------------------------------


class ServerErrorOnMalformedTranscription(AnswerRewriter):
    """``POST /v1/transcribe`` crashes (500) on every body the contract makes it refuse (400)."""

    def rewrite(
        self, scope: Scope, status: int, headers: MutableHeaders, body: bytes
    ) -> tuple[int, MutableHeaders, bytes]:
        if status != 400 or (scope["method"], scope["path"]) != ("POST", "/v1/transcribe"):
            return status, headers, body
        return (
            500,
            headers,
            json.dumps({"type": "about:blank", "title": "Internal Server Error", "status": 500}).encode(),
        )


class JobListDataAsObject(AnswerRewriter):
    """``GET /v1/jobs`` answers ``data`` as an object instead of an array."""

    def rewrite(
        self, scope: Scope, status: int, headers: MutableHeaders, body: bytes
    ) -> tuple[int, MutableHeaders, bytes]:
        if status != 200 or (scope["method"], scope["path"]) != ("GET", "/v1/jobs"):
            return status, headers, body
        page = json.loads(body)
        return status, headers, json.dumps({**page, "data": {"jobs": page["data"]}}).encode()


class DeleteKeepsJob(AnswerRewriter):
    """``DELETE /v1/jobs/{id}`` answers 204 but keeps the job: its status and transcript stay readable.

    The DELETE is sent on as the job's status read, so that it answers as a DELETE would (401, 404, ...) with the
    mock's real headers.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = re.fullmatch(r"/v1/jobs/([^/]+)", str(scope.get("path", "")))
        if scope["type"] == "http" and scope["method"] == "DELETE" and match:
            path = f"/v1/status/{match.group(1)}"
            scope = {**scope, "method": "GET", "path": path, "raw_path": path.encode(), "deleting": True}
        await super().__call__(scope, receive, send)

    def rewrite(
        self, scope: Scope, status: int, headers: MutableHeaders, body: bytes
    ) -> tuple[int, MutableHeaders, bytes]:
        if not scope.get("deleting") or status != 200:
            return status, headers, body
        for name in ("content-type", "retry-after"):
            if name in headers:
                del headers[name]
        return 204, headers, b""


# --- the intact mock ------------------------------------------------------------------------------------------


def test_the_group_has_one_check_per_phase() -> None:
    assert [item.name for item in registered_checks("contract")] == list(PHASES)


@pytest.mark.parametrize("phase", PHASES)
def test_the_intact_mock_passes(mock: Deployment, scope: CheckScope, phase: str) -> None:
    from schemathesis.core.media_types import MEDIA_TYPE_STRATEGIES

    registered = dict(MEDIA_TYPE_STRATEGIES)
    httpx.post(f"{mock.url}/__mock/reset").raise_for_status()
    ctx = context(mock.url)
    try:
        getattr(contract, phase)(ctx)
    finally:
        ctx.close()
    # Every request Schemathesis sent was charged to the suite's budget (the mock's journal misses only the
    # engine's probe that uvicorn refuses), and the note says how many.
    assert len(mock.journal()) <= ctx.budget.used <= len(mock.journal()) + 2
    # Every answer joined the check's record, and passed the suite's shared inspections too.
    assert 0 < len(scope.exchanges) <= ctx.budget.used
    assert scope.findings == []
    assert scope.notes == [
        f"Schemathesis {phase} phase: {ctx.budget.used} requests (seed {SEED}, at most {MAX_EXAMPLES} examples "
        "per operation)"
    ]
    # The audio registered for the run is gone again: the process-wide registry is as it was.
    assert dict(MEDIA_TYPE_STRATEGIES) == registered


# --- broken mocks fail the right check ------------------------------------------------------------------------


def test_a_server_error_on_malformed_input_fails_fuzzing(scope: CheckScope) -> None:
    failed = run_against(ServerErrorOnMalformedTranscription, "fuzzing")
    assert "not_a_server_error on POST /v1/transcribe: Server error" in failed.message
    assert failed.reproduction is not None
    assert "curl -sS -i -X POST" in failed.reproduction
    assert "/v1/transcribe" in failed.reproduction
    # The key is named by its variable, in double quotes so that the shell expands it.
    assert '"Authorization: Bearer $VOXSCRIBER_API_KEY"' in failed.reproduction
    assert API_KEY not in failed.reproduction + failed.message


def test_a_response_that_violates_the_schema_fails_examples(scope: CheckScope) -> None:
    failed = run_against(JobListDataAsObject, "examples")
    assert "response_schema_conformance on GET /v1/jobs: Response violates schema" in failed.message
    assert failed.reproduction is not None
    assert "/v1/jobs" in failed.reproduction


def test_a_deleted_job_still_served_fails_stateful(scope: CheckScope) -> None:
    failed = run_against(DeleteKeepsJob, "stateful")
    assert "use_after_free on DELETE /v1/jobs/{job_id}: Deleted resource still available" in failed.message
    assert re.search(r"GET /v1/(status|transcripts)/job_\w+ answered 200 after DELETE /v1/jobs/job_\w+", failed.message)
    assert failed.reproduction is not None
    assert re.search(r"curl -sS -i -X DELETE .*/v1/jobs/job_\w+", failed.reproduction)


# --- budget, missing extra ------------------------------------------------------------------------------------


def test_the_request_budget_stops_the_run(mock: Deployment, scope: CheckScope) -> None:
    ctx = context(mock.url, request_budget=30)
    try:
        with pytest.raises(
            BudgetExhausted, match=r"budget of 30 requests ran out after \d+ requests, before the fuzzing"
        ):
            contract.fuzzing(ctx)
    finally:
        ctx.close()
    assert ctx.budget.exhausted


def test_a_spent_budget_sends_nothing(mock: Deployment, scope: CheckScope) -> None:
    ctx = context(mock.url, request_budget=1)
    ctx.budget.spend()
    try:
        with pytest.raises(BudgetExhausted, match="request budget of 1 requests is spent"):
            contract.examples(ctx)
    finally:
        ctx.close()
    assert scope.notes == []


@pytest.mark.parametrize("missing", ["schemathesis", "hypothesis"])
def test_without_the_extra_the_checks_are_skipped(
    monkeypatch: pytest.MonkeyPatch, mock: Deployment, scope: CheckScope, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if not installed
    for name in ("contract_support", "contract"):
        monkeypatch.delitem(sys.modules, f"conformance.groups.{name}", raising=False)
        monkeypatch.delattr(conformance.groups, name, raising=False)
    module = importlib.import_module("conformance.groups.contract")
    ctx = context(mock.url)
    try:
        with pytest.raises(
            CheckSkipped, match=r"schemathesis is not installed: pip install voxcontract\[conformance\]"
        ):
            module.stateful(ctx)
    finally:
        ctx.close()
    assert ctx.budget.used == 0


# --- helpers --------------------------------------------------------------------------------------------------


def test_audio_is_registered_for_every_file_media_type_of_the_contract() -> None:
    from conformance.groups.contract_support import file_media_types

    form = load_spec()["paths"]["/v1/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]
    listed = [item.strip() for item in form["encoding"]["file"]["contentType"].split(",")]
    assert file_media_types(load_spec()) == listed
    assert {"audio/wav", "audio/mpeg", "video/mp4", "application/octet-stream"} <= set(listed)


def test_reproductions_name_keys_by_variable() -> None:
    from conformance.groups.contract_support import Redactor

    redact = Redactor({"key-a": "VOXSCRIBER_API_KEY", "key-b": "VOXSCRIBER_SECOND_API_KEY"})
    curl = "curl -X GET -H 'Authorization: Bearer key-a' 'http://h/v1/jobs?q=key-b'"
    assert redact(curl) == (
        "curl -X GET -H \"Authorization: Bearer $VOXSCRIBER_API_KEY\" 'http://h/v1/jobs?q=$VOXSCRIBER_SECOND_API_KEY'"
    )
    # A deliberately wrong key (an auth probe) is shown as it was sent.
    assert redact("-H 'Authorization: Bearer wrong'") == "-H 'Authorization: Bearer wrong'"


# --- bounds the schemas cannot state ----------------------------------------------------------------------------


def test_generated_bodies_keep_the_metadata_key_bound() -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    from conformance.groups.contract_support import keep_unwritten_bounds
    from voxcontract.spec import spec_path

    schema = schemathesis.openapi.from_path(spec_path())
    keep_unwritten_bounds(schema)
    keys: list[str] = []

    @given(case=schema["/v1/transcribe"]["POST"].as_strategy())
    @settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None, database=None)
    def collect(case: Any) -> None:
        keys.extend((case.body or {}).get("metadata") or {})

    collect()
    assert keys, "no metadata was generated at all"
    assert all(1 <= len(key) <= 64 for key in keys), [key for key in keys if not 1 <= len(key) <= 64][:3]
