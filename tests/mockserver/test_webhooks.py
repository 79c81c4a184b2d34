"""Real webhook deliveries to a real local receiver, verified with the independent ``standardwebhooks`` package."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.mockserver.support import (
    FAST_SCHEDULE,
    Harness,
    Received,
    WebhookReceiver,
    auth,
    make_wav,
    payload,
    validate_webhook_event,
)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def secret(vox: Harness) -> str:
    return str(vox.client.get("/v1/webhooks/secret", headers=auth()).json()["secret"])


def verify(vox: Harness, received: Received) -> dict[str, Any]:
    """standardwebhooks' own verification (signature and timestamp), then the contract's schema."""
    event: dict[str, Any] = Webhook(secret(vox)).verify(received.body, received.headers)
    validate_webhook_event(event)
    return event


def deliveries(vox: Harness) -> list[dict[str, Any]]:
    return list(vox.client.get("/__mock/webhooks").json()["deliveries"])


def wait_settled(vox: Harness, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = deliveries(vox)
        if len(found) >= count and all(d["state"] != "pending" for d in found):
            return found
        time.sleep(0.02)
    raise AssertionError(f"deliveries did not settle: {deliveries(vox)}")


def test_completed_event_is_signed_and_valid(vox: Harness, receiver: WebhookReceiver) -> None:
    job_id = vox.job_id(webhook_url=receiver.url, metadata={"customer": "acme"})
    vox.advance(1)

    (received,) = receiver.wait_for(1)
    event = verify(vox, received)
    assert event["type"] == "transcription.completed"
    assert event["timestamp"] == "2026-01-01T00:00:01Z"
    assert event["data"] == vox.status(job_id).json()
    assert event["data"]["metadata"] == {"customer": "acme"}
    assert received.headers["webhook-id"].startswith("evt_")
    assert received.headers["content-type"] == "application/json"
    (delivery,) = wait_settled(vox)
    assert delivery["event_id"] == received.headers["webhook-id"]
    assert (delivery["job_id"], delivery["url"], delivery["state"]) == (job_id, receiver.url, "delivered")
    assert delivery["event_type"] == "transcription.completed"
    assert delivery["attempts"] == [{"attempt": 1, "at": "2026-01-01T00:00:01Z", "status_code": 200, "error": None}]


def test_failed_event(vox: Harness, receiver: WebhookReceiver) -> None:
    job_id = vox.job_id(webhook_url=receiver.url, headers={"Prefer": "scenario=job-fails"})
    vox.advance(1)

    event = verify(vox, receiver.wait_for(1)[0])
    assert event["type"] == "transcription.failed"
    assert event["data"]["status"] == "failed"
    assert event["data"]["job_id"] == job_id
    assert event["data"]["error"]["code"] == "transcription_failed"


def test_no_event_before_the_end_nor_for_a_deleted_job(vox: Harness, receiver: WebhookReceiver) -> None:
    kept = vox.job_id(webhook_url=receiver.url)
    deleted = vox.job_id(webhook_url=receiver.url)
    vox.advance(0.5)
    time.sleep(0.2)
    assert receiver.received == []

    vox.client.delete(f"/v1/jobs/{deleted}", headers=auth())
    vox.advance(1)

    receiver.wait_for(1)
    time.sleep(0.2)
    assert [payload(r)["data"]["job_id"] for r in receiver.received] == [kept]


def test_event_is_noticed_without_any_request(make_vox: Callable[..., Harness], receiver: WebhookReceiver) -> None:
    vox = make_vox(clock="real", processing_time=0.2)
    vox.job_id(webhook_url=receiver.url)

    receiver.wait_for(1, timeout=5)  # nobody polled: the dispatcher's tick noticed the job ending


def test_immediate_completion_sends_at_once(make_vox: Callable[..., Harness], receiver: WebhookReceiver) -> None:
    vox = make_vox(processing_time=0)
    vox.job_id(webhook_url=receiver.url)

    verify(vox, receiver.wait_for(1)[0])


def test_retries_until_the_receiver_accepts(vox: Harness) -> None:
    with WebhookReceiver(plan=[500, 503]) as receiver:
        vox.job_id(webhook_url=receiver.url)
        vox.advance(1)

        received = receiver.wait_for(3)
        (delivery,) = wait_settled(vox)

    assert len({r.headers["webhook-id"] for r in received}) == 1
    for attempt in received:
        verify(vox, attempt)
    assert len({r.body for r in received}) == 1  # the same event every time
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(received)]
    assert gaps[0] >= FAST_SCHEDULE[0] * 0.8
    assert gaps[1] >= FAST_SCHEDULE[1] * 0.8
    assert gaps[1] > gaps[0]
    assert delivery["state"] == "delivered"
    assert [(a["attempt"], a["status_code"], a["error"] is None) for a in delivery["attempts"]] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]


def test_gives_up_after_the_schedule(vox: Harness) -> None:
    with WebhookReceiver(plan=[500] * 10) as receiver:
        vox.job_id(webhook_url=receiver.url)
        vox.advance(1)
        (delivery,) = wait_settled(vox)

    assert delivery["state"] == "failed"
    assert len(delivery["attempts"]) == len(FAST_SCHEDULE) + 1 == len(receiver.received)


def test_timeouts_and_connection_errors_are_retried(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(webhook_timeout=0.1, webhook_retry_schedule=(0.01,))
    with WebhookReceiver(delay=0.5) as slow:
        vox.job_id(webhook_url=slow.url)
        vox.job_id(webhook_url="http://127.0.0.1:9/nothing-listens-here")
        vox.advance(1)
        timed_out, refused = wait_settled(vox, 2)

    assert timed_out["state"] == refused["state"] == "failed"
    assert all(a["status_code"] is None and "0.1 s" in a["error"] for a in timed_out["attempts"])
    assert all(a["status_code"] is None and a["error"] for a in refused["attempts"])
    assert len(timed_out["attempts"]) == len(refused["attempts"]) == 2


def test_scenario_fails_then_succeeds(vox: Harness, receiver: WebhookReceiver) -> None:
    vox.job_id(webhook_url=receiver.url, headers={"Prefer": "scenario=webhook-fails-then-succeeds"})
    vox.advance(1)

    received = receiver.wait_for(3)
    (delivery,) = wait_settled(vox)
    time.sleep(0.3)
    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert [(a["status_code"], a["error"] is None) for a in delivery["attempts"]] == [
        (200, False),
        (200, False),
        (200, True),
    ]
    assert "webhook-fails-then-succeeds" in delivery["attempts"][0]["error"]
    assert delivery["state"] == "delivered"


def test_scenario_never_succeeds(vox: Harness, receiver: WebhookReceiver) -> None:
    vox.job_id(vox.file_id(make_wav(1.0), "a.scenario-webhook-never-succeeds.wav"), webhook_url=receiver.url)
    vox.advance(1)

    (delivery,) = wait_settled(vox)
    assert delivery["state"] == "failed"
    assert len(delivery["attempts"]) == len(receiver.received) == len(FAST_SCHEDULE) + 1
    assert {a["status_code"] for a in delivery["attempts"]} == {200}


def test_scenario_duplicate(vox: Harness, receiver: WebhookReceiver) -> None:
    vox.job_id(webhook_url=receiver.url, headers={"Prefer": "scenario=webhook-duplicate"})
    vox.advance(1)

    first, second = receiver.wait_for(2)
    (delivery,) = wait_settled(vox)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    verify(vox, second)
    assert delivery["state"] == "delivered"
    assert len(delivery["attempts"]) == 2


def test_reset_forgets_deliveries(vox: Harness, receiver: WebhookReceiver) -> None:
    vox.job_id(webhook_url=receiver.url)
    vox.advance(1)
    wait_settled(vox)

    vox.reset()

    assert deliveries(vox) == []


def test_each_tenant_signs_with_its_own_secret(vox: Harness, receiver: WebhookReceiver) -> None:
    from tests.mockserver.support import OTHER_KEY

    vox.job_id(key=OTHER_KEY, webhook_url=receiver.url)
    vox.advance(1)

    (received,) = receiver.wait_for(1)
    other_secret = vox.client.get("/v1/webhooks/secret", headers=auth(OTHER_KEY)).json()["secret"]
    Webhook(other_secret).verify(received.body, received.headers)
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(secret(vox)).verify(received.body, received.headers)
