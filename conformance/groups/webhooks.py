"""Signed webhooks: a job with a ``webhook_url`` on the suite's receiver must be announced, signed, and retried.

The receiver answers ``500`` to the first attempt of each event on purpose; the retry must carry the same
``webhook-id``. Signatures are verified per Standard Webhooks with the key's secret (``GET /v1/webhooks/secret``,
or ``--webhook-secret``), timestamps within 5 minutes.

Two more jobs, started with the first, announce themselves to stalling paths of the receiver: one answered ``200``
within the contract's ``webhook_timeout_seconds`` (it must count as acknowledged), one only past it (the deployment
must give up on that attempt and retry). Their waits overlap the other checks, which is why they start so early.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conformance.checks import check
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed, CheckSkipped, CheckUnverified
from conformance.receiver import Delivery, WebhookReceiver
from conformance.refusals import refused_webhook_url
from conformance.validation import schema_errors
from conformance.workflow import cleanup, expect_status, json_body, start_job, uploaded_file_id
from voxcontract.errors import ConfigError
from voxcontract.webhooks import WebhookSigner, WebhookVerificationError

GROUP = "webhooks"
_EVENT_TYPES = {"completed": "transcription.completed", "failed": "transcription.failed"}
_WEBHOOK_ID = re.compile(r"evt_[A-Za-z0-9]{8,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*")
_METADATA = {"suite": "conformance", "check": "webhooks"}
#: After the acknowledged attempt, how long to watch for another (this many times the first retry's delay).
_QUIET_FACTOR = 3.0
_MIN_QUIET = 1.0
#: The contract's promise when its x-voxscriber-limits does not state webhook_timeout_seconds.
_DEFAULT_WEBHOOK_TIMEOUT = 10
#: The slow receiver answers after this share of webhook_timeout_seconds: clearly within it, clearly slow.
_SLOW_SHARE = 0.6
#: The late receiver answers this many seconds past webhook_timeout_seconds.
_PAST_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class HookedJob:
    """The job started with the receiver's URL, and the exchange that started it (the reproduction)."""

    job_id: str
    started: Exchange


def _receiver(ctx: ConformanceContext) -> WebhookReceiver:
    if ctx.webhook_receiver is None:
        raise CheckSkipped("no webhook receiver is running (see --webhook-listen)")
    return ctx.webhook_receiver


def _secret(ctx: ConformanceContext) -> WebhookSigner:
    def fetch() -> WebhookSigner:
        secret = ctx.webhook_secret
        if secret is None:
            response = ctx.client.get("/v1/webhooks/secret")
            body = expect_status(response, 200, what="reading the webhook secret")
            errors = schema_errors(ctx.document, "WebhookSecret", body)
            if errors:
                exchange = Exchange.from_httpx(response)
                raise CheckFailed(f"the secret is not a valid WebhookSecret: {'; '.join(errors)}", exchange=exchange)
            secret = str(body["secret"])
        try:
            return WebhookSigner(secret)
        except ConfigError as error:
            raise CheckFailed(f"the webhook secret is unusable: {error}") from None

    return ctx.fixture("webhooks.secret", fetch)


def _hooked_job(ctx: ConformanceContext) -> HookedJob:
    def create() -> HookedJob:
        job = _start_hooked_job(ctx, _receiver(ctx).public_url, metadata=_METADATA)
        _start_stalled_jobs(ctx)
        return job

    return ctx.fixture("webhooks.job", create)


def _start_hooked_job(ctx: ConformanceContext, url: str, **options: Any) -> HookedJob:
    file_id = uploaded_file_id(ctx, GROUP)
    response = start_job(ctx, file_id, webhook_url=url, **options)
    refused_webhook_url(response, url)
    body = expect_status(response, 202, what="starting a job with a webhook_url")
    cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{body['job_id']}")
    return HookedJob(str(body["job_id"]), Exchange.from_httpx(response))


@dataclass(frozen=True, slots=True)
class StalledJob:
    """A job announced to a stalling path of the receiver: its first attempt is answered ``stall`` seconds late."""

    job: HookedJob
    stall: float


@dataclass(frozen=True, slots=True)
class StalledJobs:
    """The job answered slowly but within the contract's limit, and the one answered only past it."""

    slow: StalledJob
    late: StalledJob
    limit: float


def _webhook_timeout(ctx: ConformanceContext) -> float:
    return float(ctx.contract_limit("webhook_timeout_seconds", _DEFAULT_WEBHOOK_TIMEOUT))


def _start_stalled_jobs(ctx: ConformanceContext) -> None:
    """Start the stalled jobs now; a failure to do so is kept for the checks that need them, which report it."""
    with contextlib.suppress(CheckFailed, CheckSkipped, CheckUnverified):
        _stalled_jobs(ctx)


def _stalled_jobs(ctx: ConformanceContext) -> StalledJobs:
    def create() -> StalledJobs | CheckFailed:
        receiver = _receiver(ctx)
        limit = _webhook_timeout(ctx)
        try:
            started = [
                StalledJob(_start_hooked_job(ctx, receiver.stalling_url(stall)), stall)
                for stall in (_SLOW_SHARE * limit, limit + _PAST_TIMEOUT)
            ]
        except CheckFailed as failure:
            return failure  # the stalled checks own it; the first webhook check only started the jobs
        return StalledJobs(started[0], started[1], limit)

    outcome = ctx.fixture("webhooks.stalled", create)
    if isinstance(outcome, CheckFailed):
        raise CheckFailed(outcome.message, exchange=outcome.exchange)
    return outcome


def _payload(delivery: Delivery) -> Any:
    try:
        return json.loads(delivery.body)
    except ValueError:
        return None


def _job_deliveries(deliveries: list[Delivery], job_id: str) -> list[Delivery]:
    return [delivery for delivery in deliveries if delivery.job_id == job_id]


def _wait(ctx: ConformanceContext, count: int) -> tuple[HookedJob, list[Delivery]]:
    """The job and its deliveries once ``count`` have arrived (or the deadline passed)."""
    job = _hooked_job(ctx)
    return job, _wait_for_job(ctx, job, count, ctx.job_deadline + ctx.webhook_deadline)


def _wait_for_job(ctx: ConformanceContext, job: HookedJob, count: int, timeout: float) -> list[Delivery]:
    """The job's deliveries once ``count`` have arrived (or ``timeout`` seconds passed)."""
    found = _receiver(ctx).wait_for(lambda seen: len(_job_deliveries(seen, job.job_id)) >= count, timeout)
    return _job_deliveries(found, job.job_id)


def _first_delivery(ctx: ConformanceContext) -> tuple[HookedJob, list[Delivery]]:
    job, deliveries = _wait(ctx, 1)
    if not deliveries:
        raise CheckFailed(
            f"no webhook for job {job.job_id} reached {_receiver(ctx).public_url} within "
            f"{ctx.job_deadline + ctx.webhook_deadline:g} s",
            exchange=job.started,
        )
    return job, deliveries


@check(GROUP, "secret", description="GET /v1/webhooks/secret is a valid whsec_ secret (or --webhook-secret is).")
def secret(ctx: ConformanceContext) -> None:
    _secret(ctx)


@check(GROUP, "delivery", description="A job with webhook_url is announced to it, with the contract's headers.")
def delivery(ctx: ConformanceContext) -> None:
    job, deliveries = _first_delivery(ctx)
    for item in deliveries:
        problems = _header_problems(item)
        if problems:
            raise CheckFailed(f"delivery attempt {item.attempt}: {'; '.join(problems)}", exchange=job.started)


def _header_problems(item: Delivery) -> list[str]:
    problems: list[str] = []
    for name, pattern in (
        ("webhook-id", _WEBHOOK_ID),
        ("webhook-timestamp", _TIMESTAMP),
        ("webhook-signature", _SIGNATURE),
    ):
        value = item.headers.get(name)
        if value is None or not pattern.fullmatch(value):
            problems.append(f"{name} {value!r} does not match {pattern.pattern}")
    if not item.headers.get("content-type", "").startswith("application/json"):
        problems.append(f"Content-Type {item.headers.get('content-type')!r} is not application/json")
    return problems


@check(GROUP, "signature", description="Every delivery carries a valid Standard Webhooks signature, fresh timestamp.")
def signature(ctx: ConformanceContext) -> None:
    signer = _secret(ctx)
    job, deliveries = _first_delivery(ctx)
    for item in deliveries:
        try:
            signer.verify(item.body, item.headers, now=_arrival(item))
        except WebhookVerificationError as error:
            raise CheckFailed(
                f"delivery attempt {item.attempt} (webhook-id {item.webhook_id}) does not verify: {error}",
                exchange=job.started,
            ) from None


def _arrival(item: Delivery) -> datetime:
    return datetime.fromtimestamp(item.received_at, tz=UTC)


@check(GROUP, "payload", description="The payload is a valid WebhookEvent of the job, its type matching its status.")
def payload(ctx: ConformanceContext) -> None:
    job, deliveries = _first_delivery(ctx)
    for item in deliveries:
        event = _payload(item)
        errors = schema_errors(ctx.document, "WebhookEvent", event)
        if errors:
            raise CheckFailed(f"the event is not a valid WebhookEvent: {'; '.join(errors)}", exchange=job.started)
        status = event["data"].get("status")
        if event["type"] != _EVENT_TYPES.get(status):
            raise CheckFailed(f"a {event['type']} event announces a job that is {status}", exchange=job.started)
    current = json_body(ctx.client.get(f"/v1/status/{job.job_id}"), what="the announced job")
    announced = _payload(deliveries[0])["data"].get("status")
    if current.get("status") != announced:
        raise CheckFailed(
            f"the event says {announced}, GET /v1/status says {current.get('status')}", exchange=job.started
        )


@check(GROUP, "retry-same-id", description="After the receiver's 500, the event is retried with the same webhook-id.")
def retry_same_id(ctx: ConformanceContext) -> None:
    start = time.monotonic()
    job, deliveries = _wait(ctx, 2)
    if len(deliveries) < 2:
        waited = time.monotonic() - start
        raise CheckFailed(
            f"the receiver answered 500 to the first delivery, and no retry came within {waited:.0f} s",
            exchange=job.started,
        )
    first, retry = deliveries[0], deliveries[1]
    if retry.webhook_id != first.webhook_id:
        raise CheckFailed(
            f"the retry after the 500 carries webhook-id {retry.webhook_id!r}, the first attempt {first.webhook_id!r}",
            exchange=job.started,
        )


@check(GROUP, "metadata", description="The event carries the metadata the job was started with.")
def metadata(ctx: ConformanceContext) -> None:
    job, deliveries = _first_delivery(ctx)
    for item in deliveries:
        data = (_payload(item) or {}).get("data") or {}
        if data.get("metadata") != _METADATA:
            raise CheckFailed(
                f"delivery attempt {item.attempt} carries metadata {data.get('metadata')!r}, the job was started "
                f"with {_METADATA!r}",
                exchange=job.started,
            )


@check(GROUP, "acknowledged", description="After the receiver's 2xx, no further attempt of the event arrives.")
def acknowledged(ctx: ConformanceContext) -> None:
    job, deliveries = _wait(ctx, 2)
    if len(deliveries) < 2:
        raise CheckSkipped("the event was not retried after the receiver's 500 (see webhooks/retry-same-id)")
    first, acked = deliveries[0], deliveries[1]
    quiet = min(max(_MIN_QUIET, _QUIET_FACTOR * (acked.received_at - first.received_at)), ctx.webhook_deadline)
    receiver = _receiver(ctx)
    later = receiver.wait_for(lambda seen: len(_job_deliveries(seen, job.job_id)) > 2, quiet - _since(acked))
    extra = _job_deliveries(later, job.job_id)[2:]
    if extra:
        raise CheckFailed(
            f"the receiver answered {acked.answered} to attempt {acked.attempt} of event {acked.webhook_id}, "
            f"yet attempt {extra[0].attempt} arrived {extra[0].received_at - acked.received_at:.1f} s later",
            exchange=job.started,
        )


def _since(item: Delivery) -> float:
    return max(0.0, time.time() - item.received_at)


def _first_stalled_attempt(ctx: ConformanceContext, stalled: StalledJob) -> Delivery:
    deliveries = _wait_for_job(ctx, stalled.job, 1, ctx.job_deadline + ctx.webhook_deadline)
    if not deliveries:
        raise CheckFailed(
            f"no webhook for job {stalled.job.job_id} reached {_receiver(ctx).stalling_url(stalled.stall)} within "
            f"{ctx.job_deadline + ctx.webhook_deadline:g} s",
            exchange=stalled.job.started,
        )
    return deliveries[0]


def _retry_delay(ctx: ConformanceContext) -> float:
    """How long the deployment waited before retrying the hooked job's event after the receiver's 500."""
    _, deliveries = _wait(ctx, 2)
    if len(deliveries) < 2:
        raise CheckSkipped("the event was not retried after the receiver's 500 (see webhooks/retry-same-id)")
    return deliveries[1].received_at - deliveries[0].received_at


@check(
    GROUP,
    "slow-acknowledgement",
    description="A 2xx answered slowly but within webhook_timeout_seconds acknowledges the event: no retry follows.",
)
def slow_acknowledgement(ctx: ConformanceContext) -> None:
    stalled = _stalled_jobs(ctx)
    slow = stalled.slow
    first = _first_stalled_attempt(ctx, slow)
    # A deployment that gave up before the answer would retry one retry delay after giving up, so at the latest
    # that long after the answer: watch until then, with the margin the acknowledged check allows.
    quiet = min(max(_MIN_QUIET, _QUIET_FACTOR * _retry_delay(ctx)), ctx.webhook_deadline)
    until = first.received_at + slow.stall + quiet
    later = _wait_for_job(ctx, slow.job, 2, max(0.0, until - time.time()))
    if len(later) > 1:
        gap = later[1].received_at - first.received_at
        why = "the deployment gave up too early" if gap < slow.stall else "the 200 did not end the retries"
        raise CheckFailed(
            f"the receiver answered 200 to event {first.webhook_id} {slow.stall:g} s after it arrived (within the "
            f"contract's webhook_timeout_seconds, {stalled.limit:g} s), yet attempt {later[1].attempt} arrived "
            f"{gap:.1f} s after the first: {why}",
            exchange=slow.job.started,
        )


@check(
    GROUP,
    "timeout-retried",
    description="An attempt not answered within webhook_timeout_seconds fails and is retried with the same webhook-id.",
)
def timeout_retried(ctx: ConformanceContext) -> None:
    stalled = _stalled_jobs(ctx)
    late = stalled.late
    first = _first_stalled_attempt(ctx, late)
    until = first.received_at + stalled.limit + ctx.webhook_deadline
    later = _wait_for_job(ctx, late.job, 2, max(0.0, until - time.time()))
    if len(later) < 2:
        raise CheckFailed(
            f"the receiver held the first attempt of event {first.webhook_id} for {late.stall:g} s (past the "
            f"contract's webhook_timeout_seconds, {stalled.limit:g} s), and no retry came within "
            f"{stalled.limit + ctx.webhook_deadline:g} s of it: the deployment waited past the limit",
            exchange=late.job.started,
        )
    if later[1].webhook_id != first.webhook_id:
        raise CheckFailed(
            f"the retry after the unanswered attempt carries webhook-id {later[1].webhook_id!r}, the first attempt "
            f"{first.webhook_id!r}",
            exchange=late.job.started,
        )
