"""Standard Webhooks signing: interoperable with ``standardwebhooks`` and with a from-scratch HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from voxcontract.errors import ConfigError, VoxcontractError
from voxcontract.spec import load_spec
from voxcontract.webhooks import (
    EVENT_ID_PREFIX,
    SignedHeaders,
    WebhookSigner,
    WebhookVerificationError,
    generate_secret,
    new_event_id,
)

SPEC = load_spec()
SECRET_PATTERN = SPEC["components"]["schemas"]["WebhookSecret"]["properties"]["secret"]["pattern"]
ID_PATTERN = SPEC["components"]["parameters"]["WebhookId"]["schema"]["pattern"]
TIMESTAMP_PATTERN = SPEC["components"]["parameters"]["WebhookTimestamp"]["schema"]["pattern"]
SIGNATURE_PATTERN = SPEC["components"]["parameters"]["WebhookSignature"]["schema"]["pattern"]

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
EVENT_ID = "evt_2ZqT8mB4xW7rK1pL"
BODY = b'{"type":"transcription.completed"}'
SIGNED_AT = 1_795_428_907
TOLERANCE = 300

secrets_ = st.binary(min_size=24, max_size=64).map(lambda key: "whsec_" + base64.b64encode(key).decode())
event_ids = st.from_regex(ID_PATTERN, fullmatch=True)
texts = st.text(alphabet=st.characters(codec="utf-8"))
bodies = texts.map(str.encode)
# 1970 .. 2100: every value the contract's 12 digits allow that a clock will plausibly show.
timestamps = st.integers(min_value=0, max_value=4_102_444_800)
offsets = st.integers(min_value=-TOLERANCE, max_value=TOLERANCE)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def now_seconds() -> int:
    return int(datetime.now(UTC).timestamp())


def reference_signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The contract's signature, written from its description and nothing else."""
    key = base64.b64decode(secret[len("whsec_") :])
    digest = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed(body: bytes = BODY, *, secret: str = SECRET, timestamp: int = SIGNED_AT) -> dict[str, str]:
    return WebhookSigner(secret).sign(EVENT_ID, body, timestamp).as_dict()


def verify(body: bytes, headers: dict[str, str], *, now: int = SIGNED_AT, secret: str = SECRET) -> None:
    WebhookSigner(secret).verify(body, headers, now=at(now))


# --- interoperability ---------------------------------------------------------------------------------


@given(secret=secrets_, event_id=event_ids, text=texts, offset=offsets)
def test_signer_headers_verify_with_standardwebhooks(secret: str, event_id: str, text: str, offset: int) -> None:
    # standardwebhooks checks the timestamp against its own clock: sign near now.
    headers = WebhookSigner(secret).sign(event_id, text.encode(), now_seconds() + offset // 2).as_dict()
    assert Webhook(secret).verify(text, headers, json_parse=False) is None


@given(secret=secrets_, event_id=event_ids, body=bodies, timestamp=timestamps, offset=offsets)
def test_signer_matches_reference_hmac(secret: str, event_id: str, body: bytes, timestamp: int, offset: int) -> None:
    signer = WebhookSigner(secret)
    headers = signer.sign(event_id, body, timestamp)
    assert headers == SignedHeaders(event_id, str(timestamp), reference_signature(secret, event_id, timestamp, body))
    signer.verify(body, headers.as_dict(), now=at(timestamp + offset))


@given(secret=secrets_, event_id=event_ids, text=texts, timestamp=timestamps, offset=offsets)
def test_standardwebhooks_headers_verify_with_signer(
    secret: str, event_id: str, text: str, timestamp: int, offset: int
) -> None:
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": Webhook(secret).sign(event_id, at(timestamp), text),
    }
    WebhookSigner(secret).verify(text.encode(), headers, now=at(timestamp + offset))


@given(secret=secrets_, event_id=event_ids, body=bodies, timestamp=timestamps)
def test_signed_headers_match_the_contract(secret: str, event_id: str, body: bytes, timestamp: int) -> None:
    headers = WebhookSigner(secret).sign(event_id, body, timestamp).as_dict()
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert re.fullmatch(ID_PATTERN, headers["webhook-id"])
    assert re.fullmatch(TIMESTAMP_PATTERN, headers["webhook-timestamp"])
    assert re.fullmatch(SIGNATURE_PATTERN, headers["webhook-signature"])


# --- rejection ----------------------------------------------------------------------------------------


@given(body=bodies, data=st.data())
def test_any_change_to_the_body_is_rejected(body: bytes, data: st.DataObject) -> None:
    headers = signed(body)
    if body:
        index = data.draw(st.integers(0, len(body) - 1))
        flip = data.draw(st.integers(1, 255))
        tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    else:
        tampered = data.draw(st.binary(min_size=1))
    with pytest.raises(WebhookVerificationError):
        verify(tampered, headers)


@given(timestamp=timestamps, late=st.integers(min_value=1, max_value=10**7))
def test_stale_timestamp_is_rejected(timestamp: int, late: int) -> None:
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(BODY, signed(timestamp=timestamp), now=timestamp + TOLERANCE + late)


@given(timestamp=timestamps, early=st.integers(min_value=1, max_value=10**7))
def test_future_timestamp_is_rejected(timestamp: int, early: int) -> None:
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(BODY, signed(timestamp=timestamp), now=timestamp - TOLERANCE - early)


def test_tolerance_bounds_are_inclusive_and_configurable() -> None:
    headers = signed()
    verify(BODY, headers, now=SIGNED_AT + TOLERANCE)
    verify(BODY, headers, now=SIGNED_AT - TOLERANCE)
    WebhookSigner(SECRET).verify(BODY, headers, now=at(SIGNED_AT + 10), tolerance_seconds=10)
    with pytest.raises(WebhookVerificationError, match="too old"):
        WebhookSigner(SECRET).verify(BODY, headers, now=at(SIGNED_AT + 11), tolerance_seconds=10)
    with pytest.raises(ValueError, match="tolerance"):
        WebhookSigner(SECRET).verify(BODY, headers, now=at(SIGNED_AT), tolerance_seconds=-1)


def test_default_now_is_the_clock() -> None:
    signer = WebhookSigner(SECRET)
    signer.verify(BODY, signer.sign(EVENT_ID, BODY).as_dict())
    with pytest.raises(WebhookVerificationError, match="too old"):
        signer.verify(BODY, signer.sign(EVENT_ID, BODY, now_seconds() - TOLERANCE - 60).as_dict())


@given(secret=secrets_, other=secrets_, body=bodies)
def test_wrong_secret_is_rejected(secret: str, other: str, body: bytes) -> None:
    assume(base64.b64decode(secret[6:]) != base64.b64decode(other[6:]))
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(body, signed(body, secret=secret), secret=other)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize("value", [None, ""])
def test_missing_header_is_rejected(name: str, value: str | None) -> None:
    headers = signed()
    if value is None:
        del headers[name]
    else:
        headers[name] = value
    with pytest.raises(WebhookVerificationError, match=f"missing webhook header.*{name}"):
        verify(BODY, headers)


@pytest.mark.parametrize(
    "signature",
    [
        "garbage",
        "v1",
        "v1,",
        "v1,!!!!",
        "v1,abc",
        "v1,a,b",
        "v1," + base64.b64encode(b"\0" * 32).decode(),
        "v2," + reference_signature(SECRET, EVENT_ID, SIGNED_AT, BODY)[3:],
        reference_signature(SECRET, EVENT_ID, SIGNED_AT, BODY)[3:],
    ],
)
def test_garbage_signature_is_rejected(signature: str) -> None:
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(BODY, {**signed(), "webhook-signature": signature})


@pytest.mark.parametrize("timestamp", ["abc", "1.7e9", "-5", f"{SIGNED_AT}.0", f" {SIGNED_AT}", "9" * 13])
def test_malformed_timestamp_is_rejected(timestamp: str) -> None:
    with pytest.raises(WebhookVerificationError, match="webhook-timestamp"):
        verify(BODY, {**signed(), "webhook-timestamp": timestamp})


def test_timestamp_beyond_the_datetime_range_is_rejected() -> None:
    with pytest.raises(WebhookVerificationError, match="out of range"):
        verify(BODY, {**signed(), "webhook-timestamp": "9" * 12})


def test_verification_error_is_a_voxcontract_error() -> None:
    assert issubclass(WebhookVerificationError, VoxcontractError)


# --- headers, rotation, bodies ------------------------------------------------------------------------


@given(secret=secrets_, old=secrets_, body=bodies, old_first=st.booleans())
def test_rotation_accepts_any_matching_signature(secret: str, old: str, body: bytes, old_first: bool) -> None:
    current = signed(body, secret=secret)["webhook-signature"]
    previous = signed(body, secret=old)["webhook-signature"]
    both = f"{previous} {current}" if old_first else f"{current} {previous}"
    verify(body, {**signed(body, secret=secret), "webhook-signature": both}, secret=secret)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.upper() if i % 2 else name.title(): value for i, (name, value) in enumerate(signed().items())}
    verify(BODY, headers)


def test_non_utf8_bodies_cannot_be_signed_or_verified() -> None:
    # standardwebhooks signs a str and decodes bytes strictly as UTF-8; bodies are JSON text anyway.
    with pytest.raises(ValueError, match="UTF-8"):
        WebhookSigner(SECRET).sign(EVENT_ID, b"\xff\xfe")
    headers = {**signed(), "webhook-signature": reference_signature(SECRET, EVENT_ID, SIGNED_AT, b"\xff")}
    with pytest.raises(WebhookVerificationError, match="UTF-8"):
        verify(b"\xff", headers)


def test_sign_accepts_ints_and_datetimes_in_any_zone() -> None:
    signer = WebhookSigner(SECRET)
    expected = signer.sign(EVENT_ID, BODY, SIGNED_AT)
    plus_two = at(SIGNED_AT).astimezone(timezone(timedelta(hours=2)))
    naive_utc = at(SIGNED_AT).replace(tzinfo=None)
    assert signer.sign(EVENT_ID, BODY, at(SIGNED_AT) + timedelta(microseconds=999_999)) == expected
    assert signer.sign(EVENT_ID, BODY, plus_two) == expected
    assert signer.sign(EVENT_ID, BODY, naive_utc) == expected
    assert abs(int(signer.sign(EVENT_ID, BODY).webhook_timestamp) - now_seconds()) <= 2


@pytest.mark.parametrize("timestamp", [-1, 10**12])
def test_sign_rejects_timestamps_out_of_range(timestamp: int) -> None:
    with pytest.raises(ValueError, match="webhook timestamp"):
        WebhookSigner(SECRET).sign(EVENT_ID, BODY, timestamp)


# --- secrets and ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "abc",
        base64.b64encode(bytes(32)).decode(),
        "whsec_",
        "whsec_!!!!" + "A" * 40,
        "whsec_" + base64.b64encode(bytes(23)).decode(),
        "WHSEC_" + base64.b64encode(bytes(32)).decode(),
    ],
)
def test_bad_secret_is_a_config_error(secret: str) -> None:
    with pytest.raises(ConfigError, match="webhook secret"):
        WebhookSigner(secret)


def test_bad_secret_message_does_not_leak_it() -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookSigner("whsec_s3cr3t!" + "A" * 40)
    assert "s3cr3t" not in str(caught.value)


def test_unpadded_secret_is_accepted() -> None:
    key = bytes(range(25))
    unpadded = "whsec_" + base64.b64encode(key).decode().rstrip("=")
    padded = "whsec_" + base64.b64encode(key).decode()
    assert WebhookSigner(unpadded).sign(EVENT_ID, BODY, SIGNED_AT) == WebhookSigner(padded).sign(
        EVENT_ID, BODY, SIGNED_AT
    )


def test_generate_secret_matches_the_contract_and_is_unique() -> None:
    made = {generate_secret() for _ in range(1000)}
    assert len(made) == 1000
    for secret in made:
        assert re.fullmatch(SECRET_PATTERN, secret)
        assert len(base64.b64decode(secret[len("whsec_") :], validate=True)) == 32
    WebhookSigner(made.pop())


def test_new_event_id_matches_the_contract_and_is_unique() -> None:
    made = {new_event_id() for _ in range(1000)}
    assert len(made) == 1000
    for event_id in made:
        assert event_id.startswith(EVENT_ID_PREFIX)
        assert len(event_id) == len(EVENT_ID_PREFIX) + 24
        assert re.fullmatch(ID_PATTERN, event_id)
