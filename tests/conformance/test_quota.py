"""Reading the IETF draft rate-limit headers."""

from __future__ import annotations

import httpx
import pytest

from conformance.exchange import Exchange
from conformance.quota import Quota, QuotaError, read_quota


def _answer(**headers: str) -> Exchange:
    request = httpx.Request("GET", "http://api.test/v1/jobs")
    return Exchange.from_httpx(httpx.Response(200, headers=headers, request=request))


def test_the_contracts_syntax_parses() -> None:
    quota = read_quota(_answer(**{"RateLimit-Policy": '"default";q=120;w=60', "RateLimit": '"default";r=117;t=42'}))
    assert quota == Quota("default", 120, 60, 117, 42)
    assert quota.problems() == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"RateLimit": '"default";r=1;t=1'}, "lacks RateLimit-Policy"),
        ({}, "lacks RateLimit-Policy and RateLimit"),
        ({"RateLimit-Policy": "q=120, w=60", "RateLimit": '"default";r=1;t=1'}, 'is not "name";q=N;w=N'),
        ({"RateLimit-Policy": '"default";q=1;w=1', "RateLimit": '"default";r=-1;t=1'}, 'is not "name";r=N;t=N'),
        ({"RateLimit-Policy": '"a";q=1;w=1', "RateLimit": '"b";r=1;t=1'}, "names policy 'b'"),
    ],
)
def test_missing_or_malformed_headers_say_what_is_wrong(headers: dict[str, str], message: str) -> None:
    with pytest.raises(QuotaError, match=message):
        read_quota(_answer(**headers))


def test_incoherent_values_are_named() -> None:
    assert Quota("default", 10, 60, 11, 61).problems() == [
        "r=11 is more than the quota q=10",
        "t=61 is longer than the window w=60",
    ]
    assert Quota("default", 0, 60, 0, 0).problems() == ["the policy q=0;w=60 allows nothing"]
