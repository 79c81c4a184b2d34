"""Authentication and tenant isolation.

Every secured operation of the contract is called with no key, malformed ``Authorization`` headers, another
scheme and an unknown key: each must be ``401`` with ``WWW-Authenticate: Bearer`` and an ``unauthorized``
problem. With a second key, one tenant must never see, list or delete the other's files and jobs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx

from conformance.checks import check
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed
from conformance.problems import expect_problem
from conformance.refusals import missing_second_key, refused_second_key
from conformance.samples import SampleRequest, sample_request
from conformance.workflow import cleanup, expect_status, find_listed_job, start_job, uploaded_file_id
from voxcontract.spec import iter_operations

GROUP = "auth"
_WRONG_SCHEME = "Basic dm94c2NyaWJlcjpjb25mb3JtYW5jZQ=="  # voxscriber:conformance


def _samples(ctx: ConformanceContext, *, secured: bool) -> list[SampleRequest]:
    document = ctx.document
    return [
        sample_request(document, operation)
        for operation in iter_operations(document)
        if bool(operation.security(document)) == secured
    ]


def _unauthorized_problems(ctx: ConformanceContext, *variants: tuple[str | None, str]) -> None:
    """Send every secured operation's sample with each (authorization, description); each must be a proper 401."""
    client = ctx.open_client(None)
    media = (ctx.audio_filename, ctx.audio, ctx.audio_content_type)
    failures: list[CheckFailed] = []
    for authorization, what in variants:
        for sample in _samples(ctx, secured=True):
            response = client.send(sample.build(client, authorization=authorization, media=media))
            try:
                _expect_unauthorized(response, f"{sample.label} {what}")
            except CheckFailed as failure:
                failures.append(failure)
    if failures:
        summary = "; ".join(failure.message for failure in failures)
        raise CheckFailed(f"{len(failures)} operation(s) wrong: {summary}", exchange=failures[0].exchange)


def _expect_unauthorized(response: httpx.Response, what: str) -> None:
    expect_problem(response, 401, "unauthorized", what=what)
    challenge = response.headers.get("www-authenticate", "")
    if not challenge.startswith("Bearer"):
        exchange = Exchange.from_httpx(response)
        shown = repr(challenge) if challenge else "missing"
        raise CheckFailed(f"{what}: WWW-Authenticate must start with 'Bearer', got {shown}", exchange=exchange)


@check(GROUP, "missing-key", description="Every secured operation without Authorization is 401 (Bearer, problem).")
def missing_key(ctx: ConformanceContext) -> None:
    _unauthorized_problems(ctx, (None, "without Authorization"))


@check(GROUP, "malformed-key", description='"Bearer" alone and "Bearer a b" are 401 on every secured operation.')
def malformed_key(ctx: ConformanceContext) -> None:
    _unauthorized_problems(
        ctx, ("Bearer", 'with "Authorization: Bearer"'), ("Bearer a b", 'with "Authorization: Bearer a b"')
    )


@check(GROUP, "wrong-scheme", description="A Basic Authorization header is 401 on every secured operation.")
def wrong_scheme(ctx: ConformanceContext) -> None:
    _unauthorized_problems(ctx, (_WRONG_SCHEME, "with Basic credentials"))


@check(GROUP, "invalid-key", description="An unknown bearer key is 401 on every secured operation.")
def invalid_key(ctx: ConformanceContext) -> None:
    token = "vox_conformance_" + hashlib.sha256(f"{ctx.seed}:invalid-key".encode()).hexdigest()[:24]
    _unauthorized_problems(ctx, (f"Bearer {token}", "with an unknown key"))


@check(GROUP, "public-operations", description="Operations documented without security answer without a key.")
def public_operations(ctx: ConformanceContext) -> None:
    client = ctx.open_client(None)
    media = (ctx.audio_filename, ctx.audio, ctx.audio_content_type)
    for sample in _samples(ctx, secured=False):
        response = client.send(sample.build(client, authorization=None, media=media))
        if not 200 <= response.status_code < 300:
            exchange = Exchange.from_httpx(response)
            raise CheckFailed(f"{sample.label} is public, but without a key: {exchange.summary()}", exchange=exchange)


# --- tenant isolation ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenantResources:
    """A file and a job of the first key."""

    file_id: str
    job_id: str


def _tenant_resources(ctx: ConformanceContext) -> TenantResources:
    def create() -> TenantResources:
        file_id = uploaded_file_id(ctx, GROUP)
        body = expect_status(start_job(ctx, file_id), 202, what="starting a job with the first key")
        job_id = str(body.get("job_id", ""))
        cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{job_id}")
        return TenantResources(file_id, job_id)

    return ctx.fixture("auth.tenant-a", create)


def _other_tenant(ctx: ConformanceContext) -> httpx.Client:
    """A client with the second key, once the deployment has shown it accepts that key."""
    second_key = ctx.second_api_key
    if not second_key:
        raise missing_second_key()

    def accepted() -> httpx.Client:
        client = ctx.open_client(second_key)
        refused_second_key(client.get("/v1/jobs", params={"limit": 1}))
        return client

    return ctx.fixture("auth.second-key", accepted)


def _expect_not_found(responses: list[httpx.Response], what: str) -> None:
    failures: list[CheckFailed] = []
    for response in responses:
        label = f"{response.request.method} {response.request.url.path} {what}"
        try:
            expect_problem(response, 404, "not_found", what=label)
        except CheckFailed as failure:
            failures.append(failure)
    if failures:
        raise CheckFailed("; ".join(failure.message for failure in failures), exchange=failures[0].exchange)


@check(GROUP, "tenant-isolation-read", description="Another key reads the first key's file, job and transcript: 404.")
def tenant_isolation_read(ctx: ConformanceContext) -> None:
    other = _other_tenant(ctx)
    mine = _tenant_resources(ctx)
    paths = [f"/v1/files/{mine.file_id}", f"/v1/status/{mine.job_id}", f"/v1/transcripts/{mine.job_id}"]
    _expect_not_found([other.get(path) for path in paths], "with another tenant's key")


@check(GROUP, "tenant-isolation-list", description="Another key's GET /v1/jobs pages never list the first's jobs.")
def tenant_isolation_list(ctx: ConformanceContext) -> None:
    other = _other_tenant(ctx)
    mine = _tenant_resources(ctx)
    found = find_listed_job(other, mine.job_id)
    if found is not None:
        raise CheckFailed(f"GET /v1/jobs with another tenant's key lists job {mine.job_id}", exchange=found)


@check(GROUP, "tenant-isolation-delete", description="Another key deletes the first key's file and job: 404, kept.")
def tenant_isolation_delete(ctx: ConformanceContext) -> None:
    other = _other_tenant(ctx)
    mine = _tenant_resources(ctx)
    deletes = [other.delete(f"/v1/files/{mine.file_id}"), other.delete(f"/v1/jobs/{mine.job_id}")]
    _expect_not_found(deletes, "with another tenant's key")
    for path in (f"/v1/files/{mine.file_id}", f"/v1/status/{mine.job_id}"):
        response = ctx.client.get(path)
        if response.status_code != 200:
            exchange = Exchange.from_httpx(response)
            raise CheckFailed(
                f"after another tenant's DELETE, the owner's {exchange.summary()} (expected 200)", exchange=exchange
            )
