from __future__ import annotations

import asyncio

import pytest

from voxcontract.auth import StaticKeyResolver, key_fingerprint, parse_bearer
from voxcontract.errors import Unauthorized


@pytest.mark.parametrize(
    ("header", "token"), [("Bearer abc", "abc"), ("bearer abc", "abc"), ("  Bearer   abc  ", "abc")]
)
def test_parse_bearer_accepts(header: str, token: str) -> None:
    assert parse_bearer(header) == token


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer a b", "Bearer " + "x" * 600, "abc"])
def test_parse_bearer_rejects_with_a_challenge(header: str | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        parse_bearer(header)
    assert caught.value.headers["WWW-Authenticate"].startswith('Bearer realm="voxscriber"')


def test_static_resolver_knows_only_its_keys() -> None:
    resolver = StaticKeyResolver(["alpha", "beta"])
    principal = asyncio.run(resolver.resolve("alpha"))
    assert principal is not None
    assert principal.key_id == key_fingerprint("alpha")
    assert asyncio.run(resolver.resolve("gamma")) is None
    assert key_fingerprint("alpha") != key_fingerprint("beta")
    assert "alpha" not in key_fingerprint("alpha")
