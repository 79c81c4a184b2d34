"""Running jobs: the job runner (a Huey task body), the maintenance round, and one process's worker runtime.

- :class:`JobRunner` claims an announced job with a lease, renews the lease while the engine works (a heartbeat
  thread), and ends the job ``completed`` or ``failed`` with an error code, never anything else. A job taken over
  by another worker (its lease expired) or deleted meanwhile is stopped at the engine's next check (within about a
  second: the engine checks while it decodes and before every model call) and left alone: the conditional end
  refuses. A job still running at its deadline (``job_deadline_factor`` * the media's duration +
  ``job_deadline_min_seconds``) is stopped the same way and fails with ``processing_timeout``.
- :class:`Maintenance` runs in every process, every ``poll_interval``: it expires the leases of workers that died
  on this host (a pid that is gone: their jobs resume at once instead of after their lease), fails jobs that used
  up their attempts, announces claimable jobs that no announcement is waiting for, sends due webhooks, and purges
  what retention says is gone.
- :class:`WorkerRuntime` puts them together with a Huey consumer: embedded in ``serve``, or in the foreground in
  ``voxcontract worker``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import anyio

from reference_impl.db import Job
from reference_impl.delivery import WebhookSender
from reference_impl.deployment import Deployment
from reference_impl.media_store import MediaUnavailable
from reference_impl.pipeline import TranscriptionPipeline
from reference_impl.queue import JobQueue, make_huey
from reference_impl.store import TRANSCRIPTION_FAILED
from voxcontract.errors import ProblemError
from voxcontract.transcription import JobOptions

__all__ = [
    "PROCESSING_TIMEOUT",
    "JobCancelled",
    "JobRunner",
    "Maintenance",
    "ProcessingTimeout",
    "WorkerRuntime",
    "owner_is_dead",
    "worker_identity",
]

logger = logging.getLogger(__name__)

_HOST = socket.gethostname()
#: Seconds between progress reports of a running job (and lease renewals, when the lease is long).
_PROGRESS_INTERVAL = 1.0
#: The error code of a job stopped at its deadline (the contract's ``ErrorCode``).
PROCESSING_TIMEOUT = "processing_timeout"


class JobCancelled(Exception):
    """The job was deleted (or taken over) while the engine worked on it: stop working on it."""


#: How long stopping waits for job threads to reach their next stop check (a model call on noise takes ~5 s).
_STOP_GRACE_SECONDS = 30.0


class ProcessingTimeout(Exception):
    """The job ran past its deadline: stop working on it and fail it."""


class _Progress:
    """The latest progress of a running job, written by the engine's thread, read by the heartbeat; the heartbeat
    marks it ``cancelled`` when the lease is lost. ``update`` is the engine's stop check too (it calls it often,
    whatever the audio): it raises :class:`JobCancelled` once cancelled, :class:`ProcessingTimeout` past the
    ``deadline`` (a ``time.monotonic()`` value)."""

    def __init__(self, deadline: float = math.inf) -> None:
        self.value = 0.0
        self.cancelled = False
        self.deadline = deadline

    def update(self, done: float) -> None:
        if self.cancelled:
            raise JobCancelled()
        if time.monotonic() > self.deadline:
            raise ProcessingTimeout()
        # Kept below 1: the job reaches 1 only when it completes.
        self.value = max(self.value, min(done, 0.99))


def worker_identity() -> str:
    """This process's lease owner name: ``host:pid:nonce`` (the nonce tells a restarted pid 1 from its past)."""
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_dead(owner: str, me: str) -> bool:
    """Whether lease owner ``owner`` is a process of this host that no longer runs (never guesses for others)."""
    host, _, rest = owner.partition(":")
    pid_text, _, _nonce = rest.partition(":")
    if host != _HOST or not pid_text.isdigit() or owner == me:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # our pid, another nonce: a process that had this pid before us (a restarted container)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobRunner:
    """Runs announced jobs in this process (``__call__`` is the queue's task body)."""

    def __init__(
        self, deployment: Deployment, pipeline: TranscriptionPipeline, worker_id: str, on_end: threading.Event
    ) -> None:
        self.store = deployment.store
        self.media = deployment.media
        self.settings = deployment.settings
        self.pipeline = pipeline
        self.worker_id = worker_id
        self.on_end = on_end
        #: The jobs running in this process, with their stop checks.
        self._active: dict[str, _Progress] = {}
        self._lock = threading.Lock()

    def __call__(self, job_id: str) -> None:
        """Run one job. An announcement wakes a worker; which job it runs is the store's fair choice, not
        necessarily the announced one (every queued job has its own announcement, or maintenance makes one)."""
        job = self.store.claim_next(self.worker_id, self.settings.lease_seconds)
        if job is None:
            return  # nothing claimable: taken by another worker, deleted, or its key is at its running limit
        logger.info("job %s: attempt %d on %s", job.job_id, job.attempts, self.worker_id)
        progress = _Progress()
        with self._tracked(job.job_id, progress), self._heartbeat(job.job_id, progress):
            ended = self._run(job, progress)
        if ended:
            self.on_end.set()  # its webhook, if any, goes out in the next maintenance round: now

    def release_all(self) -> int:
        """Give the jobs in progress back to the queue (a worker shutting down) and stop working on them at their
        next stop check; how many."""
        with self._lock:
            active = dict(self._active)
        for progress in active.values():
            progress.cancelled = True
        return sum(self.store.release(job_id, self.worker_id) for job_id in sorted(active))

    def time_allowed(self, media_seconds: float) -> float:
        """Seconds an attempt at a job on media of this length may run before it fails with ``processing_timeout``."""
        return self.settings.job_deadline_factor * media_seconds + self.settings.job_deadline_min_seconds

    def _run(self, job: Job, progress: _Progress) -> bool:
        try:
            return self._attempt(job, progress)
        except MediaUnavailable as exc:  # an outage of the store, not the job's fault: another attempt, later
            logger.warning("job %s: back to the queue, the media store is unavailable: %s", job.job_id, exc.detail)
            self.store.release(job.job_id, self.worker_id)
            return False

    def _attempt(self, job: Job, progress: _Progress) -> bool:
        started = time.monotonic()
        media = self.store.get_file(job.key_id, job.file_id)
        if media is None or not self.media.exists(media.path):
            message = f"The file {job.file_id} was deleted before the job ran."
            return self.store.fail(job.job_id, self.worker_id, "not_found", message)
        allowed = self.time_allowed(media.duration_seconds)
        progress.deadline = started + allowed
        try:
            with self.media.open(media.path) as source:
                options = JobOptions.from_document(job.options).transcription()
                transcript = self.pipeline.transcribe(source, options, progress.update)
        except MediaUnavailable:
            raise
        except JobCancelled:
            logger.info("job %s: stopped, it was deleted or taken over", job.job_id)
            return False
        except ProcessingTimeout:
            logger.warning("job %s: stopped at its deadline of %.0f s", job.job_id, allowed)
            message = (
                f"The job ran past its processing deadline of {allowed:.0f} s "
                f"({self.settings.job_deadline_factor:g} x the media's {media.duration_seconds:.0f} s "
                f"+ {self.settings.job_deadline_min_seconds:g} s) and was stopped."
            )
            return self.store.fail(job.job_id, self.worker_id, PROCESSING_TIMEOUT, message)
        except ProblemError as exc:
            logger.info("job %s failed: %s", job.job_id, exc)
            return self.store.fail(job.job_id, self.worker_id, exc.code, exc.detail)
        except Exception:
            logger.exception("job %s: the engine failed", job.job_id)
            message = "The transcription engine failed on this media; the error is in the server's log."
            return self.store.fail(job.job_id, self.worker_id, TRANSCRIPTION_FAILED, message)
        ended = self.store.complete(job.job_id, self.worker_id, transcript.job_fields())
        elapsed = time.monotonic() - started
        logger.info(
            "job %s completed: %.1f s of audio in %.1f s (%s)",
            job.job_id,
            transcript.duration_seconds,
            elapsed,
            "stored" if ended else "discarded: the job was deleted or taken over",
        )
        return ended

    @contextlib.contextmanager
    def _tracked(self, job_id: str, progress: _Progress) -> Iterator[None]:
        with self._lock:
            self._active[job_id] = progress
        try:
            yield
        finally:
            with self._lock:
                self._active.pop(job_id, None)

    @contextlib.contextmanager
    def _heartbeat(self, job_id: str, progress: _Progress) -> Iterator[None]:
        """Renew the job's lease (and report its progress) every third of the lease, or every second if sooner,
        until the block ends."""
        stop = threading.Event()
        interval = min(self.settings.lease_seconds / 3, _PROGRESS_INTERVAL)

        def beat() -> None:
            while not stop.wait(interval):
                try:
                    renewed = self.store.renew_lease(
                        job_id, self.worker_id, self.settings.lease_seconds, progress=progress.value
                    )
                    if not renewed:
                        if not stop.is_set():  # not the race with the job's own end
                            logger.info("job %s: lease lost (deleted or taken over)", job_id)
                            progress.cancelled = True
                        return
                except Exception:  # a locked database for a moment: the next beat tries again
                    logger.exception("job %s: lease renewal failed", job_id)

        thread = threading.Thread(target=beat, name=f"lease-{job_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


class Maintenance:
    """The periodic work of one process, on two daemon threads: housekeeping (recover, announce, purge) every
    ``poll_interval``, and webhook delivery, woken at once when a job of this process ends (``wake``), so that a slow
    receiver never holds up recovery."""

    def __init__(
        self, deployment: Deployment, queue: JobQueue, sender: WebhookSender, worker_id: str, wake: threading.Event
    ) -> None:
        self.deployment = deployment
        self.store = deployment.store
        self.settings = deployment.settings
        self.queue = queue
        self.sender = sender
        self.worker_id = worker_id
        self.wake = wake
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_purge = 0.0

    def start(self) -> None:
        for name, target in (("maintenance", self._housekeeping), ("webhooks", self._deliveries)):
            thread = threading.Thread(target=target, name=f"voxcontract-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        for thread in self._threads:
            thread.join(timeout=self.settings.webhook_timeout + 5)
        self._threads.clear()

    def _housekeeping(self) -> None:
        while not self._stop.is_set():
            try:
                self.recover()
                self.announce_waiting()
                if time.monotonic() - self._last_purge >= self.settings.purge_interval:
                    self.purge()
            except Exception:  # a locked or unreachable database: the next round tries again
                logger.exception("maintenance round failed")
            self._stop.wait(self.settings.poll_interval)

    def _deliveries(self) -> None:
        while not self._stop.is_set():
            self.wake.clear()
            try:
                anyio.run(self.sender.send_due)
            except Exception:
                logger.exception("webhook round failed")
            self.wake.wait(self.settings.poll_interval)

    def recover(self) -> int:
        """Free the jobs of dead local workers, and fail those out of attempts; how many were freed."""
        dead = {owner for owner in self.store.lease_owners() if owner_is_dead(owner, self.worker_id)}
        freed = self.store.expire_leases(dead)
        if freed:
            logger.warning("%d job(s) of stopped worker(s) %s resume", freed, ", ".join(sorted(dead)))
        self.store.fail_exhausted()
        return freed

    def announce_waiting(self) -> int:
        """Announce claimable jobs when no announcement is waiting (lost ones, recovered ones); how many."""
        if self.queue.pending():
            return 0
        job_ids = self.store.claimable_job_ids(limit=max(self.settings.workers, 1) * 4)
        return sum(self.queue.announce(job_id) for job_id in job_ids)

    def purge(self, now: datetime | None = None) -> int:
        """Delete what retention says is gone (by ``now``); how many media files."""
        self._last_purge = time.monotonic()
        self.deployment.media.sweep_incoming()
        deleted = self.store.purge_expired(self.deployment.media.remove, now)
        if deleted:
            logger.info("retention: %d file(s) deleted with their media", len(deleted))
        return len(deleted)


class WorkerRuntime:
    """One process's queue, runner, webhook sender and maintenance (and its consumer, if it runs jobs)."""

    def __init__(self, deployment: Deployment, pipeline: TranscriptionPipeline, *, workers: int) -> None:
        settings = deployment.settings
        self.deployment = deployment
        self.workers = workers
        self.worker_id = worker_identity()
        self.wake = threading.Event()
        self.runner = JobRunner(deployment, pipeline, self.worker_id, self.wake)
        self.queue = JobQueue(make_huey(settings), self.runner if workers else None)
        self.sender = WebhookSender(
            deployment.store.outbox,
            deployment.keys,
            settings.network_policy(),
            schedule=settings.webhook_retry_schedule,
            timeout=settings.webhook_timeout,
        )
        self.maintenance = Maintenance(deployment, self.queue, self.sender, self.worker_id, self.wake)
        self._consumer = self.queue.consumer(workers, embedded=True) if workers else None

    def start(self) -> None:
        """Start the maintenance thread and (embedded) consumer threads."""
        self.deployment.media.sweep_incoming()
        self.maintenance.start()
        if self._consumer is not None:
            self._consumer.start()
        logger.info("worker %s: %d job thread(s)", self.worker_id, self.workers)

    def stop(self) -> None:
        """Stop taking jobs, give the running ones back (they resume elsewhere or at the next start), and wait for
        the job threads to leave the engine: a process that exits while CTranslate2 runs on a thread aborts."""
        if self._consumer is not None:
            self._consumer.stop(graceful=False)
        self._give_back()
        if self._consumer is not None:
            deadline = time.monotonic() + _STOP_GRACE_SECONDS
            for _, thread in self._consumer.worker_threads:
                thread.join(max(deadline - time.monotonic(), 0.0))

    def _give_back(self) -> None:
        released = self.runner.release_all()
        if released:
            logger.info("worker %s: %d running job(s) given back to the queue", self.worker_id, released)
        self.maintenance.stop()

    def run_foreground(self) -> None:
        """``voxcontract worker``: a consumer in the main thread (Huey's signal handling), maintenance beside it."""
        self.deployment.media.sweep_incoming()
        self.maintenance.start()
        consumer = self.queue.consumer(self.workers, embedded=False)
        try:
            consumer.run()
        finally:
            self._give_back()
