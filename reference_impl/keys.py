"""API keys: made once and shown once, stored as their SHA-256, each with its Standard Webhooks signing secret.

:class:`KeyRing` is the reference server's :class:`voxcontract.auth.KeyResolver`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from reference_impl.db import ApiKey, rowcount, utcnow
from voxcontract.auth import Principal, key_fingerprint
from voxcontract.webhooks import generate_secret

__all__ = ["KEY_PREFIX", "KeyRing", "new_api_key"]

KEY_PREFIX = "vox_"
#: 24 random bytes are 32 url-safe base64 characters.
_KEY_BYTES = 24


def new_api_key() -> str:
    """A new API key: ``vox_`` and 32 url-safe random characters."""
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)


def _key_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class KeyRing:
    """The API keys of a deployment, in the ``api_keys`` table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, name: str, now: datetime | None = None) -> tuple[str, ApiKey]:
        """A new key and its record; the plain key is returned only here and stored nowhere."""
        token = new_api_key()
        record = ApiKey(
            key_id=key_fingerprint(token),
            key_hash=_key_hash(token),
            name=name,
            webhook_secret=generate_secret(),
            created_at=now or utcnow(),
            revoked_at=None,
        )
        with self._sessions.begin() as session:
            session.add(record)
        return token, record

    def ensure(self, token: str, name: str, now: datetime | None = None) -> bool:
        """Accept a key chosen by configuration (``VOXCONTRACT_API_KEYS``), stored hashed; False if already known."""
        key_id = key_fingerprint(token)
        with self._sessions.begin() as session:
            if session.scalar(select(ApiKey.id).where(ApiKey.key_id == key_id)) is not None:
                return False
            session.add(
                ApiKey(
                    key_id=key_id,
                    key_hash=_key_hash(token),
                    name=name,
                    webhook_secret=generate_secret(),
                    created_at=now or utcnow(),
                    revoked_at=None,
                )
            )
        return True

    def active_count(self) -> int:
        """How many keys are not revoked."""
        with self._sessions() as session:
            return len(list(session.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)))))

    def list(self) -> list[ApiKey]:
        """Every key's record, revoked ones included, oldest first."""
        with self._sessions() as session:
            return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))

    def revoke(self, key_id: str, now: datetime | None = None) -> bool:
        """Refuse the key from now on; False when there is no such key or it was already revoked."""
        statement = (
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now or utcnow())
        )
        with self._sessions.begin() as session:
            return rowcount(session, statement) == 1

    def lookup(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise (the hashes compared in constant time)."""
        with self._sessions() as session:
            record = session.scalar(select(ApiKey).where(ApiKey.key_id == key_fingerprint(token)))
        if record is None or not hmac.compare_digest(record.key_hash, _key_hash(token)):
            return None
        if record.revoked_at is not None:
            return None
        return Principal(key_id=record.key_id, name=record.name)

    async def resolve(self, token: str) -> Principal | None:
        """:class:`voxcontract.auth.KeyResolver`: the lookup, off the event loop."""
        return await asyncio.to_thread(self.lookup, token)

    def webhook_secret(self, key_id: str) -> str | None:
        """The key's ``whsec_`` signing secret, or None for an unknown key."""
        with self._sessions() as session:
            return session.scalar(select(ApiKey.webhook_secret).where(ApiKey.key_id == key_id))
