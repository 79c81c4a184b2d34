"""The work queue: Huey carries announcements ("job X is ready"), the job table carries the truth.

By default Huey keeps its queue in SQLite (``queue.db`` in the data dir), so ``serve`` and every ``worker`` on the
same data dir share it with no service to run. A lost announcement (a crash between the job's row and its
announcement, a worker killed after taking the task) loses nothing: the job's row stays claimable and the
maintenance round (:mod:`reference_impl.worker`) announces it again. With ``queue_url = redis://...`` the queue is
Redis (workers on any host block on it instead of polling); nothing else changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer, Worker

from reference_impl.settings import ReferenceSettings
from voxcontract.errors import ConfigError

__all__ = ["PROCESS_JOB_TASK", "EmbeddedConsumer", "JobQueue", "make_huey"]

logger = logging.getLogger(__name__)

PROCESS_JOB_TASK = "voxcontract.process_job"
#: The longest a consumer's idle worker sleeps between polls of the queue (Huey's default is 10 s): how long a job
#: announced by another process may wait for an idle worker. Announcements made in the consumer's own process wake
#: a worker at once.
_MAX_POLL_DELAY = 0.25


def make_huey(settings: ReferenceSettings) -> Huey:
    """The deployment's Huey, no result store (results live in the job table): SQLite in the data dir by default,
    Redis when ``settings.queue_url`` names it."""
    if settings.queue_url:
        return _redis_huey(settings.queue_url)
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name="voxcontract", filename=str(settings.queue_path), results=False, utc=True, timeout=10)


def _redis_huey(url: str) -> Huey:
    try:
        import redis  # noqa: F401  (Huey's Redis storage needs it; say how to get it before Huey fails)
    except ImportError:
        raise ConfigError("a redis:// queue_url needs the redis extra: pip install 'voxcontract[redis]'") from None
    return RedisHuey(name="voxcontract", url=url, results=False, utc=True)


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A Huey consumer that lives inside another program (the API server): it leaves signal handling alone.

    Huey's consumer installs SIGTERM/SIGINT/SIGHUP handlers when it starts; inside uvicorn those belong to uvicorn
    (graceful shutdown), and outside the main thread they cannot be installed at all.
    """

    def _set_signal_handlers(self) -> None:
        return None


class JobQueue:
    """Announces jobs to consumers; in a process that runs jobs, ``handler`` runs each announced job id."""

    def __init__(self, huey: Huey, handler: Callable[[str], None] | None = None) -> None:
        self.huey = huey
        self._handler = handler
        self._task = huey.task(name=PROCESS_JOB_TASK)(self._process)
        # One release per announcement made here: an idle worker of this process wakes at once instead of polling.
        self._announced = threading.Semaphore(0)

    def _process(self, job_id: str) -> None:
        if self._handler is None:
            raise RuntimeError("this process announces jobs but runs none")
        self._handler(job_id)

    def announce(self, job_id: str) -> bool:
        """Put an announcement of ``job_id`` on the queue; False (logged) when the queue refused it."""
        try:
            self._task(job_id)
        except Exception:  # the row is the truth: the maintenance round announces it again
            logger.exception("could not announce job %s; it will be announced again", job_id)
            return False
        self._announced.release()
        return True

    def pending(self) -> int:
        """Announcements waiting for a consumer."""
        return int(self.huey.pending_count())

    def consumer(self, workers: int, *, embedded: bool) -> Consumer:
        """A consumer of ``workers`` threads; ``embedded`` leaves signal handlers to the host program."""
        base = EmbeddedConsumer if embedded else Consumer
        kind = type("JobConsumer", (base,), {"worker_class": _waking_worker(self._announced)})
        return kind(
            self.huey,
            workers=workers,
            periodic=False,
            worker_type="thread",
            max_delay=_MAX_POLL_DELAY,
            check_worker_health=True,
        )


def _waking_worker(announced: threading.Semaphore) -> type[Any]:
    """Huey's worker, whose idle sleep ends early when this process announces a job."""

    class WakingWorker(Worker):  # type: ignore[misc]
        def sleep(self) -> None:
            delay = min(float(getattr(self, "delay", 0.0)), float(self.max_delay))
            announced.acquire(timeout=delay)
            self.delay = delay * self.backoff

    return WakingWorker
