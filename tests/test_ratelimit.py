"""Rate limiting through ``limits``: quota arithmetic, the contract's headers, configuration errors."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import time
import types
from collections.abc import Iterator
from unittest import mock

import limits.aio.storage.memory
import limits.aio.strategies
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcontract import ratelimit
from voxcontract.errors import ConfigError
from voxcontract.ratelimit import RateLimitDecision, RateLimiter
from voxcontract.spec import load_spec

HEADERS = load_spec()["components"]["headers"]
RATELIMIT_PATTERN = HEADERS["RateLimit"]["schema"]["pattern"]
POLICY_PATTERN = HEADERS["RateLimit-Policy"]["schema"]["pattern"]

WINDOWS = {"second": 1, "minute": 60, "hour": 3600}
STRATEGIES = ["fixed-window", "moving-window", "sliding-window-counter"]


@contextlib.contextmanager
def frozen_clock(now: float = 1_800_000_000.25) -> Iterator[None]:
    """Stop the clocks of limits' memory storage and of the limiter, so no window ends mid-example."""
    # limits reads time.time() through the module; patching the module attribute leaves the rest alone.
    clock = types.SimpleNamespace(time=lambda: now)
    with (
        mock.patch.object(limits.aio.storage.memory, "time", clock),
        mock.patch.object(limits.aio.strategies, "time", clock),
        mock.patch.object(ratelimit, "time", clock),
    ):
        yield


async def hits(limiter: RateLimiter, identity: str, count: int) -> list[RateLimitDecision]:
    return [await limiter.hit(identity) for _ in range(count)]


def header_numbers(decision: RateLimitDecision) -> dict[str, int]:
    headers = decision.headers()
    assert re.fullmatch(POLICY_PATTERN, headers["RateLimit-Policy"])
    assert re.fullmatch(RATELIMIT_PATTERN, headers["RateLimit"])
    fields = headers["RateLimit-Policy"].split(";")[1:] + headers["RateLimit"].split(";")[1:]
    return {name: int(value) for name, value in (field.split("=") for field in fields)}


# --- quota arithmetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=60, deadline=None)
@given(quota=st.integers(1, 50), unit=st.sampled_from(sorted(WINDOWS)), data=st.data())
def test_hits_are_allowed_up_to_the_quota(strategy: str, quota: int, unit: str, data: st.DataObject) -> None:
    count = data.draw(st.integers(0, 2 * quota), label="hits")
    limiter = RateLimiter(f"{quota}/{unit}", strategy=strategy)
    with frozen_clock():
        decisions = asyncio.run(hits(limiter, "key", count))

    allowed = [decision.allowed for decision in decisions]
    assert allowed == [True] * min(count, quota) + [False] * max(count - quota, 0)
    remaining = [decision.remaining for decision in decisions]
    assert remaining == [max(quota - i, 0) for i in range(1, count + 1)]
    for decision in decisions:
        assert (decision.limit, decision.window, decision.policy_name) == (quota, WINDOWS[unit], "default")
        assert 0 <= decision.reset_after <= WINDOWS[unit]


@settings(max_examples=60, deadline=None)
@given(quota=st.integers(1, 50), unit=st.sampled_from(sorted(WINDOWS)), extra=st.integers(0, 50))
def test_headers_carry_the_decision(quota: int, unit: str, extra: int) -> None:
    limiter = RateLimiter(f"{quota} per {unit}", policy_name="api-keys")
    with frozen_clock():
        decisions = asyncio.run(hits(limiter, "key", quota + extra))

    for decision in decisions:
        numbers = header_numbers(decision)
        assert numbers == {"q": quota, "w": WINDOWS[unit], "r": decision.remaining, "t": decision.reset_after}
        assert decision.headers()["RateLimit"].startswith('"api-keys";')
        retry_after = decision.headers().get("Retry-After")
        if decision.allowed:
            assert retry_after is None
        else:
            assert retry_after is not None
            assert int(retry_after) == decision.reset_after >= 1


def test_header_formats_are_the_contract_examples() -> None:
    decision = RateLimitDecision(allowed=True, limit=120, remaining=117, reset_after=42, window=60)
    assert decision.headers() == {"RateLimit-Policy": '"default";q=120;w=60', "RateLimit": '"default";r=117;t=42'}
    denied = RateLimitDecision(allowed=False, limit=120, remaining=0, reset_after=7, window=60)
    assert denied.headers()["Retry-After"] == "7"


def test_a_fixed_window_resets_one_window_after_its_first_hit() -> None:
    limiter = RateLimiter("3/minute")
    with frozen_clock():
        first, _, _, denied = asyncio.run(hits(limiter, "key", 4))
    assert first.reset_after == 60
    assert (denied.allowed, denied.reset_after) == (False, 60)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_peek_consumes_nothing(strategy: str) -> None:
    limiter = RateLimiter("3/minute", strategy=strategy)

    async def scenario() -> tuple[RateLimitDecision, list[RateLimitDecision], RateLimitDecision]:
        fresh = await limiter.peek("key")
        peeks = [await limiter.peek("key") for _ in range(5)]
        return fresh, peeks, await limiter.hit("key")

    fresh, peeks, hit = asyncio.run(scenario())
    assert (fresh.allowed, fresh.remaining, fresh.reset_after) == (True, 3, 0)
    assert all(peek == fresh for peek in peeks)
    assert (hit.allowed, hit.remaining) == (True, 2)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_peek_when_spent_reports_the_denial(strategy: str) -> None:
    limiter = RateLimiter("2/hour", strategy=strategy)

    async def scenario() -> RateLimitDecision:
        await hits(limiter, "key", 2)
        return await limiter.peek("key")

    peeked = asyncio.run(scenario())
    assert (peeked.allowed, peeked.remaining) == (False, 0)
    assert 1 <= peeked.reset_after <= 3600


@settings(max_examples=40, deadline=None)
@given(quota=st.integers(1, 20), identities=st.lists(st.text(), min_size=2, max_size=4, unique=True))
def test_identities_are_independent(quota: int, identities: list[str]) -> None:
    limiter = RateLimiter(f"{quota}/minute")

    async def scenario() -> list[RateLimitDecision]:
        await hits(limiter, identities[0], 2 * quota)
        return [await limiter.hit(identity) for identity in identities[1:]]

    with frozen_clock():
        for decision in asyncio.run(scenario()):
            assert (decision.allowed, decision.remaining) == (True, quota - 1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_reset_forgets_every_identity(strategy: str) -> None:
    limiter = RateLimiter("1/hour", strategy=strategy)

    async def scenario() -> list[RateLimitDecision]:
        await limiter.hit("a")
        await limiter.hit("b")
        await limiter.reset()
        return [await limiter.hit("a"), await limiter.hit("b")]

    assert all(decision.allowed for decision in asyncio.run(scenario()))


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window"])
def test_a_short_window_allows_again_after_waiting_it_out(strategy: str) -> None:
    limiter = RateLimiter("1/second", strategy=strategy)

    async def scenario() -> tuple[RateLimitDecision, RateLimitDecision, float]:
        await limiter.hit("key")
        denied = await limiter.hit("key")
        started = time.monotonic()
        await asyncio.sleep(denied.reset_after + 0.05)
        return denied, await limiter.hit("key"), time.monotonic() - started

    denied, again, waited = asyncio.run(scenario())
    assert (denied.allowed, denied.reset_after, denied.headers()["Retry-After"]) == (False, 1, "1")
    assert again.allowed
    assert waited < 1.5


def test_the_real_clock_reports_a_sane_reset() -> None:
    decision = asyncio.run(RateLimiter("5/minute").hit("key"))
    assert (decision.allowed, decision.remaining) == (True, 4)
    assert 59 <= decision.reset_after <= 60


# --- configuration ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "window"),
    [("120/minute", 60), ("5/second", 1), ("1000 per hour", 3600), ("2/10 seconds", 10), ("7/day", 86400)],
)
def test_policy_notation(policy: str, window: int) -> None:
    limiter = RateLimiter(policy)
    assert (limiter.limit, limiter.window) == (int(policy.split()[0].split("/")[0]), window)


@pytest.mark.parametrize("policy", ["", "abc", "0/minute", "-1/second", "5/fortnight", "1/second;5/minute"])
def test_bad_policy_is_a_config_error(policy: str) -> None:
    with pytest.raises(ConfigError, match="rate-limit policy"):
        RateLimiter(policy)


@pytest.mark.parametrize("name", ["", "a b", 'a"b', "a;q=1"])
def test_bad_policy_name_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="policy name"):
        RateLimiter(policy_name=name)


def test_unknown_strategy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown rate-limit strategy 'leaky-bucket'; use one of"):
        RateLimiter(strategy="leaky-bucket")


@pytest.mark.parametrize("uri", ["bogus", "memory", "://x", "nosuch://host:1", "async+nosuch://host:1"])
def test_bad_storage_uri_is_a_config_error(uri: str) -> None:
    with pytest.raises(ConfigError, match="rate-limit storage"):
        RateLimiter(storage_uri=uri)


def test_storage_errors_do_not_leak_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        RateLimiter(storage_uri="nosuch://user:s3cret@host:1")
    assert "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize("uri", ["memory://", "async+memory://"])
def test_memory_storage_by_either_scheme(uri: str) -> None:
    assert asyncio.run(RateLimiter("1/minute", uri).hit("key")).allowed


def test_redis_uri_maps_to_the_async_redis_storage() -> None:
    uri = "redis://localhost:6379"
    if importlib.util.find_spec("coredis") is None:
        with pytest.raises(ConfigError, match="coredis"):
            RateLimiter(storage_uri=uri)
    else:  # pragma: no cover - only where limits[async-redis] is installed
        RateLimiter(storage_uri=uri)  # connects lazily
