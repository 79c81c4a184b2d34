"""The webhook receiver: it records deliveries and fails (on a stalling path: holds) each event's first attempt."""

from __future__ import annotations

import threading

import httpx
import pytest

from conformance.receiver import DEFAULT_PATH, Delivery, WebhookReceiver, parse_listen, stall_seconds


def test_the_first_attempt_of_each_event_fails_and_retries_succeed() -> None:
    with WebhookReceiver() as receiver:
        url = receiver.public_url
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith(DEFAULT_PATH)
        statuses = [
            httpx.post(url, content=b"{}", headers={"webhook-id": event}).status_code
            for event in ("evt_a", "evt_a", "evt_b", "evt_a")
        ]
        deliveries = receiver.wait_for(lambda seen: len(seen) >= 4, timeout=5)
    assert statuses == [500, 200, 500, 200]
    assert [(item.webhook_id, item.attempt, item.answered) for item in deliveries] == [
        ("evt_a", 1, 500),
        ("evt_a", 2, 200),
        ("evt_b", 1, 500),
        ("evt_a", 3, 200),
    ]
    assert deliveries[0].headers["webhook-id"] == "evt_a"
    assert deliveries[0].body == b"{}"


def test_waiting_gives_up_at_the_deadline() -> None:
    with WebhookReceiver() as receiver:
        assert receiver.wait_for(lambda seen: bool(seen), timeout=0.1) == []


def test_a_public_url_is_announced_as_given() -> None:
    receiver = WebhookReceiver("0.0.0.0", 8999, public_url="https://hooks.example.com/x")
    assert receiver.public_url == "https://hooks.example.com/x"
    assert WebhookReceiver("0.0.0.0", 8999).public_url == f"http://127.0.0.1:8999{DEFAULT_PATH}"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:8080", ("::1", 8080)), ("host:65535", ("host", 65535))],
)
def test_listen_addresses(value: str, parsed: tuple[str, int]) -> None:
    assert parse_listen(value) == parsed


@pytest.mark.parametrize("value", ["8080", "host:", ":80", "host:http", "host:70000"])
def test_bad_listen_addresses(value: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(value)


def test_a_stalling_path_holds_only_the_first_attempt_and_lets_the_receiver_stop() -> None:
    receiver = WebhookReceiver().start()
    url = receiver.stalling_url(600)
    assert url == receiver.public_url + "/stall-600"
    first: list[int] = []
    held = threading.Thread(target=lambda: first.append(_post(url, "evt_s").status_code))
    held.start()
    receiver.wait_for(lambda seen: bool(seen), timeout=10)
    assert _post(url, "evt_s").status_code == 200  # a later attempt of the same event: at once
    assert held.is_alive()  # the first is still held
    assert first == []
    receiver.stop()  # ends the held answer instead of waiting 600 s for it
    held.join(timeout=30)
    assert not held.is_alive()
    assert first == [200]
    deliveries = receiver.deliveries()
    assert [(item.attempt, item.answered, item.path) for item in deliveries] == [
        (1, 200, f"{DEFAULT_PATH}/stall-600"),
        (2, 200, f"{DEFAULT_PATH}/stall-600"),
    ]


@pytest.mark.parametrize(
    ("path", "seconds"),
    [("/hooks/stall-6", 6.0), ("/stall-10.5/", 10.5), ("/hooks", None), ("/stall-6/x", None), ("/stall-", None)],
)
def test_stall_seconds_come_from_the_last_path_segment(path: str, seconds: float | None) -> None:
    assert stall_seconds(path) == seconds


def test_a_stalling_url_keeps_the_public_urls_path_and_query() -> None:
    receiver = WebhookReceiver("0.0.0.0", 8999, public_url="https://hooks.example.com/x/?token=1")
    assert receiver.stalling_url(6.6) == "https://hooks.example.com/x/stall-6.6?token=1"


def _post(url: str, event: str) -> httpx.Response:
    return httpx.post(url, content=b"{}", headers={"webhook-id": event}, timeout=60)


def test_a_delivery_names_the_job_its_event_announces() -> None:
    def delivery(body: bytes) -> Delivery:
        return Delivery("evt_1", {}, body, 0.0, 1, 200, "/")

    assert delivery(b'{"type": "transcription.completed", "data": {"job_id": "job_1"}}').job_id == "job_1"
    for body in (b"not json", b"[]", b'{"data": []}', b'{"data": {"job_id": 7}}'):
        assert delivery(body).job_id is None
