"""A job's life as a pure function of the mock clock: no worker, no background state changes.

A job is ``queued`` for the first 10 % of its processing time (longer while its key already runs the contract's
``max_running_jobs_per_key`` jobs), then ``processing`` with a progress that grows in
steps of 0.01, then ``completed`` (or ``failed`` half-way through, for the ``job-fails`` scenario). Reading it twice
at the same mock time gives the same answer, and progress never decreases because time never goes back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["JobStatus", "Timeline"]

JobStatus = Literal["queued", "processing", "completed", "failed"]

_QUEUED_SHARE = 0.1
_STUCK_PROGRESS = 0.5
_MAX_RETRY_AFTER = 10
_STUCK_RETRY_AFTER = 5


@dataclass(frozen=True, slots=True)
class Timeline:
    """When a job created at ``created`` starts, progresses and ends (mock-clock seconds)."""

    created: float
    #: Mock seconds from queued to the end; ``inf`` for a job that never ends.
    processing_time: float
    fails: bool = False
    #: The time scale of a job that never ends (how fast it reaches its final progress).
    stuck_time_scale: float = 1.0
    #: Extra seconds in the queue, waiting for one of the key's running jobs to end (max_running_jobs_per_key).
    queue_delay: float = 0.0

    @property
    def stuck(self) -> bool:
        return math.isinf(self.processing_time)

    @property
    def _span(self) -> float:
        return self.stuck_time_scale if self.stuck else self.processing_time

    @property
    def started(self) -> float:
        """When the job leaves the queue."""
        return self.created + self.queue_delay + _QUEUED_SHARE * self._span

    @property
    def ends_at(self) -> float | None:
        """When the job becomes terminal; None for a job that never ends."""
        if self.stuck:
            return None
        ends_at = self.created + self.queue_delay + self.processing_time * (0.5 if self.fails else 1.0)
        # Queued behind jobs that never end: it never ends either.
        return ends_at if math.isfinite(ends_at) else None

    @property
    def final_status(self) -> JobStatus:
        return "failed" if self.fails else "completed"

    def status(self, now: float) -> JobStatus:
        ends_at = self.ends_at
        if ends_at is not None and now >= ends_at:
            return self.final_status
        return "processing" if now >= self.started else "queued"

    def progress(self, now: float) -> float:
        """0 .. 1 in steps of 0.01; 1 only once completed; frozen where a job fails or gets stuck."""
        ends_at = self.ends_at
        if ends_at is not None and now >= ends_at:
            return 1.0 if not self.fails else self._running_progress(ends_at)
        return self._running_progress(now)

    def updated_at(self, now: float) -> float:
        """When the status or the progress last changed."""
        ends_at = self.ends_at
        if ends_at is not None and now >= ends_at:
            return ends_at
        if now < self.started:
            return self.created
        return self.started + self._running_progress(now) * self._processing_span

    def retry_after(self, now: float) -> int | None:
        """A polling hint in whole seconds (>= 1) while the job is not terminal; None once it is."""
        ends_at = self.ends_at
        if ends_at is None:
            return _STUCK_RETRY_AFTER
        if now >= ends_at:
            return None
        return min(max(math.ceil(ends_at - now), 1), _MAX_RETRY_AFTER)

    @property
    def _processing_span(self) -> float:
        return (1.0 - _QUEUED_SHARE) * self._span

    def _running_progress(self, now: float) -> float:
        if now < self.started or self._processing_span <= 0:
            return 0.0
        raw = (now - self.started) / self._processing_span
        ceiling = _STUCK_PROGRESS if self.stuck else 0.99
        return min(math.floor(raw * 100) / 100, ceiling)
