"""Standard Webhooks signatures for the contract's webhook callback, through ``standardwebhooks``.

A delivery carries ``webhook-id`` (the event id), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, several space-separated
during a secret rotation). The HMAC itself is always computed by ``standardwebhooks.Webhook.sign``.

Bodies must be UTF-8 (they are JSON text): ``standardwebhooks`` signs a ``str`` and decodes ``bytes``
strictly as UTF-8, so other bytes cannot be signed and never verify.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

from voxcontract.errors import ConfigError, VoxcontractError

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "EVENT_ID_PREFIX",
    "SECRET_PREFIX",
    "SignedHeaders",
    "WebhookSigner",
    "WebhookVerificationError",
    "generate_secret",
    "new_event_id",
]

EVENT_ID_PREFIX = "evt_"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

_EVENT_ID_ALPHABET = string.ascii_letters + string.digits
_EVENT_ID_LENGTH = 24
_SECRET_KEY_BYTES = 32
_MIN_SECRET_KEY_BYTES = 24
_SIGNATURE_VERSION = "v1"
# The contract's WebhookTimestamp pattern; standardwebhooks itself would take "1.7e9" or " 17".
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class WebhookVerificationError(VoxcontractError):
    """A webhook delivery's headers do not prove that the holder of the secret sent this body."""


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_KEY_BYTES)).decode("ascii")


def new_event_id() -> str:
    """A new event id: ``evt_`` and 24 random letters and digits (the contract's ``WebhookId``)."""
    return EVENT_ID_PREFIX + "".join(secrets.choice(_EVENT_ID_ALPHABET) for _ in range(_EVENT_ID_LENGTH))


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The three Standard Webhooks headers of one delivery attempt."""

    webhook_id: str
    webhook_timestamp: str
    webhook_signature: str

    def as_dict(self) -> dict[str, str]:
        """The headers by their HTTP names."""
        return {
            HEADER_ID: self.webhook_id,
            HEADER_TIMESTAMP: self.webhook_timestamp,
            HEADER_SIGNATURE: self.webhook_signature,
        }


class WebhookSigner:
    """Signs webhook bodies and verifies deliveries with one ``whsec_`` secret."""

    def __init__(self, secret: str) -> None:
        """Raise :class:`ConfigError` unless ``secret`` is ``whsec_`` and base64 of at least 24 bytes."""
        # The key goes in as bytes: standardwebhooks' own decoding silently drops non-base64 characters.
        self._webhook = Webhook(_secret_key(secret))

    def sign(self, event_id: str, body: bytes, timestamp: datetime | int | None = None) -> SignedHeaders:
        """Sign a UTF-8 body for ``event_id`` at ``timestamp`` (Unix seconds or a datetime; default now).

        A naive datetime is taken as UTC. Raises ``ValueError`` for a body that is not UTF-8 or a
        timestamp outside 0 .. year 9999.
        """
        seconds = _unix_seconds(timestamp)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("a webhook body must be UTF-8 (JSON text)") from exc
        return SignedHeaders(event_id, str(seconds), self._signature(event_id, seconds, text))

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
        now: datetime | None = None,
    ) -> None:
        """Check a delivery's headers against its raw body; raise :class:`WebhookVerificationError` if not.

        Header names are case-insensitive; any one of several space-separated signatures may match;
        the timestamp may be at most ``tolerance_seconds`` away from ``now`` (default: the clock).
        """
        # Not standardwebhooks' verify(): its tolerance is a fixed 5 minutes from its own clock (no `now`
        # to inject), it accepts timestamps like "1.7e9" and it raises ValueError/binascii.Error instead
        # of its verification error on a malformed signature. It still computes the HMAC, via sign().
        if tolerance_seconds < 0:
            raise ValueError("tolerance_seconds must be >= 0")
        event_id, timestamp, signatures = _required_headers(headers)
        seconds = _parse_timestamp(timestamp)
        _check_freshness(seconds, _now_seconds(now), tolerance_seconds)
        expected = self._signature(event_id, seconds, _body_text(body))
        if not any(_signature_matches(expected, candidate) for candidate in signatures.split()):
            raise WebhookVerificationError("no matching signature in webhook-signature")

    def _signature(self, event_id: str, seconds: int, text: str) -> str:
        signature: str = self._webhook.sign(event_id, datetime.fromtimestamp(seconds, tz=UTC), text)
        return signature


def _secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ConfigError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as exc:
        raise ConfigError(f"the webhook secret after {SECRET_PREFIX!r} is not base64") from exc
    if len(key) < _MIN_SECRET_KEY_BYTES:
        raise ConfigError(f"a webhook secret needs at least {_MIN_SECRET_KEY_BYTES} key bytes, got {len(key)}")
    return key


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _unix_seconds(timestamp: datetime | int | None) -> int:
    if timestamp is None:
        seconds = math.floor(datetime.now(UTC).timestamp())
    elif isinstance(timestamp, datetime):
        seconds = math.floor(_as_utc(timestamp).timestamp())
    else:
        seconds = int(timestamp)
    if seconds < 0:
        raise ValueError(f"webhook timestamp {seconds} is before 1970")
    try:
        datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"webhook timestamp {seconds} is out of range") from exc
    return seconds


def _now_seconds(now: datetime | None) -> float:
    return _as_utc(now or datetime.now(UTC)).timestamp()


def _required_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    names = (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
    missing = [name for name in names if not lowered.get(name)]
    if missing:
        raise WebhookVerificationError(f"missing webhook header(s): {', '.join(missing)}")
    return lowered[HEADER_ID], lowered[HEADER_TIMESTAMP], lowered[HEADER_SIGNATURE]


def _parse_timestamp(value: str) -> int:
    if not _TIMESTAMP.fullmatch(value):
        raise WebhookVerificationError(f"webhook-timestamp {value[:32]!r} is not Unix seconds")
    seconds = int(value)
    try:
        datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise WebhookVerificationError(f"webhook-timestamp {value} is out of range") from exc
    return seconds


def _check_freshness(seconds: int, now: float, tolerance_seconds: int) -> None:
    age = now - seconds
    if age > tolerance_seconds:
        raise WebhookVerificationError(
            f"webhook-timestamp too old: signed {math.floor(age)} s ago, tolerance {tolerance_seconds} s"
        )
    if -age > tolerance_seconds:
        raise WebhookVerificationError(
            f"webhook-timestamp too new: {math.ceil(-age)} s in the future, tolerance {tolerance_seconds} s"
        )


def _body_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookVerificationError("webhook body is not UTF-8, so it cannot have been signed") from exc


def _signature_matches(expected: str, candidate: str) -> bool:
    version, _, encoded = candidate.partition(",")
    if version != _SIGNATURE_VERSION:
        return False
    try:
        received = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return False
    return hmac.compare_digest(base64.b64decode(expected.partition(",")[2]), received)
