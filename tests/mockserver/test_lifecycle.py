"""A job's timeline as a pure function of the mock clock."""

from __future__ import annotations

import math

import pytest

from mockserver.lifecycle import Timeline

TIMES = [0.0, 0.05, 0.1, 0.2, 0.33, 0.5, 0.75, 0.99, 1.0, 5.0, 1e6]


def test_queued_processing_completed() -> None:
    timeline = Timeline(created=0.0, processing_time=1.0)

    assert [timeline.status(t) for t in (0.0, 0.09, 0.1, 0.99, 1.0, 100.0)] == [
        "queued",
        "queued",
        "processing",
        "processing",
        "completed",
        "completed",
    ]
    assert timeline.progress(0.55) == 0.5
    assert timeline.progress(0.999) == 0.99
    assert timeline.progress(1.0) == 1.0
    assert timeline.ends_at == 1.0


@pytest.mark.parametrize(
    "timeline",
    [
        Timeline(0.0, 1.0),
        Timeline(0.0, 1.0, fails=True),
        Timeline(0.0, math.inf),
        Timeline(0.0, 0.0),
        Timeline(0.0, 7.0),
    ],
)
def test_progress_and_updated_at_never_go_back(timeline: Timeline) -> None:
    progress = [timeline.progress(t) for t in TIMES]
    updated = [timeline.updated_at(t) for t in TIMES]

    assert progress == sorted(progress)
    assert updated == sorted(updated)
    assert all(0 <= p <= 1 for p in progress)
    assert all(u <= t + 1e-9 for u, t in zip(updated, TIMES, strict=True))


def test_failure_half_way_keeps_its_progress() -> None:
    timeline = Timeline(created=10.0, processing_time=2.0, fails=True)

    assert timeline.ends_at == 11.0
    assert timeline.status(10.99) == "processing"
    assert timeline.status(11.0) == "failed"
    assert timeline.progress(11.0) == timeline.progress(1000.0) == 0.44
    assert timeline.retry_after(11.0) is None


def test_stuck_never_ends() -> None:
    timeline = Timeline(created=0.0, processing_time=math.inf, stuck_time_scale=2.0)

    assert timeline.ends_at is None
    assert timeline.status(1e9) == "processing"
    assert timeline.progress(1e9) == 0.5
    assert timeline.retry_after(1e9) == 5


def test_zero_processing_time_is_terminal_at_creation() -> None:
    assert Timeline(0.0, 0.0).status(0.0) == "completed"
    assert Timeline(0.0, 0.0, fails=True).status(0.0) == "failed"


def test_retry_after_is_a_bounded_hint() -> None:
    assert Timeline(0.0, 1.0).retry_after(0.0) == 1
    assert Timeline(0.0, 4.2).retry_after(0.0) == 5
    assert Timeline(0.0, 600.0).retry_after(0.0) == 10
    assert Timeline(0.0, 1.0).retry_after(1.0) is None
