"""The mock's whole state, in memory: tenants' files and jobs, idempotency keys, the clock, the ids, the journal.

Tenants are API keys (:attr:`voxcontract.auth.Principal.key_id`): a file or job of another key is simply not found.
Expiries (file lifetime, ``retention.ttl_seconds``) and job ends are kept in heaps and applied by :meth:`refresh`,
which runs before every request and on the webhook dispatcher's tick.
"""

from __future__ import annotations

import base64
import dataclasses
import heapq
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mockserver.clock import MockClock, parse_timestamp
from mockserver.ids import IdFactory, derive_bytes
from mockserver.journal import Journal
from mockserver.lifecycle import JobStatus
from mockserver.media import MediaStore
from mockserver.records import StoredFile, StoredJob
from mockserver.scenarios import Scenario, get_scenario
from mockserver.schedule import KeySchedule
from mockserver.settings import MockSettings
from voxcontract.api import Idempotency, JobRecord, not_found
from voxcontract.errors import FileInUse, IdempotencyKeyReused
from voxcontract.webhooks import SECRET_PREFIX

__all__ = ["FILE_LIFETIME_SECONDS", "IDEMPOTENCY_SECONDS", "MockState"]

logger = logging.getLogger(__name__)

#: Uploaded files are deleted this long after upload (the contract's example shows a week).
FILE_LIFETIME_SECONDS = 7 * 24 * 3600
#: Idempotency keys are remembered this long (the contract says 24 hours).
IDEMPOTENCY_SECONDS = 24 * 3600
#: Seconds before an expired file that a job still needs is looked at again.
_RECHECK_SECONDS = 60.0

TerminalListener = Callable[[StoredJob], None]


@dataclass(slots=True)
class _IdempotentRequest:
    fingerprint: str
    job_id: str
    #: The job as first answered, replayed once the job itself is gone.
    snapshot: JobRecord
    expires_at: float


class MockState:
    """Everything the mock remembers; :meth:`reset` forgets it all and restarts the clock and the ids."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings
        self.clock = MockClock(parse_timestamp(settings.start_time), settings.clock)
        self.ids = IdFactory(settings.seed)
        self.media = MediaStore()
        self.journal = Journal()
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, StoredJob] = {}
        self._schedules: dict[str, KeySchedule] = {}
        self.default_scenario = _scenario_or_none(settings.default_scenario)
        self._idempotency: dict[tuple[str, str], _IdempotentRequest] = {}
        self._expiries: list[tuple[float, int, str]] = []
        self._job_ends: list[tuple[float, int, str]] = []
        self._seq = 0
        self._terminal_listeners: list[TerminalListener] = []

    def now(self) -> float:
        return self.clock.now()

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def on_job_terminal(self, listener: TerminalListener) -> None:
        """Call ``listener(job)`` once for each job with a webhook URL when it ends (from :meth:`refresh`)."""
        self._terminal_listeners.append(listener)

    def refresh(self) -> None:
        """Announce the jobs that ended by now, then drop what expired by now."""
        now = self.now()
        for job in self._pop_due(self._job_ends, now):
            if isinstance(job, StoredJob):
                for listener in self._terminal_listeners:
                    listener(job)
        for record in self._pop_due(self._expiries, now):
            self._expire(record)

    # --- files -------------------------------------------------------------------------------------------------

    def add_file(self, record: StoredFile) -> None:
        self.files[record.file_id] = record
        if record.expires_at is not None:
            heapq.heappush(self._expiries, (record.expires_at, self.next_seq(), record.file_id))

    def find_file(self, tenant: str, file_id: str) -> StoredFile | None:
        record = self.files.get(file_id)
        return record if record is not None and record.tenant == tenant else None

    def get_file(self, tenant: str, file_id: str) -> StoredFile:
        record = self.find_file(tenant, file_id)
        if record is None:
            raise not_found("file", file_id)
        return record

    def delete_file(self, tenant: str, file_id: str) -> None:
        """Delete a file and its media together; :class:`FileInUse` while a queued or processing job needs it."""
        record = self.get_file(tenant, file_id)
        users = self.jobs_using(file_id)
        if users:
            raise FileInUse.for_jobs(file_id, users)
        self._drop_file(record)

    def jobs_using(self, file_id: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` queued or processing jobs that still need the file."""
        now = self.now()
        active = (job.job_id for job in self.jobs.values() if job.file_id == file_id and not _ended(job, now))
        return sorted(active)[:limit]

    # --- jobs --------------------------------------------------------------------------------------------------

    def add_job(self, record: StoredJob) -> None:
        self.jobs[record.job_id] = record
        self._schedules.setdefault(record.tenant, KeySchedule()).add(record.timeline)
        ends_at = record.timeline.ends_at
        if ends_at is not None and record.webhook_url:
            heapq.heappush(self._job_ends, (ends_at, record.seq, record.job_id))
        if record.expires_at is not None:
            heapq.heappush(self._expiries, (record.expires_at, record.seq, record.job_id))

    def find_job(self, tenant: str, job_id: str) -> StoredJob | None:
        record = self.jobs.get(job_id)
        return record if record is not None and record.tenant == tenant else None

    def get_job(self, tenant: str, job_id: str) -> StoredJob:
        record = self.find_job(tenant, job_id)
        if record is None:
            raise not_found("job", job_id)
        return record

    def delete_job(self, tenant: str, job_id: str) -> None:
        self._forget_job(self.get_job(tenant, job_id))

    def purge_job(self, record: StoredJob) -> None:
        """Delete a job together with its media (retention: expiry, delete after retrieval); the media stays while
        another queued or processing job needs it."""
        media = self.files.get(record.file_id)
        if media is not None and media.tenant == record.tenant and not self.jobs_using(media.file_id):
            self._drop_file(media)
        self._forget_job(record)

    def _forget_job(self, record: StoredJob) -> None:
        if self.jobs.pop(record.job_id, None) is not None:
            self._schedules[record.tenant].remove(record.timeline)

    def queue_delay(self, tenant: str, leaves_queue: float, max_running: int) -> float:
        """How much longer than ``leaves_queue`` a new job of ``tenant`` waits for a free running slot.

        The key's jobs are taken up in creation order, at most ``max_running`` at once: the new job starts when
        (no earlier than its predecessors start and) fewer than ``max_running`` of them are still running.
        """
        schedule = self._schedules.get(tenant)
        return 0.0 if schedule is None else schedule.start_after(leaves_queue, max_running) - leaves_queue

    def list_jobs(
        self, tenant: str, *, status: JobStatus | None, before_seq: int | None, limit: int
    ) -> tuple[list[StoredJob], bool]:
        """A tenant's jobs, newest first, older than ``before_seq``; and whether more follow."""
        now = self.now()
        page: list[StoredJob] = []
        # Jobs are inserted in creation order, so reversed insertion order is newest first.
        for job in reversed(self.jobs.values()):
            if job.tenant != tenant or (before_seq is not None and job.seq >= before_seq):
                continue
            if status is not None and job.status(now) != status:
                continue
            if len(page) == limit:
                return page, True
            page.append(job)
        return page, False

    # --- idempotency -------------------------------------------------------------------------------------------

    def idempotent_job(self, tenant: str, idempotency: Idempotency) -> JobRecord | None:
        """The job an earlier request with this key and body created (as it is now, or as it was answered).

        None for a new key; :class:`IdempotencyKeyReused` for a known key with another body.
        """
        entry = self._idempotency.get((tenant, idempotency.key))
        if entry is None or entry.expires_at <= self.now():
            return None
        if entry.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused("This Idempotency-Key was used with a different request body.")
        job = self.jobs.get(entry.job_id)
        return job.record(self.now()) if job is not None else entry.snapshot

    def remember_idempotent(self, tenant: str, idempotency: Idempotency, job: StoredJob) -> None:
        snapshot = job.record(self.now())
        # Replayed once the job is gone: poll again in a second while it was still running when first answered.
        retry_after = 1 if snapshot.status in ("queued", "processing") else None
        self._idempotency[(tenant, idempotency.key)] = _IdempotentRequest(
            idempotency.fingerprint,
            job.job_id,
            dataclasses.replace(snapshot, retry_after=retry_after),
            self.now() + IDEMPOTENCY_SECONDS,
        )

    # --- tenants' secrets, reset -------------------------------------------------------------------------------

    def webhook_secret(self, tenant: str) -> str:
        """The tenant's Standard Webhooks secret: fixed by the seed and the key."""
        return SECRET_PREFIX + base64.b64encode(derive_bytes(self.settings.seed, "whsec", tenant)).decode("ascii")

    def reset(self) -> None:
        """Forget every file, job, key and journal entry; the clock, the ids and the default scenario start over."""
        self.files.clear()
        self.jobs.clear()
        self._schedules.clear()
        self._idempotency.clear()
        self._expiries.clear()
        self._job_ends.clear()
        self._seq = 0
        self.media.clear()
        self.journal.clear()
        self.clock.reset()
        self.ids.reset()
        self.default_scenario = _scenario_or_none(self.settings.default_scenario)
        logger.info("mock state reset")

    def close(self) -> None:
        self.media.close()

    # --- internals ---------------------------------------------------------------------------------------------

    def _pop_due(self, heap: list[tuple[float, int, str]], now: float) -> Iterator[StoredFile | StoredJob]:
        while heap and heap[0][0] <= now:
            _, _, record_id = heapq.heappop(heap)
            record = self.jobs.get(record_id) or self.files.get(record_id)
            if record is not None:
                yield record

    def _expire(self, record: StoredFile | StoredJob) -> None:
        if isinstance(record, StoredFile):
            if self.jobs_using(record.file_id):  # kept for its job: look again a minute later
                heapq.heappush(self._expiries, (self.now() + _RECHECK_SECONDS, self.next_seq(), record.file_id))
                return
            logger.info("file %s expired", record.file_id)
            self._drop_file(record)
            return
        logger.info("job %s expired (retention.ttl_seconds)", record.job_id)
        self.purge_job(record)

    def _drop_file(self, record: StoredFile) -> None:
        self.media.delete(record.file_id)  # first: when it fails, the record stays and a retry completes
        self.files.pop(record.file_id, None)


def _ended(job: StoredJob, now: float) -> bool:
    return job.status(now) in ("completed", "failed")


def _scenario_or_none(name: str | None) -> Scenario | None:
    return None if name is None else get_scenario(name)
