"""The HTTP semantics the contract inherits without restating them, provoked on purpose.

The per-answer rules (Retry-After and RateLimit grammar and meaning, X-Request-Id echo, documented media types,
problems consistent with their headers) live in :mod:`conformance.http_rules` and judge every answer of every
check; this group sends the requests that exercise them where other groups would not: a scheme in other cases
(RFC 9110 §11.1, RFC 6750), client X-Request-Ids sane and not, and the Location of created resources followed.
"""

from __future__ import annotations

from typing import Any

import httpx

from conformance.checks import check
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.http_rules import SANE_REQUEST_ID
from conformance.outcomes import CheckFailed
from conformance.workflow import cleanup, expect_status, start_job

GROUP = "http"
#: Request ids the contract says are echoed, and ones it says are replaced.
_SANE_IDS = ("conformance-req.1:A_z", "x" * 128)
_INSANE_IDS = ("conformance req", "y" * 129)


@check(GROUP, "scheme-case", description='The auth scheme matches case-insensitively: "bearer" and "BEARER" work.')
def scheme_case(ctx: ConformanceContext) -> None:
    client = ctx.open_client(None)
    for scheme in ("bearer", "BEARER", "bEaReR"):
        response = client.get("/v1/jobs", params={"limit": 1}, headers={"Authorization": f"{scheme} {ctx.api_key}"})
        if response.status_code != 200:
            exchange = Exchange.from_httpx(response)
            raise CheckFailed(
                f'"Authorization: {scheme} <key>" must work like "Bearer <key>" (RFC 9110 §11.1: the scheme is '
                f"case-insensitive), got {exchange.summary()}",
                exchange=exchange,
            )


@check(GROUP, "request-id", description="A sane X-Request-Id is echoed and any other replaced, on 200 and 404.")
def request_id(ctx: ConformanceContext) -> None:
    # The echo rule itself is judged by conformance.http_rules on these answers; this check also demands it.
    for path in ("/v1/jobs?limit=1", "/v1/status/job_0000000000000000"):
        for sent in (*_SANE_IDS, *_INSANE_IDS):
            response = ctx.client.get(path, headers={"X-Request-Id": sent})
            _expect_request_id(response, sent)


def _expect_request_id(response: httpx.Response, sent: str) -> None:
    answered = response.headers.get("x-request-id", "")
    exchange = Exchange.from_httpx(response)
    shown = repr(sent) if len(sent) <= 40 else f"of {len(sent)} characters"
    if SANE_REQUEST_ID.fullmatch(sent) and answered != sent:
        raise CheckFailed(
            f"{exchange.summary()}: the sane X-Request-Id {shown} was not echoed (answered {answered!r})",
            exchange=exchange,
        )
    if not SANE_REQUEST_ID.fullmatch(sent) and (answered == sent or not SANE_REQUEST_ID.fullmatch(answered)):
        raise CheckFailed(
            f"{exchange.summary()}: the X-Request-Id {shown} is not sane and must be replaced by a sane one "
            f"(answered {answered!r})",
            exchange=exchange,
        )


@check(GROUP, "location", description="The Location of a 201 upload and a 202 job is GET-able and names it.")
def location(ctx: ConformanceContext) -> None:
    upload = ctx.client.post("/v1/upload", files={"file": (ctx.audio_filename, ctx.audio, ctx.audio_content_type)})
    file_id = str(expect_status(upload, 201, what=f"uploading {ctx.audio_filename}").get("file_id", ""))
    cleanup(ctx, GROUP, ctx.client, f"/v1/files/{file_id}")
    _expect_location_names(ctx, upload, "file_id", file_id, "the upload")
    started = start_job(ctx, file_id)
    job_id = str(expect_status(started, 202, what="starting a job").get("job_id", ""))
    cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{job_id}")
    _expect_location_names(ctx, started, "job_id", job_id, "the job")


def _expect_location_names(
    ctx: ConformanceContext, created: httpx.Response, field: str, identifier: str, what: str
) -> None:
    """``created``'s Location, resolved against its request URL, answers GET 200 with ``field`` = ``identifier``."""
    exchange = Exchange.from_httpx(created)
    location = created.headers.get("location")
    if not location:
        raise CheckFailed(f"{exchange.summary()}: {what}'s answer carries no Location", exchange=exchange)
    # Resolved as RFC 9110 §10.2.2 says (relative to the request URL) and fetched as an absolute URL, so that a
    # base URL with a path prefix is not applied twice.
    response = ctx.client.get(str(created.request.url.join(location)))
    body: Any = response.json() if response.status_code == 200 and _is_json(response) else None
    if not isinstance(body, dict) or body.get(field) != identifier:
        followed = Exchange.from_httpx(response)
        got = f"{field} {body.get(field)!r}" if isinstance(body, dict) else followed.summary()
        raise CheckFailed(
            f"{what}'s Location {location!r} does not resolve to {field} {identifier}: GET on it gave {got}",
            exchange=followed,
        )


def _is_json(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True
