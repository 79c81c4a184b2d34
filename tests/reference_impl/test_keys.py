"""API keys: shown once, stored hashed, revocable, each with a Standard Webhooks secret."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reference_impl.db import create_schema, make_engine, make_sessions
from reference_impl.keys import KeyRing
from voxcontract.auth import KeyResolver, Principal, key_fingerprint
from voxcontract.spec import load_spec

SECRET_PATTERN = load_spec()["components"]["schemas"]["WebhookSecret"]["properties"]["secret"]["pattern"]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'voxcontract.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ring(engine: Engine) -> KeyRing:
    return KeyRing(make_sessions(engine))


def resolve(resolver: KeyResolver, token: str) -> Principal | None:
    return asyncio.run(resolver.resolve(token))


def test_a_created_key_resolves_to_its_principal(ring: KeyRing) -> None:
    token, record = ring.create("ci")
    assert re.fullmatch(r"vox_[A-Za-z0-9_-]{32}", token)
    assert record.key_id == key_fingerprint(token)
    assert resolve(ring, token) == Principal(key_id=record.key_id, name="ci")


def test_unknown_and_near_miss_keys_are_refused(ring: KeyRing) -> None:
    token, _ = ring.create("ci")
    assert resolve(ring, "vox_" + "A" * 32) is None
    assert resolve(ring, token[:-1] + ("B" if token[-1] != "B" else "C")) is None


def test_only_the_hash_is_stored(ring: KeyRing, engine: Engine, tmp_path: Path) -> None:
    token, record = ring.create("ci")
    assert record.key_hash == hashlib.sha256(token.encode()).hexdigest()
    engine.dispose()  # checkpoint the WAL into the database file
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert token.encode() not in stored
    assert token[len("vox_") :].encode() not in stored
    assert record.key_hash.encode() in stored


def test_a_revoked_key_is_refused(ring: KeyRing) -> None:
    token, record = ring.create("ci")
    kept, _ = ring.create("kept")
    assert ring.revoke(record.key_id)
    assert not ring.revoke(record.key_id)
    assert not ring.revoke("key_unknown")
    assert resolve(ring, token) is None
    assert resolve(ring, kept) is not None
    listed = {key.name: key.revoked_at is not None for key in ring.list()}
    assert listed == {"ci": True, "kept": False}


def test_each_key_has_its_own_webhook_secret_in_the_contract_format(ring: KeyRing) -> None:
    _, first = ring.create("one")
    _, second = ring.create("two")
    secrets = [ring.webhook_secret(first.key_id), ring.webhook_secret(second.key_id)]
    assert all(secret and re.fullmatch(SECRET_PATTERN, secret) for secret in secrets)
    assert secrets[0] != secrets[1]
    assert ring.webhook_secret("key_unknown") is None


def test_keys_outlive_a_restart(ring: KeyRing, engine: Engine) -> None:
    token, record = ring.create("ci")
    engine.dispose()
    again = make_engine(str(engine.url))
    try:
        principal = resolve(KeyRing(make_sessions(again)), token)
    finally:
        again.dispose()
    assert principal is not None
    assert principal.key_id == record.key_id
