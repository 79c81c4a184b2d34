"""When a key's new job may start: the start and end times of its jobs, kept sorted.

A key's jobs are taken up in creation order, at most ``max_running_jobs_per_key`` at once. Finding a new job's start
used to walk every job the mock held, three properties per job, on every ``POST /v1/transcribe``: a mock that had
served thousands of jobs spent milliseconds per request there. The times of a job never change (its timeline is
frozen), so each key keeps them in two sorted lists and a new job's start is found by bisection.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from mockserver.lifecycle import Timeline

__all__ = ["KeySchedule"]


@dataclass(slots=True)
class KeySchedule:
    """The start and end (``inf``: never) of each of one key's jobs, sorted."""

    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)

    def add(self, timeline: Timeline) -> None:
        bisect.insort(self.starts, timeline.started)
        bisect.insort(self.ends, _end(timeline))

    def remove(self, timeline: Timeline) -> None:
        _remove(self.starts, timeline.started)
        _remove(self.ends, _end(timeline))

    def start_after(self, leaves_queue: float, max_running: int) -> float:
        """When a job that would leave the queue at ``leaves_queue`` starts.

        No earlier than every earlier job's start, and, once ``max_running`` (> 0) jobs are still running then,
        when the one of them that ends ``max_running``-th from the last ends.
        """
        start = max(leaves_queue, self.starts[-1]) if self.starts else leaves_queue
        running_then = len(self.ends) - bisect.bisect_right(self.ends, start)
        if running_then >= max_running > 0:
            start = self.ends[-max_running]
        return start


def _end(timeline: Timeline) -> float:
    ends_at = timeline.ends_at
    return math.inf if ends_at is None else ends_at


def _remove(values: list[float], value: float) -> None:
    index = bisect.bisect_left(values, value)
    if index < len(values) and values[index] == value:
        del values[index]
