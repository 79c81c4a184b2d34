"""The deployment's documented refusals of the suite's own set-up, turned into "unverified" with what fixes them.

A deployment may rightly refuse what the suite needs in order to check something: webhooks to the suite's local
receiver (``url_not_allowed``: SSRF protection), more requests than its rate limit allows within ``--max-wait``
(``429``), a second tenant's key the suite was not given or that it does not accept. None of these is a violation of
the contract, and none lets the check decide; the verdict is :class:`~conformance.outcomes.CheckUnverified`, naming the
flag or server setting that would let it decide.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from conformance.client import retry_after_seconds
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed, CheckUnverified

__all__ = [
    "missing_second_key",
    "rate_limit_refusal",
    "refused_second_key",
    "refused_webhook_url",
]


_WEBHOOK_REMEDY = (
    "let the deployment reach the suite's receiver: allow its address on the server (the reference server: "
    "--url-allowlist HOST:PORT or VOXCONTRACT_URL_ALLOWLIST) or give an address it may reach with "
    "--webhook-listen / --webhook-public-url"
)

_RATE_LIMIT_REMEDY = (
    "raise the key's rate limit on the server (the reference server: --rate-limit or VOXCONTRACT_RATE_LIMIT)"
)


def _problem(body: bytes) -> dict[str, Any]:
    """The problem object of an answer's body (``{}`` when it is none)."""
    try:
        problem = json.loads(body)
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def refused_webhook_url(response: httpx.Response, receiver_url: str) -> None:
    """Raise "unverified" when a job was refused because of its ``webhook_url`` (the suite's receiver)."""
    problem = _problem(response.content)
    if response.status_code != 400 or problem.get("code") != "url_not_allowed":
        return
    detail = str(problem.get("detail") or problem.get("title") or "")[:200]
    raise CheckUnverified(
        f"the deployment refuses webhooks to the suite's receiver {receiver_url} (400 url_not_allowed: {detail})",
        remedy=_WEBHOOK_REMEDY,
    )


def missing_second_key() -> CheckUnverified:
    """How a run without ``--second-api-key`` explains its tenant-isolation checks."""
    return CheckUnverified("tenant isolation needs a key of another tenant", remedy="give one with --second-api-key")


def refused_second_key(response: httpx.Response) -> None:
    """Raise "unverified" when the deployment does not accept ``--second-api-key`` (401)."""
    if response.status_code == 401:
        raise CheckUnverified(
            f"the deployment does not accept the second key: {Exchange.from_httpx(response).summary()}",
            remedy="give a valid key of another tenant with --second-api-key",
        )


def rate_limit_refusal(failure: CheckFailed, max_wait: float) -> CheckUnverified | None:
    """The "unverified" verdict for a check that failed only because its request met the rate limit.

    The suite waits out a ``429`` whose ``Retry-After`` is at most ``--max-wait``; one it did not wait out (longer, or
    none) ends the check without a verdict on what it was checking. The rate-limit group judges the 429 itself.
    """
    exchange = failure.exchange
    if exchange is None or exchange.status != 429 or _problem(exchange.response_body).get("code") != "rate_limited":
        return None
    wait = retry_after_seconds(exchange.header("retry-after"))
    policy = exchange.header("ratelimit-policy")
    quota = f" (RateLimit-Policy {policy})" if policy else ""
    if wait is None:
        why, remedy = "without a usable Retry-After", _RATE_LIMIT_REMEDY
    else:
        why = f"asking to wait {wait} s, longer than --max-wait {max_wait:g} s"
        remedy = f"run with --max-wait {wait}, or {_RATE_LIMIT_REMEDY}"
    return CheckUnverified(
        f"the deployment's rate limit{quota} refused the suite's {exchange.summary()}, {why}", remedy=remedy
    )
