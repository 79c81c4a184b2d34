"""Rate limiting: the IETF draft headers on every authenticated answer, a 429 when the quota is spent, recovery.

The burst runs only when the whole quota fits in what is left of the request budget; it spends the first key's
quota, which is why this group runs last.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass

import httpx

from conformance.checks import check
from conformance.client import retry_after_seconds
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed, CheckSkipped, CheckUnverified
from conformance.problems import expect_problem, problem_body
from conformance.quota import Quota, QuotaError, read_quota
from conformance.samples import sample_request
from conformance.scope import current_scope
from conformance.workflow import cleanup, expect_status
from voxcontract.spec import iter_operations

GROUP = "rate-limit"
#: What every 429 past the quota carries besides its problem.
_LIMITED_HEADERS = ("Retry-After", "RateLimit", "RateLimit-Policy", "X-Request-Id")
#: Requests kept back for the checks after the burst (the burst's own 429, one call of each secured operation while
#: the quota is spent, recovery).
RESERVE = 16
_GRACE = 0.25
_SHOWN = 3
#: What a created answer's id is called, and where the created thing is deleted.
_CREATED = {201: ("file_id", "/v1/files/"), 202: ("job_id", "/v1/jobs/")}
_RATE_LIMIT_SETTING = "the reference server: --rate-limit or VOXCONTRACT_RATE_LIMIT"


@dataclass(frozen=True, slots=True)
class RateLimited:
    """The 429 the burst reached: when, and the Retry-After it carried (None: none usable)."""

    at: float
    retry_after: int | None


def _raw_client(ctx: ConformanceContext) -> httpx.Client:
    """The first key's client without the patient 429 handling: these checks want to see the 429s."""
    return ctx.open_client(ctx.api_key, retry_rate_limited=False)


def _cheap(client: httpx.Client) -> httpx.Response:
    return client.get("/v1/jobs", params={"limit": 1})


def _secured_operations(ctx: ConformanceContext) -> list[tuple[str, re.Pattern[str]]]:
    """(METHOD, path pattern) of every secured operation of the contract."""
    document = ctx.document
    return [
        (op.method.upper(), re.compile(re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(op.path))))
        for op in iter_operations(document)
        if op.security(document)
    ]


def _authenticated_answers(ctx: ConformanceContext) -> list[Exchange]:
    """The answers so far to a secured operation of the contract with a valid key (server errors aside).

    Requests with methods the contract does not document for a path reach no operation, so no key is checked
    for them and no quota applies; a ``431`` refuses the header fields unread, the key among them (the contract
    documents only X-Request-Id on it).
    """
    prefix = httpx.URL(ctx.base_url).path.rstrip("/")
    secured = _secured_operations(ctx)

    def is_secured(exchange: Exchange) -> bool:
        path = httpx.URL(exchange.url).path.removeprefix(prefix)
        return any(method == exchange.method and pattern.fullmatch(path) for method, pattern in secured)

    return [
        exchange
        for exchange in list(ctx.history)
        if exchange.status is not None and 200 <= exchange.status < 500 and exchange.status not in (401, 431)
        if ctx.is_authenticated(exchange) and is_secured(exchange)
    ]


def _raise_first(errors: list[tuple[str, Exchange]], total: int, what: str) -> None:
    if not errors:
        return
    distinct = list(dict.fromkeys(message for message, _ in errors))
    shown = "; ".join(distinct[:_SHOWN]) + (f"; and {len(distinct) - _SHOWN} more" if len(distinct) > _SHOWN else "")
    raise CheckFailed(f"{len(errors)} of {total} authenticated answers {what}: {shown}", exchange=errors[0][1])


@check(GROUP, "headers", description="Every authenticated answer carries RateLimit-Policy and RateLimit that parse.")
def headers(ctx: ConformanceContext) -> None:
    client = ctx.client
    _cheap(client)
    client.get("/v1/webhooks/secret")
    client.get("/v1/status/job_0000000000000000")  # a 404
    client.post("/v1/transcribe", json={})  # a 400
    answers = _authenticated_answers(ctx)
    errors: list[tuple[str, Exchange]] = []
    for exchange in answers:
        try:
            read_quota(exchange)
        except QuotaError as error:
            errors.append((str(error), exchange))
    _raise_first(errors, len(answers), "break the rate-limit headers")


@check(GROUP, "coherent", description="r <= q, t <= w, and the remaining quota falls from request to request.")
def coherent(ctx: ConformanceContext) -> None:
    client = _raw_client(ctx)
    sequence = [_quota_of(_cheap(client)) for _ in range(3)]
    answers = _authenticated_answers(ctx)
    errors: list[tuple[str, Exchange]] = []
    for exchange in answers:
        try:
            quota = read_quota(exchange)
        except QuotaError:
            continue  # the headers check reports those
        errors += [(f"{exchange.summary()}: {problem}", exchange) for problem in quota.problems()]
    _raise_first(errors, len(answers), "carry incoherent values")
    for (before, _), (after, exchange) in itertools.pairwise(sequence):
        same_window = after.t <= before.t
        if before.r > 0 and same_window and after.r >= before.r:
            raise CheckFailed(
                f"the remaining quota did not fall between two requests in one window: r={before.r} then r={after.r}",
                exchange=exchange,
            )


def _quota_of(response: httpx.Response) -> tuple[Quota, Exchange]:
    exchange = Exchange.from_httpx(response)
    try:
        return read_quota(exchange), exchange
    except QuotaError as error:
        raise CheckFailed(str(error), exchange=exchange) from None


@check(GROUP, "burst", description="A bounded burst reaches 429 with Retry-After and a rate_limited problem.")
def burst(ctx: ConformanceContext) -> None:
    client = _raw_client(ctx)
    try:
        quota = read_quota(Exchange.from_httpx(_cheap(client)))
    except QuotaError as error:
        raise CheckSkipped(f"no quota to exhaust: {error}") from None
    if quota.q + RESERVE > ctx.budget.remaining:
        needed = ctx.budget.limit + quota.q + RESERVE - ctx.budget.remaining
        raise CheckUnverified(
            f"exhausting the quota of q={quota.q} takes more requests than the budget has left "
            f"({ctx.budget.remaining} of {ctx.budget.limit})",
            remedy=f"run with --request-budget {needed}, or give a key with a smaller quota",
        )
    limited = _burst_until_429(client, quota, min(2 * quota.q + 2, ctx.budget.remaining - RESERVE // 2))
    exchange = Exchange.from_httpx(limited)
    retry_after = retry_after_seconds(limited.headers.get("retry-after"))
    ctx.fixture("rate-limit.429", lambda: RateLimited(time.monotonic(), retry_after))
    if retry_after is None:
        shown = limited.headers.get("retry-after")
        got = f"Retry-After {shown!r}" if shown is not None else "no Retry-After"
        raise CheckFailed(f"the 429 carries {got} (an integer >= 0 is required)", exchange=exchange)
    expect_problem(limited, 429, "rate_limited", what="the answer past the quota")
    after = _quota_of(limited)[0]
    if after.r != 0:
        raise CheckFailed(f"the 429's RateLimit says r={after.r} requests are left", exchange=exchange)


def _burst_until_429(client: httpx.Client, quota: Quota, limit: int) -> httpx.Response:
    sent = 0
    for _ in range(limit):
        response = _cheap(client)
        sent += 1
        if response.status_code == 429:
            return response
        expect_status(response, 200, what="a request of the burst")
    raise CheckFailed(f"{sent} requests sent for a quota of q={quota.q} per w={quota.w} s, and no 429")


def _reached_429(ctx: ConformanceContext) -> RateLimited:
    def unreached() -> RateLimited:
        raise CheckSkipped("rate-limit/burst reached no 429")

    return ctx.fixture("rate-limit.429", unreached)


@check(
    GROUP,
    "spent-quota",
    description="While the quota is spent, every secured operation: 429 rate_limited with its four headers.",
)
def spent_quota(ctx: ConformanceContext) -> None:
    state = _reached_429(ctx)
    document = ctx.document
    samples = [sample_request(document, op) for op in iter_operations(document) if op.security(document)]
    if ctx.budget.remaining < len(samples) + 1:
        raise CheckUnverified(
            f"calling the {len(samples)} secured operations takes more requests than the budget has left",
            remedy=f"run with --request-budget {ctx.budget.limit + len(samples) + 1}",
        )
    client = _raw_client(ctx)
    media = (ctx.audio_filename, ctx.audio, ctx.audio_content_type)
    failures: list[CheckFailed] = []
    for sample in samples:
        response = client.send(sample.build(client, authorization=f"Bearer {ctx.api_key}", media=media))
        if response.status_code != 429:
            _keep_tidy(ctx, response)
            _unless_window_ended(state, sample.label)
        try:
            _expect_limited(response, f"{sample.label} once the quota is spent")
        except CheckFailed as failure:
            failures.append(failure)
    if failures:
        summary = "; ".join(failure.message for failure in failures)
        raise CheckFailed(f"{len(failures)} operation(s) wrong: {summary}", exchange=failures[0].exchange)


def _unless_window_ended(state: RateLimited, label: str) -> None:
    """Unverified when the quota may have come back: the 429's Retry-After has passed."""
    if state.retry_after is not None and time.monotonic() >= state.at + state.retry_after:
        raise CheckUnverified(
            f"the quota came back (Retry-After {state.retry_after} s passed) before {label} was called",
            remedy=f"a longer rate-limit window on the server ({_RATE_LIMIT_SETTING})",
        )


def _keep_tidy(ctx: ConformanceContext, response: httpx.Response) -> None:
    """A file or job created despite the spent quota is deleted when the group ends."""
    field, collection = _CREATED.get(response.status_code, ("", ""))
    identifier = problem_body(response).get(field) if field else None
    if identifier:
        cleanup(ctx, GROUP, ctx.client, f"{collection}{identifier}")


def _expect_limited(response: httpx.Response, what: str) -> None:
    expect_problem(response, 429, "rate_limited", what=what)
    missing = [name for name in _LIMITED_HEADERS if name.lower() not in response.headers]
    if missing:
        raise CheckFailed(f"{what}: the 429 carries no {', '.join(missing)}", exchange=Exchange.from_httpx(response))


@check(GROUP, "recovery", description="After waiting Retry-After, the API serves the key again.")
def recovery(ctx: ConformanceContext) -> None:
    state = _reached_429(ctx)
    if state.retry_after is None:
        raise CheckSkipped("the 429 carried no usable Retry-After to wait for")
    if state.retry_after > ctx.max_wait:
        raise CheckUnverified(
            f"the 429 asks to wait {state.retry_after} s, longer than --max-wait {ctx.max_wait:g} s",
            remedy=f"run with --max-wait {state.retry_after}",
        )
    current_scope().sleep(state.at + state.retry_after + _GRACE - time.monotonic())
    response = _cheap(_raw_client(ctx))
    if response.status_code == 429:
        raise CheckFailed(
            f"still 429 after waiting the Retry-After of {state.retry_after} s", exchange=Exchange.from_httpx(response)
        )
    expect_status(response, 200, what=f"a request {state.retry_after} s after the 429")
