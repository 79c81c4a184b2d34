"""A key's schedule finds a new job's start as a walk over every one of the key's jobs does, by bisection."""

from __future__ import annotations

import math
import random

import pytest

from mockserver.lifecycle import Timeline
from mockserver.schedule import KeySchedule


def walked_start(timelines: list[Timeline], leaves_queue: float, max_running: int) -> float:
    """The rule as stated: after every earlier start; when ``max_running`` still run then, at the right end."""
    ends = [math.inf if t.ends_at is None else t.ends_at for t in timelines]
    start = max([leaves_queue, *(t.started for t in timelines)])
    later = sorted((end for end in ends if end > start), reverse=True)
    return later[max_running - 1] if len(later) >= max_running > 0 else start


def random_timeline(rng: random.Random, created: float, queue_delay: float) -> Timeline:
    processing = rng.choice([0.0, 0.5, 1.0, 3.0, 30.0, math.inf])
    return Timeline(created=created, processing_time=processing, fails=rng.random() < 0.2, queue_delay=queue_delay)


@pytest.mark.parametrize("max_running", [0, 1, 2, 5])
@pytest.mark.parametrize("seed", range(5))
def test_the_schedule_agrees_with_a_walk_over_every_job(seed: int, max_running: int) -> None:
    rng = random.Random(seed)
    schedule, timelines = KeySchedule(), []
    now = 0.0
    for _ in range(200):
        now += rng.choice([0.0, 0.1, 1.0, 5.0])
        leaves_queue = Timeline(created=now, processing_time=1.0).started
        expected = walked_start(timelines, leaves_queue, max_running)
        assert schedule.start_after(leaves_queue, max_running) == expected
        timeline = random_timeline(rng, now, expected - leaves_queue if math.isfinite(expected) else math.inf)
        schedule.add(timeline)
        timelines.append(timeline)
        if timelines and rng.random() < 0.15:  # a job deleted (or purged at its expiry)
            gone = timelines.pop(rng.randrange(len(timelines)))
            schedule.remove(gone)


def test_an_empty_schedule_starts_a_job_when_it_leaves_the_queue() -> None:
    assert KeySchedule().start_after(12.5, 3) == 12.5
