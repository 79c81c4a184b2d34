"""The per-answer HTTP rules on single answers: Retry-After, RateLimit, X-Request-Id, documented media types."""

from __future__ import annotations

import httpx
import pytest

from conformance.exchange import Exchange
from conformance.http_rules import http_violations


def _exchange(
    status: int = 200,
    path: str = "/v1/jobs",
    content_type: str = "application/json",
    sent: dict[str, str] | None = None,
    **headers: str,
) -> Exchange:
    request = httpx.Request("GET", f"http://api.test{path}", headers=sent or {})
    answer = {
        "Content-Type": content_type,
        "X-Request-Id": "req_1",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    return Exchange.from_httpx(httpx.Response(status, content=b"{}", headers=answer, request=request))


@pytest.mark.parametrize(
    "exchange",
    [
        _exchange(Retry_After="2"),
        _exchange(Retry_After="0"),
        _exchange(Retry_After="Wed, 21 Oct 2015 07:28:00 GMT"),  # a date in the past: retry now
        _exchange(RateLimit='"default";r=3;t=5', RateLimit_Policy='"default";q=10;w=60'),
        _exchange(sent={"X-Request-Id": "abc.DEF_1:2-3"}, X_Request_Id="abc.DEF_1:2-3"),
        _exchange(sent={"X-Request-Id": "a b"}, X_Request_Id="req_new"),
        _exchange(path="/v1/transcripts/job_1", content_type="text/vtt; charset=utf-8"),
        _exchange(path="/prefix/v1/status/job_1"),
        _exchange(path="/v1/unknown", content_type="text/html"),  # not an operation of the contract
    ],
)
def test_answers_within_the_rules_pass(exchange: Exchange) -> None:
    assert http_violations(exchange) == []


@pytest.mark.parametrize(
    ("exchange", "violation"),
    [
        (_exchange(Retry_After="soon"), "Retry-After 'soon' is neither delay-seconds nor an HTTP-date"),
        (_exchange(Retry_After="-1"), "neither delay-seconds nor an HTTP-date"),
        (_exchange(Retry_After="2.5"), "neither delay-seconds nor an HTTP-date"),
        (_exchange(Retry_After="999999"), "more than a day"),
        (_exchange(RateLimit='"default";r=11;t=5', RateLimit_Policy='"default";q=10;w=60'), "r=11 is more than"),
        (_exchange(RateLimit='"default";r=3;t=-1', RateLimit_Policy='"default";q=10;w=60'), "is not"),
        (_exchange(RateLimit='"default";r=3;t=5'), "lacks RateLimit-Policy"),
        (_exchange(sent={"X-Request-Id": "abc"}, X_Request_Id="req_new"), "'abc' was not echoed"),
        (_exchange(sent={"X-Request-Id": "a b"}, X_Request_Id="a b"), "echoed instead of replaced"),
        (_exchange(sent={"X-Request-Id": "z" * 129}, X_Request_Id="z" * 129), "of 129 characters is not sane"),
        (_exchange(X_Request_Id="req 1"), "is not 1-128 of"),
        (_exchange(content_type="text/plain"), "documents only application/json for 200"),
        (_exchange(path="/v1/transcripts/job_1", content_type="text/html"), "application/x-subrip"),
    ],
)
def test_answers_that_break_a_rule_say_which(exchange: Exchange, violation: str) -> None:
    violations = http_violations(exchange)
    assert any(violation in message for message in violations), violations
