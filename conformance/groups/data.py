"""What happens to data: idempotent job creation, deletion, delete-after-retrieval, bad input refused, the
defaults, metadata, cancelling, the running-jobs limit and the job listing.

Deleted things must be gone: ``404`` on every read, and no longer listed. Where a check needs a job still queued or
processing and the deployment was faster than the suite, it is "unverified", not passed.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.checks import check
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.job_lists import list_jobs, order_problem, parameter_default, schema_defaults
from conformance.outcomes import CheckFailed, CheckUnverified
from conformance.problems import expect_problem
from conformance.quota import QuotaError, read_quota
from conformance.receiver import Delivery, WebhookReceiver
from conformance.scope import current_scope
from conformance.workflow import (
    TERMINAL,
    cleanup,
    expect_status,
    find_listed_job,
    json_body,
    poll_job,
    start_job,
    uploaded_file_id,
)

GROUP = "data"
_GONE_CODES = ("not_found",)
_JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class KeyedJob:
    """A completed job started with only its file_id and an Idempotency-Key: its 202 and its final status."""

    job_id: str
    file_id: str
    key: str
    accepted: dict[str, Any]
    final: dict[str, Any]


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


# --- what the contract promises beyond a single answer ----------------------------------------------------------


def _completed_keyed_job(ctx: ConformanceContext) -> KeyedJob:
    """A job started with only its (own) file_id and an Idempotency-Key, polled to completion."""

    def create() -> KeyedJob:
        file_id = uploaded_file_id(ctx, GROUP)
        key = _idempotency_key(ctx, "first")
        response = start_job(ctx, file_id, headers={"Idempotency-Key": key})
        job_id = _started_job_id(ctx, response, "starting a job with only file_id")
        final = poll_job(ctx, job_id).final
        if final.get("status") != "completed":
            raise CheckFailed(f"the job with only file_id ended {final.get('status')}: {final.get('error')}")
        return KeyedJob(job_id, file_id, key, json_body(response, what="the 202"), final)

    return ctx.fixture("data.keyed-job", create)


@check(GROUP, "defaults", description="Left-out options are the contract's defaults (job options, format=json).")
def defaults(ctx: ConformanceContext) -> None:
    job = _completed_keyed_job(ctx)
    expected = schema_defaults(ctx.document, {"$ref": "#/components/schemas/TranscriptionRequest"})
    for seen, answer in ((job.accepted, "the 202"), (job.final, "GET /v1/status")):
        wrong = _differences(expected, seen.get("options") or {})
        if wrong:
            raise CheckFailed(f"a job started with only file_id: {answer} shows {'; '.join(wrong)}")
    default_format = parameter_default(ctx.document, "TranscriptFormat")
    plain = ctx.client.get(f"/v1/transcripts/{job.job_id}")
    named = ctx.client.get(f"/v1/transcripts/{job.job_id}", params={"format": default_format})
    expect_status(named, 200, what=f"downloading the transcript with format={default_format}")
    if plain.status_code != 200 or _media_type(plain) != _media_type(named) or plain.content != named.content:
        raise CheckFailed(
            f"GET /v1/transcripts without format is not the format={default_format} download "
            f"({_media_type(plain)}, {len(plain.content)} bytes; {_media_type(named)}, {len(named.content)} bytes)",
            exchange=Exchange.from_httpx(plain),
        )


def _differences(expected: dict[str, Any], seen: dict[str, Any], prefix: str = "") -> list[str]:
    wrong: list[str] = []
    for name, value in expected.items():
        actual = seen.get(name) if isinstance(seen, dict) else None
        if isinstance(value, dict):
            wrong += _differences(value, actual if isinstance(actual, dict) else {}, f"{prefix}{name}.")
        elif actual != value:
            wrong.append(f"options.{prefix}{name} {actual!r}, the default is {value!r}")
    return wrong


def _media_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).partition(";")[0].strip().lower()


@check(
    GROUP,
    "idempotency-first",
    description="A used Idempotency-Key is answered first: replay after the file "
    "was deleted gives the job back; another, invalid body is 409.",
)
def idempotency_first(ctx: ConformanceContext) -> None:
    job = _completed_keyed_job(ctx)
    headers = {"Idempotency-Key": job.key}
    other = start_job(ctx, _unknown_id("file", ctx), headers=headers, language="zz")
    expect_problem(other, 409, "idempotency_key_reused", what="another body (an unknown file) with a used key")
    expect_status(ctx.client.delete(f"/v1/files/{job.file_id}"), 204, what=f"deleting file {job.file_id}")
    replay = start_job(ctx, job.file_id, headers=headers)
    again = expect_status(replay, 202, what="the same body and Idempotency-Key after the file was deleted")
    if again.get("job_id") != job.job_id:
        raise CheckFailed(
            f"the replay after the file was deleted answered job {again.get('job_id')}, not {job.job_id}",
            exchange=Exchange.from_httpx(replay),
        )


def _unknown_id(prefix: str, ctx: ConformanceContext) -> str:
    return f"{prefix}_" + hashlib.sha256(f"{ctx.seed}:unknown-{prefix}".encode()).hexdigest()[:16]


@check(GROUP, "metadata", description="The metadata sent with a job is echoed on the job (202 and status).")
def metadata(ctx: ConformanceContext) -> None:
    sent = {"suite": "voxcontract-conformance", "check": "data/metadata", "empty": ""}
    response = start_job(ctx, _file_id(ctx), metadata=sent)
    job_id = _started_job_id(ctx, response, "starting a job with metadata")
    status = ctx.client.get(f"/v1/status/{job_id}")
    for answer in (response, status):
        echoed = json_body(answer, what="the job").get("metadata")
        if echoed != sent:
            raise CheckFailed(f"the job's metadata is {echoed!r}, sent {sent!r}", exchange=Exchange.from_httpx(answer))


@check(
    GROUP,
    "cancel-job",
    description="Deleting a queued or processing job cancels it (no webhook, its file "
    "deletable at once) and keeps the file.",
)
def cancel_job(ctx: ConformanceContext) -> None:
    file_id = uploaded_file_id(ctx, GROUP)
    receiver = ctx.webhook_receiver
    hook: dict[str, Any] = {"webhook_url": receiver.public_url} if receiver else {}
    response = start_job(ctx, file_id, **hook)
    if receiver is not None and response.status_code == 400:
        ctx.note("the webhook_url was refused: whether a webhook follows the cancelled job is not verified")
        receiver, response = None, start_job(ctx, file_id)
    job_id = _started_job_id(ctx, response, "starting a job to cancel")
    before = json_body(ctx.client.get(f"/v1/status/{job_id}"), what=f"job {job_id}").get("status")
    expect_status(ctx.client.delete(f"/v1/jobs/{job_id}"), 204, what=f"deleting job {job_id} while {before}")
    if before in TERMINAL:
        raise CheckUnverified(f"job {job_id} had already ended ({before}) when it was deleted", remedy=_SLOWER)
    expect_status(ctx.client.get(f"/v1/files/{file_id}"), 200, what="reading the file of the deleted job")
    expect_status(ctx.client.delete(f"/v1/files/{file_id}"), 204, what="deleting the file right after its job")
    if receiver is not None:
        _expect_no_webhook(ctx, receiver, job_id)


_SLOWER = "a deployment whose jobs on the suite's audio stay queued or processing for a moment (longer --audio)"


def _expect_no_webhook(ctx: ConformanceContext, receiver: WebhookReceiver, job_id: str) -> None:
    """No event for the cancelled job by the time a job started after it has been announced (and a second more)."""
    witness_file = uploaded_file_id(ctx, GROUP)
    witness = _started_job_id(ctx, start_job(ctx, witness_file, webhook_url=receiver.public_url), "a witness job")
    deadline = ctx.job_deadline + ctx.webhook_deadline
    receiver.wait_for(lambda seen: _announces(seen, witness), deadline)
    current_scope().sleep(_AFTER_WITNESS)
    cancelled = [item for item in receiver.deliveries() if _announces([item], job_id)]
    if cancelled:
        raise CheckFailed(
            f"job {job_id} was deleted while queued or processing, yet an event for it arrived "
            f"(webhook-id {cancelled[0].webhook_id})"
        )


_AFTER_WITNESS = 0.5


def _announces(deliveries: list[Delivery], job_id: str) -> bool:
    return any(item.job_id == job_id for item in deliveries)


@check(
    GROUP,
    "running-limit",
    description="More jobs than max_running_jobs_per_key at once: all 202, at most that many processing together.",
)
def running_limit(ctx: ConformanceContext) -> None:
    limit = ctx.contract_limit("max_running_jobs_per_key")
    _wait_for_quota(ctx, limit + 2)
    job_ids = [
        _started_job_id(ctx, start_job(ctx, _file_id(ctx)), f"starting job {n + 1} of {limit + 1} at once")
        for n in range(limit + 1)
    ]
    watch = RunningWatch(set(job_ids), limit)
    deadline = time.monotonic() + ctx.job_deadline
    # Until a listing shows more jobs unfinished than the limit with some processing (a server running them all
    # at once shows it then), or all have ended.
    while not watch.settled and time.monotonic() < deadline:
        listing = list_jobs(ctx.client, {"limit": 100}, max_pages=3)
        violation = watch.observe(listing.jobs)
        if violation:
            raise CheckFailed(violation, exchange=listing.exchange())
        current_scope().sleep(_WATCH_INTERVAL)
    for job_id in job_ids:
        ctx.client.delete(f"/v1/jobs/{job_id}")
    if not watch.decisive:
        raise CheckUnverified(
            f"no listing showed more than {limit} of the {limit + 1} jobs unfinished at once", remedy=_SLOWER
        )


_WATCH_INTERVAL = 0.2


def _wait_for_quota(ctx: ConformanceContext, requests: int) -> None:
    """Wait for the key's rate-limit window to reset when fewer than ``requests`` are left in it, so that the jobs
    start at once instead of one per Retry-After (when the window resets within --max-wait)."""
    try:
        quota = read_quota(Exchange.from_httpx(ctx.client.get("/v1/jobs", params={"limit": 1})))
    except QuotaError:
        return
    if quota.r < requests and quota.t <= ctx.max_wait:
        current_scope().sleep(quota.t + _AFTER_RESET)


_AFTER_RESET = 0.1


@dataclass
class RunningWatch:
    """Snapshots of the suite's jobs in listings: how many processed together, and whether one could tell."""

    job_ids: set[str]
    limit: int
    decisive: bool = False
    all_ended: bool = False
    running_seen: bool = False

    @property
    def settled(self) -> bool:
        return self.all_ended or (self.decisive and self.running_seen)

    def observe(self, jobs: list[dict[str, Any]]) -> str | None:
        mine = {str(job.get("job_id")): job.get("status") for job in jobs if job.get("job_id") in self.job_ids}
        processing = sorted(job_id for job_id, status in mine.items() if status == "processing")
        unfinished = [job_id for job_id, status in mine.items() if status not in TERMINAL]
        if len(unfinished) > self.limit:
            self.decisive = True
            self.running_seen = self.running_seen or bool(processing)
        self.all_ended = len(mine) == len(self.job_ids) and not unfinished
        if len(processing) > self.limit:
            return (
                f"{len(processing)} jobs of one key are processing at once ({', '.join(processing)}); "
                f"x-voxscriber-limits.max_running_jobs_per_key is {self.limit}"
            )
        return None


@check(
    GROUP,
    "retrieval-keeps-shared-file",
    description="With delete_after_retrieval, a file another queued or processing job needs is kept for that job.",
)
def retrieval_keeps_shared_file(ctx: ConformanceContext) -> None:
    file_id = uploaded_file_id(ctx, GROUP)
    retrieved = start_job(ctx, file_id, retention={"delete_after_retrieval": True})
    first = _started_job_id(ctx, retrieved, "starting a job with delete_after_retrieval")
    if poll_job(ctx, first).final.get("status") != "completed":
        raise CheckFailed(f"the job {first} with delete_after_retrieval did not complete")
    other = _started_job_id(ctx, start_job(ctx, file_id), "starting a second job on the same file")
    expect_status(ctx.client.get(f"/v1/transcripts/{first}"), 200, what="downloading the first transcript")
    kept = ctx.client.get(f"/v1/files/{file_id}")
    status = json_body(ctx.client.get(f"/v1/status/{other}"), what=f"job {other}").get("status")
    if kept.status_code != 200 and status not in TERMINAL:
        raise CheckFailed(
            f"the file of job {first} was deleted after its download although job {other} ({status}) still needs it",
            exchange=Exchange.from_httpx(kept),
        )
    if status in TERMINAL:
        raise CheckUnverified(
            f"the second job had already ended ({status}) when the first was downloaded", remedy=_SLOWER
        )
    final = poll_job(ctx, other).final
    if final.get("status") != "completed":
        raise CheckFailed(
            f"job {other} ended {final.get('status')} after the other job's download: {final.get('error')}"
        )


# --- listing -------------------------------------------------------------------------------------------------------


def _listed_jobs(ctx: ConformanceContext) -> list[str]:
    """More jobs than a default page, started one after the other (ids oldest first)."""

    def create() -> list[str]:
        count = int(parameter_default(ctx.document, "Limit")) + 1
        file_id = uploaded_file_id(ctx, GROUP)  # its own: what other checks do to the shared file cannot reach it
        return [_started_job_id(ctx, start_job(ctx, file_id), f"starting job {n + 1} of {count}") for n in range(count)]

    return ctx.fixture("data.listed-jobs", create)


@check(
    GROUP,
    "list-pages",
    description="GET /v1/jobs: newest first across pages, next_cursor null exactly when "
    "has_more is false, every job once, a default page of the documented size.",
)
def list_pages(ctx: ConformanceContext) -> None:
    started = _listed_jobs(ctx)
    paged = list_jobs(ctx.client, {"limit": _PAGE})
    repeated = sorted({job_id for job_id in paged.ids if paged.ids.count(job_id) > 1})
    if repeated:
        raise CheckFailed(
            f"following next_cursor listed {', '.join(repeated)} more than once", exchange=paged.exchange()
        )
    missing = [job_id for job_id in started if job_id not in paged.ids]
    if missing:
        raise CheckFailed(f"following next_cursor never reached {', '.join(missing)}", exchange=paged.exchange())
    problem = order_problem(paged.jobs, started)
    if problem:
        raise CheckFailed(f"GET /v1/jobs is not newest first: {problem}", exchange=paged.exchange())
    _expect_default_page(ctx, paged.ids)


_PAGE = 5


def _expect_default_page(ctx: ConformanceContext, every_id: list[str]) -> None:
    size = int(parameter_default(ctx.document, "Limit"))
    response = ctx.client.get("/v1/jobs")
    listed = [str(job.get("job_id")) for job in expect_status(response, 200, what="listing jobs").get("data") or []]
    if listed != every_id[:size]:
        raise CheckFailed(
            f"GET /v1/jobs without limit listed {len(listed)} jobs, not the newest {size} (the default limit)",
            exchange=Exchange.from_httpx(response),
        )


@check(GROUP, "list-status-filter", description="GET /v1/jobs?status=... lists only jobs in that status.")
def list_status_filter(ctx: ConformanceContext) -> None:
    _listed_jobs(ctx)
    for status in ("queued", "processing", "completed"):
        listing = list_jobs(ctx.client, {"limit": 100, "status": status}, max_pages=3)
        others = [f"{job.get('job_id')} ({job.get('status')})" for job in listing.jobs if job.get("status") != status]
        if others:
            raise CheckFailed(
                f"GET /v1/jobs?status={status} lists {', '.join(others[:3])}", exchange=listing.exchange()
            )
