"""Bearer authentication: parsing the header, and the hook an app plugs its key store into."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from voxcontract.errors import Unauthorized

__all__ = ["KeyResolver", "Principal", "StaticKeyResolver", "key_fingerprint", "parse_bearer"]

_MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a valid API key. ``key_id`` is stable and safe to log or use as a tenant id."""

    key_id: str
    name: str = ""


class KeyResolver(Protocol):
    """The auth hook: turn a presented token into a principal, or None when the key is unknown."""

    async def resolve(self, token: str) -> Principal | None: ...


def key_fingerprint(token: str) -> str:
    """A stable, non-reversible id of a key (the first 16 hex digits of its SHA-256)."""
    return "key_" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


class StaticKeyResolver:
    """Accepts a fixed set of keys, compared in constant time by their hashes."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = {hashlib.sha256(key.encode("utf-8")).digest(): key for key in keys}

    async def resolve(self, token: str) -> Principal | None:
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        for digest, key in self._digests.items():
            if hmac.compare_digest(digest, presented):
                return Principal(key_id=key_fingerprint(key))
        return None


def parse_bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; :class:`Unauthorized` otherwise."""
    if header is None or not header.strip():
        raise Unauthorized('Send your API key as "Authorization: Bearer <key>".', error="")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(f'The Authorization scheme must be "Bearer", not "{scheme[:32]}".', error="invalid_request")
    token = token.strip()
    if not token or " " in token or len(token) > _MAX_TOKEN_LENGTH:
        raise Unauthorized('Malformed Authorization header: expected "Bearer <key>".', error="invalid_request")
    return token
