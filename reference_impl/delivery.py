"""Webhook delivery from the outbox: signed (Standard Webhooks), every attempt recorded, retried with backoff.

Any process of a deployment may send: an event is held while one sender posts it, so every attempt is made once.
Each event keeps its ``webhook-id`` across attempts (receivers deduplicate on it); each attempt is signed afresh
(its ``webhook-timestamp`` is the attempt's). A 2xx delivers the event; anything else (an error status, a timeout,
a refused connection) is retried after the next delay of the schedule, jittered by ±20 %, until the schedule is
used up. A URL the SSRF rules refuse is given up at once: retrying would not change the answer.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import anyio
import anyio.to_thread

from reference_impl.db import WebhookEvent, utcnow
from reference_impl.net import NetworkPolicy, post_json
from reference_impl.outbox import Outbox
from voxcontract.errors import UrlFetchFailed, UrlNotAllowed
from voxcontract.webhooks import WebhookSigner

__all__ = ["WebhookSender"]

logger = logging.getLogger(__name__)

_JITTER = 0.2
#: Events one round sends at most (concurrently).
_BATCH = 16


class SecretSource(Protocol):
    """Where signing secrets come from (:class:`reference_impl.keys.KeyRing`)."""

    def webhook_secret(self, key_id: str) -> str | None: ...


class WebhookSender:
    """Sends due webhook events of one deployment."""

    def __init__(
        self,
        outbox: Outbox,
        secrets: SecretSource,
        policy: NetworkPolicy,
        *,
        schedule: Sequence[float],
        timeout: float,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.secrets = secrets
        self.policy = policy
        self.schedule = tuple(schedule)
        self.timeout = timeout
        self.rng = rng or random.Random()

    async def send_due(self) -> int:
        """Claim the due events (at most a batch) and send them concurrently; how many were attempted."""
        # Longer than one attempt can take; a sender that dies mid-attempt delays the event by this much at most.
        hold = self.timeout + 5.0
        events: list[WebhookEvent] = []
        while len(events) < _BATCH:
            event = await anyio.to_thread.run_sync(self.outbox.claim_due_event, hold)
            if event is None:
                break
            events.append(event)
        async with anyio.create_task_group() as group:
            for event in events:
                group.start_soon(self.send, event)
        return len(events)

    async def send(self, event: WebhookEvent) -> None:
        """One attempt at ``event`` (held by this sender), recorded with its outcome."""
        status, error, permanent = await self._post(event)
        number = len(await anyio.to_thread.run_sync(self.outbox.event_attempts, event.event_id)) + 1
        delivered = status is not None and 200 <= status < 300
        retry_at = None if delivered or permanent else self.retry_at(number, utcnow())
        await anyio.to_thread.run_sync(
            lambda: self.outbox.record_attempt(event.event_id, status_code=status, error=error, retry_at=retry_at)
        )
        outcome = "delivered" if delivered else f"retry at {retry_at:%H:%M:%S}" if retry_at else "given up"
        logger.info(
            "webhook %s (%s) to %s, attempt %d: %s, %s",
            event.event_id,
            event.event_type,
            event.url,
            number,
            status if status is not None else error,
            outcome,
        )

    def retry_at(self, attempt: int, now: datetime) -> datetime | None:
        """When to try again after failed attempt number ``attempt`` (1-based); None when the schedule is used up."""
        if attempt > len(self.schedule):
            return None
        delay = self.schedule[attempt - 1] * self.rng.uniform(1 - _JITTER, 1 + _JITTER)
        return now + timedelta(seconds=delay)

    async def _post(self, event: WebhookEvent) -> tuple[int | None, str | None, bool]:
        """The receiver's status, or the error that stopped the attempt, and whether retrying is pointless."""
        secret = await anyio.to_thread.run_sync(self.secrets.webhook_secret, event.key_id)
        if secret is None:
            return None, "the API key that started the job no longer exists", True
        body = json.dumps(event.payload, separators=(",", ":")).encode("utf-8")
        headers = WebhookSigner(secret).sign(event.event_id, body).as_dict()
        try:
            status = await post_json(event.url, body, headers, self.policy, self.timeout)
        except UrlNotAllowed as exc:
            return None, exc.detail, True
        except UrlFetchFailed as exc:
            return None, exc.detail, False
        return status, None, False
