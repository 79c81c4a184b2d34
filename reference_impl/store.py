"""The job store: files, jobs and their webhook events over the tables of :mod:`reference_impl.db`.

The job table is the source of truth, and the lease protocol keeps every job moving:

- :meth:`JobStore.claim_next` takes a *claimable* job (queued, or processing with an expired lease and attempts
  left) with a conditional ``UPDATE`` whose ``WHERE`` repeats the claimable test, so of two workers that chose the
  same row only one changes it (the other sees ``rowcount == 0`` and tries the next candidate).
- Claims are fair across keys: the next job is the oldest waiting job of the key with the fewest running jobs, then
  the key served least recently, then the key waiting longest, so one key's twenty long jobs do not starve another
  key's short one. A key runs at most ``max_running_jobs_per_key`` jobs at once (0: no limit); its other jobs wait.
- The owner renews its lease while it works and ends the job with :meth:`~JobStore.complete` or
  :meth:`~JobStore.fail`, both conditional on ``status = processing AND lease_owner = worker``: a worker whose job
  was taken over cannot end it, and a completed or failed job never changes again.
- A job whose lease expired after ``max_attempts`` claims ends ``failed`` (``transcription_failed``) instead of
  being claimed again: never processing forever.
- A job's end and its webhook event (one per job, when it has a ``webhook_url``) are written in one transaction.
- A file and its media go together: deleting a file removes its media inside the transaction that deletes its row
  (a media store that cannot be written rolls the row back), and a file that a queued or processing job needs is
  not deleted (``FileInUse``); a new job checks that its file still exists in the transaction that inserts it.

Methods are synchronous; the server calls them from a thread pool. On SQLite, the driver opens a transaction at the
first write, so a write transaction here starts with its conditional write and waits (``busy_timeout``) for the lock
instead of failing on a stale read snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from reference_impl.db import File, Job, JobStatus, new_id, rowcount, utcnow
from reference_impl.outbox import Outbox, add_event
from reference_impl.settings import ReferenceSettings
from voxcontract.api import not_found
from voxcontract.errors import FileInUse, IdempotencyKeyReused

__all__ = ["TRANSCRIPTION_FAILED", "JobCursor", "JobPage", "JobStore", "RemoveMedia"]

#: Removes a media file from the media store; raises (``ServiceUnavailable``, ...) when it cannot.
RemoveMedia = Callable[[str], None]
#: Jobs that still need their file's media.
_ACTIVE = (JobStatus.QUEUED, JobStatus.PROCESSING)

logger = logging.getLogger(__name__)

TRANSCRIPTION_FAILED = "transcription_failed"
#: Each lost race means another worker took a job, so the loop ends; the bound only guards against surprises.
_CLAIM_TRIES = 100
#: The room of a key when keys have no running limit.
_NO_LIMIT = 2**31


@dataclass(frozen=True, slots=True)
class JobCursor:
    """Where a page of jobs ended (newest first); the server encodes it into the opaque ``next_cursor``."""

    created_at: datetime
    job_id: str


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a key's jobs and the cursor of the next page (None on the last)."""

    jobs: list[Job]
    next_cursor: JobCursor | None


def _update_job(session: Session, job_id: str, condition: ColumnElement[bool], **values: Any) -> bool:
    """Change one job only if ``condition`` still holds; True when this call changed it."""
    return rowcount(session, update(Job).where(Job.job_id == job_id, condition).values(**values)) == 1


class JobStore:
    """Files, jobs and webhook events of every key.

    The API's reads take the calling key (another key's rows read as None); claims, leases and events serve workers.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_attempts: int,
        max_running_jobs_per_key: int,
        file_ttl: timedelta,
        job_ttl: timedelta,
    ) -> None:
        # No defaults: they are ReferenceSettings' (see for_settings), set only there.
        self._sessions = sessions
        self.max_attempts = max_attempts
        self.max_running_jobs_per_key = max_running_jobs_per_key
        self.file_ttl = file_ttl
        self.job_ttl = job_ttl
        #: The webhook events of ended jobs (written in the job's own transaction).
        self.outbox = Outbox(sessions)

    @classmethod
    def for_settings(cls, sessions: sessionmaker[Session], settings: ReferenceSettings) -> JobStore:
        """The store of a deployment: attempts, the running limit per key and retention as ``settings`` say."""
        return cls(
            sessions,
            max_attempts=settings.max_attempts,
            max_running_jobs_per_key=settings.max_running_jobs_per_key,
            file_ttl=timedelta(seconds=settings.file_ttl_seconds),
            job_ttl=timedelta(seconds=settings.job_ttl_seconds),
        )

    # Files

    def create_file(
        self,
        key_id: str,
        *,
        filename: str,
        content_type: str,
        size_bytes: int,
        duration_seconds: float,
        path: str,
        now: datetime | None = None,
    ) -> File:
        """Record a stored media file; it expires ``file_ttl`` after now."""
        now = now or utcnow()
        record = File(
            file_id=new_id("file_"),
            key_id=key_id,
            filename=filename,
            content_type=content_type,
            size_bytes=size_bytes,
            duration_seconds=duration_seconds,
            path=path,
            created_at=now,
            expires_at=now + self.file_ttl,
        )
        with self._sessions.begin() as session:
            session.add(record)
        return record

    def get_file(self, key_id: str, file_id: str) -> File | None:
        """The key's file, or None (another key's file is None too)."""
        with self._sessions() as session:
            return session.scalar(select(File).where(File.file_id == file_id, File.key_id == key_id))

    def delete_file(self, key_id: str, file_id: str, remove_media: RemoveMedia) -> File | None:
        """Forget the key's file and remove its media, together or not at all; the deleted record, or None when
        there was none.

        :raises FileInUse: a queued or processing job needs the file.
        """
        with self._sessions.begin() as session:
            record = session.scalar(_file_of(key_id, file_id).with_for_update())
            # holds the write lock (SQLite) before the check: no job can slip in between
            if record is None or not _delete_row(session, record):
                return None
            _refuse_if_in_use(session, file_id)
            remove_media(record.path)
            return record

    # Jobs

    def create_job(
        self,
        key_id: str,
        file_id: str,
        options: Mapping[str, Any],
        metadata: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        now: datetime | None = None,
    ) -> tuple[Job, bool]:
        """A new queued job and True, or the job an earlier request with this idempotency key made and False.

        :raises IdempotencyKeyReused: the idempotency key came before with another request (``request_hash``).
        """
        now = now or utcnow()
        job = Job(
            job_id=new_id("job_"),
            key_id=key_id,
            file_id=file_id,
            status=JobStatus.QUEUED,
            progress=0.0,
            options=dict(options),
            metadata_=dict(metadata),
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                session.add(job)
                session.flush()  # the insert first: a concurrent delete_file then sees the job, or we see it gone
                if session.scalar(_file_of(key_id, file_id).with_for_update(read=True)) is None:
                    raise not_found("file", file_id)
        except IntegrityError:
            # An earlier (or concurrent) request with this idempotency key holds the unique constraint. Callers
            # that answer replays first (the API) rarely get here; the constraint is what makes it race-free.
            if idempotency_key is None or not (earlier := self.replay(key_id, idempotency_key, request_hash)):
                raise
            return earlier, False
        return job, True

    def replay(self, key_id: str, idempotency_key: str, request_hash: str | None) -> Job | None:
        """The job an earlier request with this idempotency key made, or None.

        :raises IdempotencyKeyReused: the key came before with another request (``request_hash``).
        """
        with self._sessions() as session:
            job = session.scalar(select(Job).where(Job.key_id == key_id, Job.idempotency_key == idempotency_key))
        if job is not None and job.request_hash != request_hash:
            raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request body.")
        return job

    def get_job(self, key_id: str, job_id: str) -> Job | None:
        """The key's job, or None (another key's job is None too)."""
        with self._sessions() as session:
            return session.scalar(select(Job).where(Job.job_id == job_id, Job.key_id == key_id))

    def list_jobs(
        self, key_id: str, *, status: str | None = None, limit: int = 20, before: JobCursor | None = None
    ) -> JobPage:
        """The key's jobs, newest first, ``limit`` at a time, starting after ``before``."""
        statement = select(Job).where(Job.key_id == key_id)
        if status is not None:
            statement = statement.where(Job.status == status)
        if before is not None:
            statement = statement.where(
                or_(
                    Job.created_at < before.created_at,
                    and_(Job.created_at == before.created_at, Job.job_id < before.job_id),
                )
            )
        statement = statement.order_by(Job.created_at.desc(), Job.job_id.desc()).limit(limit + 1)
        with self._sessions() as session:
            jobs = list(session.scalars(statement))
        if len(jobs) <= limit:
            return JobPage(jobs, None)
        last = jobs[limit - 1]
        return JobPage(jobs[:limit], JobCursor(last.created_at, last.job_id))

    def delete_job(self, key_id: str, job_id: str) -> bool:
        """Forget the key's job (a worker holding it can no longer end it); False when there was none."""
        with self._sessions.begin() as session:
            return rowcount(session, delete(Job).where(Job.job_id == job_id, Job.key_id == key_id)) == 1

    # The queue: claims and leases

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        expired = and_(Job.status == JobStatus.PROCESSING, Job.lease_expires_at < now, Job.attempts < self.max_attempts)
        return or_(Job.status == JobStatus.QUEUED, expired)

    def _oldest_claimable(self, now: datetime) -> Select[str]:
        return select(Job.job_id).where(self._claimable(now)).order_by(Job.created_at, Job.job_id)

    def _exhausted(self, now: datetime) -> ColumnElement[bool]:
        return and_(Job.status == JobStatus.PROCESSING, Job.lease_expires_at < now, Job.attempts >= self.max_attempts)

    def claim_next(
        self, worker_id: str, lease_seconds: float, now: datetime | None = None, *, job_id: str | None = None
    ) -> Job | None:
        """Take the fairest claimable job (or job ``job_id``, if claimable) for ``worker_id`` until now +
        ``lease_seconds``; None when there is none (or only jobs of keys at their running limit)."""
        now = now or utcnow()
        self.fail_exhausted(now)
        lease = {
            "status": JobStatus.PROCESSING,
            "attempts": Job.attempts + 1,
            "lease_owner": worker_id,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "updated_at": now,
        }
        for _ in range(_CLAIM_TRIES):
            with self._sessions.begin() as session:
                candidate = self._candidate(session, now, job_id)
                if candidate is None:
                    return None
                job_id_now, key_id = candidate
                if _update_job(session, job_id_now, self._claimable_for(key_id, now), **lease):
                    return session.get(Job, job_id_now, populate_existing=True)
        return None

    def _candidate(self, session: Session, now: datetime, job_id: str | None) -> tuple[str, str] | None:
        """The job to claim next and its key: ``job_id`` if claimable, else the oldest of the fairest key."""
        if job_id is not None:
            row = session.execute(select(Job.job_id, Job.key_id).where(self._claimable(now), Job.job_id == job_id))
            found = row.first()
            if found is None or found.key_id not in self._eligible_keys(session, now):
                return None
            return found.job_id, found.key_id
        keys = self._eligible_keys(session, now)
        if not keys:
            return None
        fairest = next(iter(keys))
        chosen = session.scalar(self._oldest_claimable(now).where(Job.key_id == fairest).limit(1))
        return None if chosen is None else (chosen, fairest)

    def _eligible_keys(self, session: Session, now: datetime) -> dict[str, int]:
        """Keys with claimable jobs and room to run one, fairest first (fewest running, served least recently
        (never first), waiting longest), each with the number of jobs it may start now."""
        waiting = dict(
            session.execute(
                select(Job.key_id, func.min(Job.created_at)).where(self._claimable(now)).group_by(Job.key_id)
            ).all()
        )
        if not waiting:
            return {}
        running = dict(
            session.execute(
                select(Job.key_id, func.count()).where(_running(now), Job.key_id.in_(waiting)).group_by(Job.key_id)
            ).all()
        )
        served = dict(
            session.execute(
                select(Job.key_id, func.max(func.coalesce(Job.completed_at, Job.updated_at)))
                .where(Job.status != JobStatus.QUEUED, Job.key_id.in_(waiting))
                .group_by(Job.key_id)
            ).all()
        )
        limit = self.max_running_jobs_per_key
        room = {key: (limit - running.get(key, 0) if limit else _NO_LIMIT) for key in waiting}
        never = datetime.min.replace(tzinfo=now.tzinfo)
        fairest = sorted(waiting, key=lambda key: (running.get(key, 0), _aware(served.get(key), never), waiting[key]))
        return {key: room[key] for key in fairest if room[key] > 0}

    def _claimable_for(self, key_id: str, now: datetime) -> ColumnElement[bool]:
        """Claimable, and (with a limit) the key still has room: the claim's ``UPDATE`` repeats both tests."""
        if not self.max_running_jobs_per_key:
            return self._claimable(now)
        other = aliased(Job)
        running = (
            select(func.count())
            .select_from(other)
            .where(
                other.key_id == key_id,
                other.status == JobStatus.PROCESSING,
                other.lease_expires_at >= now,
            )
            .scalar_subquery()
        )
        return and_(self._claimable(now), running < self.max_running_jobs_per_key)

    def claimable_job_ids(self, limit: int, now: datetime | None = None) -> list[str]:
        """The oldest claimable jobs' ids of keys with room to run one (queued, or with an expired lease), for
        re-announcing them to workers."""
        now = now or utcnow()
        job_ids: list[str] = []
        with self._sessions() as session:
            for key_id, room in self._eligible_keys(session, now).items():
                oldest = self._oldest_claimable(now).where(Job.key_id == key_id)
                job_ids += session.scalars(oldest.limit(min(room, limit - len(job_ids))))
                if len(job_ids) >= limit:
                    break
        return job_ids

    def lease_owners(self) -> set[str]:
        """The workers that hold a job now."""
        statement = select(Job.lease_owner).where(Job.status == JobStatus.PROCESSING, Job.lease_owner.is_not(None))
        with self._sessions() as session:
            return {owner for owner in session.scalars(statement.distinct()) if owner}

    def expire_leases(self, owners: set[str], now: datetime | None = None) -> int:
        """End the leases of workers known to be dead, so that their jobs are claimable (and their attempts count)."""
        if not owners:
            return 0
        now = now or utcnow()
        held = and_(
            Job.status == JobStatus.PROCESSING, Job.lease_owner.in_(sorted(owners)), Job.lease_expires_at >= now
        )
        statement = update(Job).where(held).values(lease_expires_at=now - timedelta(microseconds=1))
        with self._sessions.begin() as session:
            return rowcount(session, statement)

    def renew_lease(
        self,
        job_id: str,
        worker_id: str,
        lease_seconds: float,
        *,
        progress: float | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Extend the owner's lease (and raise its progress, which never decreases); False when it is not the owner."""
        now = now or utcnow()
        values: dict[str, Any] = {"lease_expires_at": now + timedelta(seconds=lease_seconds), "updated_at": now}
        if progress is not None:
            values["progress"] = case((Job.progress < progress, progress), else_=Job.progress)
        with self._sessions.begin() as session:
            return _update_job(session, job_id, self._owned_by(worker_id), **values)

    def release(self, job_id: str, worker_id: str, now: datetime | None = None) -> bool:
        """Give the owner's job back to the queue (a worker shutting down); False when it is not the owner."""
        now = now or utcnow()
        values = {"status": JobStatus.QUEUED, "lease_owner": None, "lease_expires_at": None, "updated_at": now}
        with self._sessions.begin() as session:
            return _update_job(session, job_id, self._owned_by(worker_id), **values)

    def complete(self, job_id: str, worker_id: str, result: Mapping[str, Any], now: datetime | None = None) -> bool:
        """End the owner's job as completed with ``result``; False when it is not (or no longer) the owner."""
        values = {"progress": 1.0, "result": dict(result)}
        return self._end(job_id, self._owned_by(worker_id), JobStatus.COMPLETED, now or utcnow(), values)

    def fail(self, job_id: str, worker_id: str, code: str, message: str, now: datetime | None = None) -> bool:
        """End the owner's job as failed with an error code and message; False when it is not the owner."""
        values = {"error_code": code, "error_message": message}
        return self._end(job_id, self._owned_by(worker_id), JobStatus.FAILED, now or utcnow(), values)

    def fail_exhausted(self, now: datetime | None = None) -> int:
        """End as failed every job whose lease expired after ``max_attempts`` claims; how many ended."""
        now = now or utcnow()
        message = (
            f"The job was given up after {self.max_attempts} attempts: "
            "each time the worker processing it stopped before finishing."
        )
        values = {"error_code": TRANSCRIPTION_FAILED, "error_message": message}
        with self._sessions() as session:
            job_ids = list(session.scalars(select(Job.job_id).where(self._exhausted(now))))
        return sum(self._end(job_id, self._exhausted(now), JobStatus.FAILED, now, values) for job_id in job_ids)

    def requeue_expired(self, now: datetime | None = None) -> int:
        """Put back in the queue every job whose lease expired (attempts left; the rest fail); how many."""
        now = now or utcnow()
        self.fail_exhausted(now)
        expired = and_(Job.status == JobStatus.PROCESSING, Job.lease_expires_at < now)
        values = {"status": JobStatus.QUEUED, "lease_owner": None, "lease_expires_at": None, "updated_at": now}
        with self._sessions.begin() as session:
            return rowcount(session, update(Job).where(expired).values(**values))

    @staticmethod
    def _owned_by(worker_id: str) -> ColumnElement[bool]:
        return and_(Job.status == JobStatus.PROCESSING, Job.lease_owner == worker_id)

    def _end(
        self, job_id: str, condition: ColumnElement[bool], status: str, now: datetime, values: dict[str, Any]
    ) -> bool:
        """Move a job to a terminal state if ``condition`` holds, and enqueue its webhook event with it."""
        ending = {
            "status": status,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            "completed_at": now,
            **values,
        }
        with self._sessions.begin() as session:
            if not _update_job(session, job_id, condition, **ending):
                return False
            job = session.get(Job, job_id, populate_existing=True)
            if job is not None:  # always: this transaction just updated it (Session.get_one needs SQLAlchemy 2.0.22)
                job.expires_at = now + self._retention(job)
                add_event(session, job, now)
        return True

    def purge_job(self, key_id: str, job_id: str, remove_media: RemoveMedia) -> bool:
        """Retention: forget the key's job and its file with the file's media, all or nothing; the file stays while
        another queued or processing job needs it. False when there was no such job."""
        with self._sessions.begin() as session:
            job = session.scalar(select(Job).where(Job.job_id == job_id, Job.key_id == key_id))
            if job is None:
                return False
            session.delete(job)
            session.flush()
            self._purge_file(session, key_id, job.file_id, remove_media)
        return True

    def expire_job(self, key_id: str, job_id: str, now: datetime | None = None) -> bool:
        """Make an ended job due for the next purge (its retention asked for it, and removing it now failed)."""
        ended = and_(Job.key_id == key_id, Job.status.in_(JobStatus.TERMINAL))
        with self._sessions.begin() as session:
            return _update_job(session, job_id, ended, expires_at=now or utcnow())

    @staticmethod
    def _purge_file(session: Session, key_id: str, file_id: str, remove_media: RemoveMedia) -> bool:
        """Delete a file row and its media in ``session`` (which already holds the write lock) unless an active
        job needs it; whether it went."""
        media = session.scalar(_file_of(key_id, file_id).with_for_update())
        if media is None or _jobs_using(session, file_id) or not _delete_row(session, media):
            return False
        remove_media(media.path)
        return True

    def _retention(self, job: Job) -> timedelta:
        """How long an ended job is kept: its ``retention.ttl_seconds``, else the store's ``job_ttl``."""
        ttl = (job.options.get("retention") or {}).get("ttl_seconds")
        return timedelta(seconds=ttl) if isinstance(ttl, int) else self.job_ttl

    # Retention

    def purge_expired(self, remove_media: RemoveMedia, now: datetime | None = None) -> list[str]:
        """Forget expired files and ended jobs, and the media of jobs that asked for ``retention.ttl_seconds``
        (settled webhook events as old as ``job_ttl`` go too); the ids of the files deleted with their media.

        Each file goes in its own transaction with its media: one that cannot be removed now stays for the next
        purge, and a file that a queued or processing job needs stays for that job.
        """
        now = now or utcnow()
        with self._sessions.begin() as session:
            ended = and_(Job.status.in_(JobStatus.TERMINAL), Job.expires_at <= now)
            expired_jobs = session.execute(select(Job.job_id, Job.key_id, Job.file_id, Job.options).where(ended)).all()
            retained = [(key_id, file_id) for _, key_id, file_id, options in expired_jobs if _has_ttl(options)]
            file_query = select(File.key_id, File.file_id).where(
                or_(File.expires_at <= now, *(and_(File.key_id == k, File.file_id == f) for k, f in retained))
            )
            files = session.execute(file_query).all()
            if expired_jobs:
                session.execute(delete(Job).where(Job.job_id.in_([row[0] for row in expired_jobs])))
        self.outbox.purge_settled(before=now - self.job_ttl)
        return [file_id for key_id, file_id in files if self._purge_one_file(key_id, file_id, remove_media)]

    def _purge_one_file(self, key_id: str, file_id: str, remove_media: RemoveMedia) -> bool:
        try:
            with self._sessions.begin() as session:
                media = session.scalar(_file_of(key_id, file_id).with_for_update())
                # the write lock first (SQLite), then the check: no new job slips in between
                if media is None or not _delete_row(session, media):
                    return False
                if _jobs_using(session, file_id):
                    raise _FileNeeded()
                remove_media(media.path)
                return True
        except _FileNeeded:
            return False
        except Exception:  # the media store refused: the row stays, the next purge tries again
            logger.exception("retention: file %s could not be deleted now", file_id)
            return False


def _delete_row(session: Session, record: File) -> bool:
    """Delete the file's row; False when another transaction deleted it first. SQLite has no row locks: two
    deletions may both have read the row, and only the first of them deletes it (then removes the media)."""
    result = session.execute(
        delete(File).where(File.file_id == record.file_id).execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1


class _FileNeeded(Exception):
    """An expired file that a queued or processing job still needs: it stays (the transaction rolls back)."""


def _running(now: datetime) -> ColumnElement[bool]:
    return and_(Job.status == JobStatus.PROCESSING, Job.lease_expires_at >= now)


def _aware(moment: datetime | None, default: datetime) -> datetime:
    """``moment`` comparable with aware datetimes (SQLite hands naive ones back), or ``default``."""
    if moment is None:
        return default
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=default.tzinfo)


def _file_of(key_id: str, file_id: str) -> Select[File]:
    return select(File).where(File.file_id == file_id, File.key_id == key_id)


def _jobs_using(session: Session, file_id: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` queued or processing jobs on the file."""
    statement = select(Job.job_id).where(Job.file_id == file_id, Job.status.in_(_ACTIVE)).order_by(Job.job_id)
    return list(session.scalars(statement.limit(limit)))


def _refuse_if_in_use(session: Session, file_id: str) -> None:
    users = _jobs_using(session, file_id)
    if users:
        raise FileInUse.for_jobs(file_id, users)


def _has_ttl(options: Mapping[str, Any]) -> bool:
    return isinstance((options.get("retention") or {}).get("ttl_seconds"), int)
