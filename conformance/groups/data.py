"""What happens to data: idempotent job creation, deletion, delete-after-retrieval, and bad input refused.

Deleted things must be gone: ``404`` on every read, and no longer listed.
"""

from __future__ import annotations

import hashlib
import uuid

import httpx

from conformance.checks import CheckFailed, Exchange, check
from conformance.context import ConformanceContext
from conformance.problems import expect_problem
from conformance.workflow import (
    cleanup,
    expect_status,
    find_listed_job,
    poll_job,
    start_job,
    uploaded_file_id,
)

GROUP = "data"
_GONE_CODES = ("not_found",)
_JSON = {"Content-Type": "application/json"}


def _file_id(ctx: ConformanceContext) -> str:
    return ctx.fixture("data.file", lambda: uploaded_file_id(ctx, GROUP))


def _idempotency_key(ctx: ConformanceContext, purpose: str) -> str:
    return f"conformance-{purpose}-{ctx.seed}-{uuid.uuid4().hex}"


def _started_job_id(ctx: ConformanceContext, response: httpx.Response, what: str) -> str:
    body = expect_status(response, 202, what=what)
    job_id = str(body.get("job_id", ""))
    cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{job_id}")
    return job_id


@check(GROUP, "idempotency-replay", description="The same Idempotency-Key and body give back the same job.")
def idempotency_replay(ctx: ConformanceContext) -> None:
    headers = {"Idempotency-Key": _idempotency_key(ctx, "replay")}
    metadata = {"suite": "voxcontract-conformance"}
    first = _started_job_id(ctx, start_job(ctx, _file_id(ctx), headers=headers, metadata=metadata), "the first request")
    again = start_job(ctx, _file_id(ctx), headers=headers, metadata=metadata)
    second = _started_job_id(ctx, again, "the same request again with the same Idempotency-Key")
    if second != first:
        raise CheckFailed(
            f"the same Idempotency-Key and body started a second job ({second}, first {first})",
            exchange=Exchange.from_httpx(again),
        )


@check(GROUP, "idempotency-conflict", description="The same Idempotency-Key with another body is a 409 problem.")
def idempotency_conflict(ctx: ConformanceContext) -> None:
    headers = {"Idempotency-Key": _idempotency_key(ctx, "conflict")}
    _started_job_id(ctx, start_job(ctx, _file_id(ctx), headers=headers), "the first request")
    other = start_job(ctx, _file_id(ctx), headers=headers, language="en", metadata={"changed": "yes"})
    if other.status_code == 202:
        cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{other.json().get('job_id')}")
    expect_problem(other, (409, 422), what="the same Idempotency-Key with another body")
    if other.status_code == 409:
        expect_problem(other, 409, "idempotency_key_reused", what="the same Idempotency-Key with another body")


def _expect_gone(responses: list[httpx.Response], what: str) -> None:
    for response in responses:
        expect_problem(response, 404, _GONE_CODES, what=f"{response.request.method} {response.request.url.path} {what}")


@check(GROUP, "delete-job", description="DELETE /v1/jobs/{id} is 204; then 404 on read, and not listed.")
def delete_job(ctx: ConformanceContext) -> None:
    job_id = _started_job_id(ctx, start_job(ctx, _file_id(ctx)), "starting a job to delete")
    deleted = ctx.client.delete(f"/v1/jobs/{job_id}")
    expect_status(deleted, 204, what=f"deleting job {job_id}")
    reads = [ctx.client.get(f"/v1/status/{job_id}"), ctx.client.get(f"/v1/transcripts/{job_id}")]
    _expect_gone([*reads, ctx.client.delete(f"/v1/jobs/{job_id}")], "after the job was deleted")
    listed = find_listed_job(ctx.client, job_id)
    if listed is not None:
        raise CheckFailed(f"GET /v1/jobs still lists the deleted job {job_id}", exchange=listed)


@check(GROUP, "delete-file", description="DELETE /v1/files/{id} is 204; then 404 on read and for new jobs.")
def delete_file(ctx: ConformanceContext) -> None:
    file_id = uploaded_file_id(ctx, GROUP)
    expect_status(ctx.client.delete(f"/v1/files/{file_id}"), 204, what=f"deleting file {file_id}")
    after = [ctx.client.get(f"/v1/files/{file_id}"), start_job(ctx, file_id), ctx.client.delete(f"/v1/files/{file_id}")]
    _expect_gone(after, "after the file was deleted")


@check(GROUP, "delete-after-retrieval", description="With delete_after_retrieval, a download deletes job and file.")
def delete_after_retrieval(ctx: ConformanceContext) -> None:
    file_id = uploaded_file_id(ctx, GROUP)
    response = start_job(ctx, file_id, retention={"delete_after_retrieval": True})
    job_id = _started_job_id(ctx, response, "starting a job with delete_after_retrieval")
    final = poll_job(ctx, job_id).final
    if final.get("status") != "completed":
        raise CheckFailed(f"the job with delete_after_retrieval ended {final.get('status')}: {final.get('error')}")
    expect_status(ctx.client.get(f"/v1/transcripts/{job_id}"), 200, what="downloading the transcript")
    reads = [
        ctx.client.get(f"/v1/status/{job_id}"),
        ctx.client.get(f"/v1/transcripts/{job_id}"),
        ctx.client.get(f"/v1/files/{file_id}"),
    ]
    _expect_gone(reads, "after the transcript of a delete_after_retrieval job was downloaded")


@check(GROUP, "bad-input", description="Malformed requests are 4xx problems, never 5xx.")
def bad_input(ctx: ConformanceContext) -> None:
    client = ctx.client
    unknown_job = "job_" + hashlib.sha256(f"{ctx.seed}:unknown".encode()).hexdigest()[:16]
    cases = [
        ("broken JSON", client.post("/v1/transcribe", content=b'{"file_id": ', headers=_JSON)),
        (
            "a text/plain body",
            client.post("/v1/transcribe", content=b"file_id", headers={"Content-Type": "text/plain"}),
        ),
        ("JSON that is not UTF-8", client.post("/v1/transcribe", content=b'{"file_id": "\xff"}', headers=_JSON)),
        ("an id against its pattern", client.get("/v1/status/not-a-job-id")),
        ("an unknown job", client.get(f"/v1/status/{unknown_job}")),
        ("limit=0", client.get("/v1/jobs", params={"limit": 0})),
        ("format=docx", client.get(f"/v1/transcripts/{unknown_job}", params={"format": "docx"})),
        ("an upload without a file part", client.post("/v1/upload", files={"other": ("a.txt", b"x", "text/plain")})),
    ]
    for what, response in cases:
        if not 400 <= response.status_code < 500 or response.status_code in (401, 429):
            exchange = Exchange.from_httpx(response)
            raise CheckFailed(f"{what}: expected a 4xx problem, got {exchange.summary()}", exchange=exchange)
