"""The HTTP semantics the contract inherits, judged on one answer: each function lists what the answer breaks.

- ``Retry-After`` is delay-seconds (``1*DIGIT``) or an HTTP-date (RFC 9110 §10.2.3), and a sane delay;
- ``RateLimit`` / ``RateLimit-Policy`` parse as the contract writes them and agree (r <= q, t <= w);
- ``X-Request-Id`` is sane, echoes a sane one the client sent, and replaces one that is not;
- the ``Content-Type`` of an answer with a body is one the contract documents for that operation and status.

:func:`conformance.problems.inspect_answer` runs them on every answer the suite sees.
"""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from conformance.exchange import Exchange
from conformance.quota import QuotaError, read_quota
from voxcontract.spec import load_spec

__all__ = [
    "MAX_RETRY_AFTER",
    "SANE_REQUEST_ID",
    "http_violations",
    "media_type_violations",
    "rate_limit_violations",
    "request_id_violations",
    "retry_after_violations",
]

#: The longest delay a Retry-After may ask for: a day (the longest window a quota policy is likely to have).
MAX_RETRY_AFTER = 86_400
#: The X-Request-Id a server echoes (the contract's pattern).
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_DELAY_SECONDS = re.compile(r"[0-9]+")


def http_violations(exchange: Exchange) -> list[str]:
    """Every rule of this module that ``exchange``'s answer breaks (messages without the exchange summary)."""
    return [
        *retry_after_violations(exchange),
        *rate_limit_violations(exchange),
        *request_id_violations(exchange),
        *media_type_violations(exchange),
    ]


def retry_after_violations(exchange: Exchange) -> list[str]:
    """``Retry-After``, when present: delay-seconds or an HTTP-date, asking for 0 to a day."""
    value = exchange.header("retry-after")
    if value is None:
        return []
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        delay = int(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return [f"Retry-After {value!r} is neither delay-seconds nor an HTTP-date"]
        if when.tzinfo is None:  # RFC 9110: an HTTP-date is GMT; a -0000 zone parses naive
            when = when.replace(tzinfo=UTC)
        delay = max(0, int((when - datetime.now(UTC)).total_seconds()))
    if delay > MAX_RETRY_AFTER:
        return [f"Retry-After {value!r} asks to wait {delay} s, more than a day"]
    return []


def rate_limit_violations(exchange: Exchange) -> list[str]:
    """``RateLimit`` and ``RateLimit-Policy``, when either is present: both, parsing, coherent."""
    if exchange.header("ratelimit") is None and exchange.header("ratelimit-policy") is None:
        return []
    try:
        quota = read_quota(exchange)
    except QuotaError as error:
        # read_quota's messages start with the exchange summary, which the caller adds again.
        return [str(error).removeprefix(f"{exchange.summary()}: ").removeprefix(exchange.summary() + " ")]
    return [f"RateLimit: {problem}" for problem in quota.problems()]


def request_id_violations(exchange: Exchange) -> list[str]:
    """The answer's ``X-Request-Id`` is sane; it echoes a sane one sent, and replaces one that is not."""
    answered = exchange.header("x-request-id")
    if answered is None:
        return []  # inspect_answer reports the missing header
    violations: list[str] = []
    if not SANE_REQUEST_ID.fullmatch(answered):
        violations.append(f"the answer's X-Request-Id {answered!r} is not 1-128 of A-Z a-z 0-9 . _ : -")
    sent = next((value for key, value in exchange.request_headers.items() if key.lower() == "x-request-id"), None)
    if sent is None:
        return violations
    if SANE_REQUEST_ID.fullmatch(sent) and answered != sent:
        violations.append(f"the sane X-Request-Id {sent!r} was not echoed (answered {answered!r})")
    if not SANE_REQUEST_ID.fullmatch(sent) and answered == sent:
        violations.append(f"the X-Request-Id {_shortened(sent)} is not sane, yet it was echoed instead of replaced")
    return violations


def media_type_violations(exchange: Exchange) -> list[str]:
    """An answer with a body is of a media type the contract documents for its operation and status."""
    if exchange.status is None or exchange.method == "HEAD" or not exchange.response_body:
        return []
    if exchange.status >= 400:
        return []  # inspect_answer's problem rule owns error answers (application/problem+json)
    documented = documented_media_types(exchange.method, exchange.path.partition("?")[0], exchange.status)
    if not documented:
        return []  # an undocumented operation or status: Schemathesis' status_code_conformance judges that
    media_type = (exchange.header("content-type") or "").split(";")[0].strip().lower()
    if any(_media_type_matches(media_type, allowed) for allowed in documented):
        return []
    return [
        f"the answer is {media_type or 'untyped'}, but the contract documents only "
        f"{', '.join(sorted(documented))} for {exchange.status}"
    ]


def documented_media_types(method: str, path: str, status: int) -> frozenset[str]:
    """The media types the contract documents for ``method path`` answering ``status`` (empty: none known)."""
    responses = _operation_responses(method.lower(), path)
    if responses is None:
        return frozenset()
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in responses:
            return responses[key]
    return frozenset()


def _operation_responses(method: str, path: str) -> Mapping[str, frozenset[str]] | None:
    # The most specific template wins: /v1/jobs before /v1/{anything}; a base URL with a prefix still matches.
    matches = [(template, ops) for template, pattern, ops in _media_table() if pattern.search(path)]
    matches.sort(key=lambda item: item[0].count("{"))
    for _, operations in matches:
        if method in operations:
            return operations[method]
    return None


@functools.cache
def _media_table() -> tuple[tuple[str, re.Pattern[str], dict[str, dict[str, frozenset[str]]]], ...]:
    """(path template, its pattern anchored at the end, method → status → media types) for the contract."""
    document = load_spec()
    table = []
    for template, item in document["paths"].items():
        operations: dict[str, dict[str, frozenset[str]]] = {}
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                operations[method] = {
                    str(status): frozenset(str(name).lower() for name in _content(_resolved(document, answer)))
                    for status, answer in operation["responses"].items()
                }
        pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        table.append((template, pattern, operations))
    return tuple(table)


def _resolved(document: Mapping[str, Any], node: Any) -> Any:
    """``node`` with its local ``$ref`` followed (the contract's shared error answers are references)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = document
        for part in node["$ref"][2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
        node = target
    return node


def _content(answer: Any) -> Mapping[str, Any]:
    content = answer.get("content") if isinstance(answer, dict) else None
    return content if isinstance(content, dict) else {}


def _media_type_matches(media_type: str, allowed: str) -> bool:
    if allowed in ("*/*", media_type):
        return True
    return allowed.endswith("/*") and media_type.startswith(allowed[:-1])


def _shortened(value: str) -> str:
    return repr(value) if len(value) <= 40 else f"of {len(value)} characters"
