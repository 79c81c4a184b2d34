"""Per-identity rate limiting through ``limits`` (its async API), answered with IETF draft headers.

The policy is written in limits' notation (``"120/minute"``, ``"1000 per hour"``, ``"2/10 seconds"``) and
the storage is chosen by URI only: ``memory://`` (per process, the default), ``redis://host:6379`` and the
other limits schemes. A plain scheme is mapped to limits' async variant (``async+redis://``) because the
servers are ASGI; backends other than memory need limits' extra for them (``limits[async-redis]``).
"""

from __future__ import annotations

import math
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import STRATEGIES
from limits.aio.strategies import RateLimiter as Strategy
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from voxcontract.errors import ConfigError

__all__ = ["RateLimitDecision", "RateLimiter"]

_ASYNC_SCHEME_PREFIX = "async+"
_KEY_NAMESPACE = "voxcontract"
# The token allowed in the contract's RateLimit and RateLimit-Policy header patterns.
_POLICY_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """The outcome of one check: allowed or not, and the quota as the headers report it."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    """Whole seconds until the window resets (rounded up), >= 1 when denied."""
    window: int
    """The policy's window in seconds."""
    policy_name: str = "default"

    def headers(self) -> dict[str, str]:
        """``RateLimit-Policy`` and ``RateLimit`` (IETF httpapi draft), plus ``Retry-After`` when denied."""
        headers = {
            "RateLimit-Policy": f'"{self.policy_name}";q={self.limit};w={self.window}',
            "RateLimit": f'"{self.policy_name}";r={self.remaining};t={self.reset_after}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_after)
        return headers


class RateLimiter:
    """One quota policy applied per identity (an opaque string, e.g. a hash of the API key)."""

    def __init__(
        self,
        policy: str = "120/minute",
        storage_uri: str = "memory://",
        *,
        strategy: str = "fixed-window",
        policy_name: str = "default",
        storage: Storage | None = None,
    ) -> None:
        """Raise :class:`ConfigError` for a bad policy string or name, strategy or storage URI.

        ``storage`` (an already built one) takes the place of ``storage_uri``: see :meth:`with_policy`.
        """
        self._item = _parse_policy(policy)
        self._policy_name = _check_policy_name(policy_name)
        self._storage_uri = storage_uri
        self._storage = storage if storage is not None else _build_storage(storage_uri)
        self._strategy_name = strategy
        self._strategy = _build_strategy(strategy, self._storage, storage_uri)

    def with_policy(self, policy: str, *, policy_name: str) -> RateLimiter:
        """Another policy counted in this limiter's storage (its keys apart), so one :meth:`reset` forgets both."""
        return RateLimiter(
            policy, self._storage_uri, strategy=self._strategy_name, policy_name=policy_name, storage=self._storage
        )

    @property
    def limit(self) -> int:
        """Requests allowed per window."""
        return int(self._item.amount)

    @property
    def window(self) -> int:
        """The window in seconds."""
        return int(self._item.get_expiry())

    async def hit(self, identity: str) -> RateLimitDecision:
        """Consume one request of ``identity``'s quota; a denied request consumes nothing."""
        key = self._key(identity)
        # Test first: the fixed-window strategy counts a hit even past the limit. Two racing requests
        # may still both pass the test; the loser is denied, and the extra count never extends the window.
        allowed = await self._strategy.test(self._item, *key) and await self._strategy.hit(self._item, *key)
        return await self._decision(key, allowed=allowed)

    async def allows(self, identity: str) -> bool:
        """Whether a hit of ``identity`` would be allowed now (one storage call, nothing consumed)."""
        return await self._strategy.test(self._item, *self._key(identity))

    async def peek(self, identity: str) -> RateLimitDecision:
        """The decision a hit would get now, without consuming anything."""
        key = self._key(identity)
        return await self._decision(key, allowed=await self._strategy.test(self._item, *key))

    async def reset(self) -> None:
        """Forget every identity's consumption (the whole storage)."""
        await self._storage.reset()

    def _key(self, identity: str) -> tuple[str, str, str]:
        return (_KEY_NAMESPACE, self._policy_name, identity)

    async def _decision(self, key: tuple[str, str, str], *, allowed: bool) -> RateLimitDecision:
        stats = await self._strategy.get_window_stats(self._item, *key)
        remaining = min(max(int(stats.remaining), 0), self.limit)
        # A full quota has nothing to reset; clamping guards against a store's clock skew.
        reset_after = 0 if remaining == self.limit else math.ceil(stats.reset_time - time.time())
        reset_after = min(max(reset_after, 0), self.window)
        if not allowed:
            reset_after = max(reset_after, 1)  # a denied client must wait at least a second
        return RateLimitDecision(allowed, self.limit, remaining, reset_after, self.window, self._policy_name)


def _parse_policy(policy: str) -> RateLimitItem:
    try:
        items = parse_many(policy)
    except ValueError as exc:
        raise ConfigError(
            f"rate-limit policy {policy!r} is not in limits notation (e.g. '120/minute', '1000 per hour')"
        ) from exc
    if len(items) != 1:
        raise ConfigError(f"rate-limit policy {policy!r} must be one limit, not {len(items)}")
    if items[0].amount < 1:
        raise ConfigError(f"rate-limit policy {policy!r} must allow at least one request")
    return _with_remembered_keys(items[0])


#: The most storage keys a limit remembers (one per API key, or per client address for failed authentications).
_MAX_REMEMBERED_KEYS = 4096


def _with_remembered_keys(item: RateLimitItem) -> RateLimitItem:
    """``item`` as a limit that builds each identity's storage key once.

    ``limits`` joins and escapes the key's parts on every storage call, three per request; the same key comes out
    every time.
    """

    class RememberingItem(type(item)):  # type: ignore[misc]
        __slots__ = ("_keys",)

        def key_for(self, *identifiers: bytes | str | int | float) -> str:
            key: str | None = self._keys.get(identifiers)
            if key is None:
                key = super().key_for(*identifiers)
                if len(self._keys) < _MAX_REMEMBERED_KEYS:
                    self._keys[identifiers] = key
            return key

    remembering = RememberingItem(item.amount, item.multiples, item.namespace)
    remembering._keys = {}
    return remembering


def _check_policy_name(name: str) -> str:
    if not _POLICY_NAME.fullmatch(name):
        raise ConfigError(f"rate-limit policy name {name!r} must be letters, digits, '_' or '-'")
    return name


def _async_storage_uri(uri: str) -> str:
    scheme, separator, _ = uri.partition("://")
    if not separator or not scheme:
        raise ConfigError(f"rate-limit storage {_redacted(uri)!r} is not a URI (e.g. memory://, redis://host:6379)")
    return uri if scheme.startswith(_ASYNC_SCHEME_PREFIX) else _ASYNC_SCHEME_PREFIX + uri


def _build_storage(uri: str) -> Storage:
    try:
        storage = storage_from_string(_async_storage_uri(uri))
    except (ConfigurationError, ValueError) as exc:
        detail = _redacted(uri, str(exc))
        raise ConfigError(f"rate-limit storage {_redacted(uri)!r} cannot be used: {detail}") from exc
    if not isinstance(storage, Storage):  # pragma: no cover - async+ schemes only build async storages
        raise ConfigError(f"rate-limit storage {_redacted(uri)!r} is not an async storage")
    return storage


def _build_strategy(name: str, storage: Storage, uri: str) -> Strategy:
    if name not in STRATEGIES:
        raise ConfigError(f"unknown rate-limit strategy {name!r}; use one of {', '.join(sorted(STRATEGIES))}")
    strategy_class: Callable[[Storage], Strategy] = STRATEGIES[name]
    try:
        return strategy_class(storage)
    except NotImplementedError as exc:
        raise ConfigError(f"rate-limit storage {_redacted(uri)!r} does not support {name!r}") from exc


def _redacted(uri: str, text: str | None = None) -> str:
    """``text`` (default: the URI itself) without the URI's password, for error messages."""
    text = uri if text is None else text
    try:
        password = urllib.parse.urlsplit(uri).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text
