"""The dispatcher as a unit, over httpx's MockTransport: retries, shutdown and resumption, thread hand-over."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import httpx

from mockserver.lifecycle import Timeline
from mockserver.records import StoredJob
from mockserver.settings import MockSettings
from mockserver.state import MockState
from mockserver.webhooks import WebhookDispatcher
from voxcontract.transcription import JobOptions
from voxcontract.webhooks import WebhookSigner


def setup(
    statuses: list[int], schedule: tuple[float, ...] = (0.01, 0.01, 0.01)
) -> tuple[MockState, WebhookDispatcher, list[httpx.Request]]:
    """A dispatcher whose receiver answers ``statuses`` in turn (then 200) and records every request."""
    state = MockState(MockSettings(clock="manual", webhook_retry_schedule=schedule))
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses.pop(0) if statuses else 200)

    return state, WebhookDispatcher(state, transport=httpx.MockTransport(answer)), seen


def add_job(state: MockState) -> StoredJob:
    job = StoredJob(
        job_id=state.ids.next("job"),
        tenant="key_t",
        seq=state.next_seq(),
        file_id="file_00000000",
        options=JobOptions(webhook_url="https://hooks.test/h"),
        metadata={},
        timeline=Timeline(created=state.now(), processing_time=0.0, fails=True),
        transcript=None,
    )
    state.add_job(job)
    return job


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def test_retries_then_delivers_with_valid_signatures() -> None:
    state, dispatcher, seen = setup([500, 502])

    async def run() -> None:
        await dispatcher.start()
        add_job(state)
        state.refresh()
        await until(lambda: dispatcher.deliveries[0].state != "pending")
        await dispatcher.stop()

    asyncio.run(run())

    (delivery,) = dispatcher.deliveries
    assert (delivery.state, delivery.event_type) == ("delivered", "transcription.failed")
    assert [a.status_code for a in delivery.attempts] == [500, 502, 200]
    signer = WebhookSigner(state.webhook_secret("key_t"))
    for request in seen:
        signer.verify(request.content, dict(request.headers))
        assert request.headers["webhook-id"] == delivery.event_id


def test_a_shutdown_mid_retry_resumes_after_a_restart() -> None:
    state, dispatcher, seen = setup([500], schedule=(30.0,))

    async def first_run() -> None:
        await dispatcher.start()
        add_job(state)
        state.refresh()
        await until(lambda: len(dispatcher.deliveries[0].attempts) == 1)
        await dispatcher.stop()  # cancelled while it waits 30 s for the retry

    async def second_run() -> None:
        await dispatcher.start()
        await until(lambda: dispatcher.deliveries[0].state == "delivered")
        await dispatcher.stop()

    asyncio.run(first_run())
    assert dispatcher.deliveries[0].state == "pending"
    asyncio.run(second_run())
    assert [(a.attempt, a.status_code) for a in dispatcher.deliveries[0].attempts] == [(1, 500), (2, 200)]
    assert len(seen) == 2


def test_refresh_from_another_thread_hands_over_to_the_loop() -> None:
    state, dispatcher, seen = setup([])

    async def run() -> None:
        await dispatcher.start()
        add_job(state)
        worker = threading.Thread(target=state.refresh)
        worker.start()
        worker.join()
        await until(lambda: bool(dispatcher.deliveries) and dispatcher.deliveries[0].state == "delivered")
        await dispatcher.stop()

    asyncio.run(run())
    assert len(seen) == 1


def test_without_a_running_loop_events_wait_for_the_start() -> None:
    state, dispatcher, seen = setup([])
    add_job(state)
    state.refresh()
    assert dispatcher.deliveries[0].state == "pending"
    assert seen == []

    async def run() -> None:
        await dispatcher.start()
        await until(lambda: dispatcher.deliveries[0].state == "delivered")
        await dispatcher.stop()

    asyncio.run(run())
