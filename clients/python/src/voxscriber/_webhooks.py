"""Standard Webhooks verification of VoxScriber's event deliveries, with the standard library only.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (space-separated
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, several during a secret rotation), keyed with the
base64-decoded part of the ``whsec_`` secret. Verify over the raw body, before parsing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping

from voxscriber._errors import ConfigurationError, WebhookVerificationError
from voxscriber._models import WebhookEvent

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "verify_webhook"]

#: How far a delivery's timestamp may be from the receiver's clock, either way (the contract's 5 minutes).
DEFAULT_TOLERANCE_SECONDS = 300
_SECRET_PREFIX = "whsec_"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> WebhookEvent:
    """The event of a delivery whose signature and timestamp hold, else :class:`WebhookVerificationError`.

    ``headers`` may be any mapping (header names are matched case-insensitively); ``now`` is Unix seconds
    (default: this machine's clock).
    """
    key = _secret_key(secret)
    event_id, timestamp, signatures = _required_headers(headers)
    _check_timestamp(timestamp, time.time() if now is None else now, tolerance_seconds)
    signed = b".".join((event_id.encode(), timestamp.encode(), body))
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    if not any(_matches(expected, candidate) for candidate in signatures.split()):
        raise WebhookVerificationError("no signature in webhook-signature matches the body and the secret")
    try:
        return WebhookEvent.from_dict(json.loads(body))
    except (ValueError, TypeError, KeyError) as exc:
        raise WebhookVerificationError(f"the signed body is not a webhook event: {exc}") from exc


def _secret_key(secret: str) -> bytes:
    if not secret.startswith(_SECRET_PREFIX):
        raise ConfigurationError(f"a webhook secret starts with {_SECRET_PREFIX!r} (GET /v1/webhooks/secret)")
    encoded = secret[len(_SECRET_PREFIX) :]
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ConfigurationError(f"the webhook secret after {_SECRET_PREFIX!r} is not base64") from exc


def _required_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    missing = [name for name in names if not lowered.get(name)]
    if missing:
        raise WebhookVerificationError(f"missing webhook header(s): {', '.join(missing)}")
    return lowered["webhook-id"], lowered["webhook-timestamp"], lowered["webhook-signature"]


def _check_timestamp(timestamp: str, now: float, tolerance_seconds: float) -> None:
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError(f"webhook-timestamp {timestamp[:32]!r} is not Unix seconds")
    age = now - int(timestamp)
    if abs(age) > tolerance_seconds:
        when = "old" if age > 0 else "far in the future"
        raise WebhookVerificationError(
            f"webhook-timestamp is {abs(age):.0f} s {when}; the tolerance is {tolerance_seconds:g} s (a replay?)"
        )


def _matches(expected: bytes, candidate: str) -> bool:
    version, _, encoded = candidate.partition(",")
    if version != "v1":
        return False
    try:
        received = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return False
    return hmac.compare_digest(expected, received)
