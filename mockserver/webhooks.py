"""Real, signed webhook deliveries with retries, every attempt recorded for ``GET /__mock/webhooks``.

When a job with a ``webhook_url`` ends (on the mock clock), one event is created: an ``evt_`` id, a body
``{"type", "timestamp", "data": <the job at its end>}``. It is POSTed with httpx, signed per Standard Webhooks with
the tenant's secret (the same ``webhook-id`` on every attempt, a fresh timestamp and signature each time); https
receivers must present a certificate for their host name from a trusted CA (``settings.ca_bundle``, else certifi's).
A non-2xx answer, a timeout or a connection error (a refused certificate included) is retried after
``settings.webhook_retry_schedule`` (real seconds, ±20 % jitter from an RNG seeded by the seed and the event id), at
most ``len(schedule) + 1`` attempts in all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from mockserver.clock import format_timestamp
from mockserver.ids import derive_bytes
from mockserver.records import StoredJob
from mockserver.scenarios import Scenario
from mockserver.state import MockState
from voxcontract import __version__
from voxcontract.api import job_document
from voxcontract.tls import client_ssl_context
from voxcontract.webhooks import WebhookSigner

__all__ = ["Attempt", "Delivery", "WebhookDispatcher"]

logger = logging.getLogger(__name__)

DeliveryState = Literal["pending", "delivered", "failed"]

TICK_SECONDS = 0.05
_JITTER = 0.2
_USER_AGENT = f"voxcontract-mock/{__version__}"


@dataclass(slots=True)
class Attempt:
    """One POST of an event."""

    attempt: int
    at: str
    status_code: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "at": self.at, "status_code": self.status_code, "error": self.error}


@dataclass(slots=True)
class Delivery:
    """One event for one job, and what happened to it."""

    event_id: str
    job_id: str
    url: str
    event_type: str
    body: bytes
    secret: str
    scenario: Scenario | None
    state: DeliveryState = "pending"
    attempts: list[Attempt] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "job_id": self.job_id,
            "url": self.url,
            "event_type": self.event_type,
            "state": self.state,
            "attempts": [attempt.to_dict() for attempt in self.attempts],
        }

    def forced_failure(self, attempt: int) -> bool:
        """Whether a webhook scenario makes this attempt count as failed whatever the receiver answers."""
        forced = self.scenario.webhook_forced_failures if self.scenario else 0
        return forced < 0 or attempt <= forced


class WebhookDispatcher:
    """Creates events as jobs end and delivers them on the running event loop (started by the app's lifespan)."""

    def __init__(self, state: MockState, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.state = state
        self.settings = state.settings
        self.deliveries: list[Delivery] = []
        self._transport = transport
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None
        state.on_job_terminal(self._create_event)

    @property
    def running(self) -> bool:
        return self._loop is not None

    async def start(self) -> None:
        """Start delivering (and the tick that notices jobs ending while nobody asks)."""
        self._loop = asyncio.get_running_loop()
        self._ticker = asyncio.create_task(self._tick(), name="mock-webhook-tick")
        for delivery in self.deliveries:
            if delivery.state == "pending":
                self._launch(delivery)

    async def stop(self) -> None:
        """Cancel the tick and every delivery in flight, and wait for them."""
        tasks = [*self._tasks.values(), *([self._ticker] if self._ticker else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._ticker = None
        self._loop = None

    def reset(self) -> None:
        """Forget every delivery and cancel those in flight (the tick keeps running)."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self.deliveries.clear()

    async def _tick(self) -> None:
        while True:
            try:
                self.state.refresh()
            except Exception:  # pragma: no cover - a bug here must not stop deliveries for good
                logger.exception("webhook tick failed")
            await asyncio.sleep(TICK_SECONDS)

    def _create_event(self, job: StoredJob) -> None:
        ends_at = job.timeline.ends_at
        if job.webhook_url is None or ends_at is None:
            return
        event_type = f"transcription.{job.timeline.final_status}"
        payload = {
            "type": event_type,
            "timestamp": format_timestamp(ends_at),
            "data": job_document(job.record(ends_at)),
        }
        delivery = Delivery(
            event_id=self.state.ids.next("event"),
            job_id=job.job_id,
            url=job.webhook_url,
            event_type=event_type,
            body=json.dumps(payload, separators=(",", ":")).encode("utf-8"),
            secret=self.state.webhook_secret(job.tenant),
            scenario=job.scenario,
        )
        self.deliveries.append(delivery)
        logger.info("webhook %s for %s: %s", delivery.event_id, job.job_id, event_type)
        if self.running:
            self._launch(delivery)

    def _launch(self, delivery: Delivery) -> None:
        if delivery.event_id in self._tasks or self._loop is None:
            return
        if not _runs_on(self._loop):  # refreshed from another thread (a test, a plugin): hand over to the loop
            self._loop.call_soon_threadsafe(self._launch, delivery)
            return
        task = self._loop.create_task(self._deliver(delivery), name=f"webhook-{delivery.event_id}")
        self._tasks[delivery.event_id] = task
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        # Only this task's entry: after a reset the same event id may already belong to a new delivery.
        for event_id, running in list(self._tasks.items()):
            if running is task:
                del self._tasks[event_id]

    async def _deliver(self, delivery: Delivery) -> None:
        schedule = self.settings.webhook_retry_schedule
        rng = random.Random(derive_bytes(self.settings.seed, "jitter", delivery.event_id))
        signer = WebhookSigner(delivery.secret)
        async with httpx.AsyncClient(
            timeout=self.settings.webhook_timeout,
            trust_env=False,
            verify=client_ssl_context(self.settings.ca_bundle),
            transport=self._transport,
        ) as client:
            # Resumes after the attempts already made (a delivery cut short by a shutdown restarts with the app).
            for number in range(len(delivery.attempts) + 1, len(schedule) + 2):
                if await self._attempt(client, signer, delivery, number):
                    delivery.state = "delivered"
                    if delivery.scenario is not None and delivery.scenario.webhook_duplicate:
                        await self._attempt(client, signer, delivery, number + 1)
                    return
                if number <= len(schedule):
                    await asyncio.sleep(schedule[number - 1] * rng.uniform(1 - _JITTER, 1 + _JITTER))
        delivery.state = "failed"
        logger.warning(
            "webhook %s to %s failed after %d attempts", delivery.event_id, delivery.url, len(delivery.attempts)
        )

    async def _attempt(self, client: httpx.AsyncClient, signer: WebhookSigner, delivery: Delivery, number: int) -> bool:
        headers = signer.sign(delivery.event_id, delivery.body).as_dict()
        headers.update({"Content-Type": "application/json", "User-Agent": _USER_AGENT})
        status_code: int | None = None
        error: str | None = None
        try:
            response = await client.post(delivery.url, content=delivery.body, headers=headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"the receiver answered {status_code}"
        except httpx.TimeoutException:
            error = f"no answer within {self.settings.webhook_timeout:g} s"
        except Exception as exc:  # connection errors, bad URLs, anything: an attempt must end as a recorded failure
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if error is None and delivery.forced_failure(number):
            error = f"counted as failed by scenario {delivery.scenario.name if delivery.scenario else ''}"
        delivery.attempts.append(Attempt(number, self.state.clock.now_text(), status_code, error))
        logger.info("webhook %s attempt %d: %s", delivery.event_id, number, error or status_code)
        return error is None

    def to_dicts(self) -> list[dict[str, Any]]:
        return [delivery.to_dict() for delivery in self.deliveries]


def _runs_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
