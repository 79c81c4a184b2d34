"""The webhook outbox: one event per ended job (written in the job's own transaction), and its delivery attempts.

Senders (:mod:`reference_impl.delivery`) claim due events with a short hold, so two processes never post the same
attempt; every attempt is recorded, and the event is retried at the time the sender chose until it is delivered
(a 2xx) or given up. The event id never changes: receivers deduplicate on ``webhook-id``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from reference_impl.db import (
    EventState,
    EventType,
    Job,
    JobStatus,
    WebhookAttempt,
    WebhookEvent,
    job_record,
    rfc3339,
    rowcount,
    utcnow,
)
from voxcontract.api import job_document
from voxcontract.webhooks import new_event_id

__all__ = ["Outbox", "add_event"]

#: Each lost race means another sender took an event; the bound only guards against surprises.
_CLAIM_TRIES = 100


def add_event(session: Session, job: Job, now: datetime) -> WebhookEvent | None:
    """In ``session``'s transaction: the ended job's event (made once), or None when it has no ``webhook_url``."""
    url = job.options.get("webhook_url")
    if not url or job.status not in JobStatus.TERMINAL:
        return None
    existing = session.scalar(select(WebhookEvent).where(WebhookEvent.job_id == job.job_id))
    if existing is not None:
        return existing
    event_type = EventType.COMPLETED if job.status == JobStatus.COMPLETED else EventType.FAILED
    event = WebhookEvent(
        event_id=new_event_id(),
        job_id=job.job_id,
        key_id=job.key_id,
        url=str(url),
        event_type=event_type,
        payload={"type": event_type, "timestamp": rfc3339(now), "data": job_document(job_record(job))},
        state=EventState.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event


class Outbox:
    """Webhook events and their attempts, in the ``webhook_events`` and ``webhook_attempts`` tables."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def enqueue_event(self, job_id: str, now: datetime | None = None) -> WebhookEvent | None:
        """The webhook event of an ended job with a ``webhook_url``, made once (idempotent); None otherwise."""
        try:
            with self._sessions.begin() as session:
                job = session.get(Job, job_id, populate_existing=True)
                return None if job is None else add_event(session, job, now or utcnow())
        except IntegrityError:
            return self.event_for_job(job_id)

    def event_for_job(self, job_id: str) -> WebhookEvent | None:
        """The webhook event of a job, if one was made."""
        with self._sessions() as session:
            return session.scalar(select(WebhookEvent).where(WebhookEvent.job_id == job_id))

    def claim_due_event(self, lease_seconds: float, now: datetime | None = None) -> WebhookEvent | None:
        """The oldest pending event that is due, held for ``lease_seconds`` so that no other sender takes it."""
        now = now or utcnow()
        due = and_(WebhookEvent.state == EventState.PENDING, WebhookEvent.next_attempt_at <= now)
        hold = {"next_attempt_at": now + timedelta(seconds=lease_seconds)}
        for _ in range(_CLAIM_TRIES):
            with self._sessions.begin() as session:
                oldest = select(WebhookEvent.event_id).where(due).order_by(WebhookEvent.next_attempt_at).limit(1)
                event_id = session.scalar(oldest)
                if event_id is None:
                    return None
                statement = update(WebhookEvent).where(WebhookEvent.event_id == event_id, due).values(**hold)
                if rowcount(session, statement) == 1:
                    return session.get(WebhookEvent, event_id, populate_existing=True)
        return None

    def record_attempt(
        self,
        event_id: str,
        *,
        status_code: int | None,
        error: str | None = None,
        retry_at: datetime | None = None,
        now: datetime | None = None,
    ) -> WebhookAttempt:
        """Record one delivery attempt: a 2xx delivers the event, else it is retried at ``retry_at`` or given up."""
        now = now or utcnow()
        delivered = status_code is not None and 200 <= status_code < 300
        state = EventState.DELIVERED if delivered else EventState.PENDING if retry_at else EventState.FAILED
        next_attempt_at = retry_at if state == EventState.PENDING else None
        with self._sessions.begin() as session:
            # The UPDATE first: it takes the write lock before the attempt number is counted.
            settle = update(WebhookEvent).where(WebhookEvent.event_id == event_id)
            rowcount(session, settle.values(state=state, next_attempt_at=next_attempt_at))
            count = select(func.count()).select_from(WebhookAttempt).where(WebhookAttempt.event_id == event_id)
            number = (session.scalar(count) or 0) + 1
            attempt = WebhookAttempt(
                event_id=event_id, attempt=number, at=now, status_code=status_code, error=error and error[:2000]
            )
            session.add(attempt)
        return attempt

    def event_attempts(self, event_id: str) -> list[WebhookAttempt]:
        """The delivery attempts of an event, first first."""
        with self._sessions() as session:
            query = select(WebhookAttempt).where(WebhookAttempt.event_id == event_id)
            return list(session.scalars(query.order_by(WebhookAttempt.attempt)))

    def purge_settled(self, before: datetime) -> int:
        """Forget delivered and given-up events made before ``before`` (their attempts go with them)."""
        settled = and_(WebhookEvent.state != EventState.PENDING, WebhookEvent.created_at <= before)
        with self._sessions.begin() as session:
            return rowcount(session, delete(WebhookEvent).where(settled))
