"""The mock clock: RFC 3339 rendering, real and manual modes, advances, reset."""

from __future__ import annotations

import pytest

from mockserver.clock import MockClock, format_timestamp, parse_timestamp
from voxcontract.errors import ConfigError

START = parse_timestamp("2026-01-01T00:00:00Z")


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (START, "2026-01-01T00:00:00Z"),
        (START + 0.25, "2026-01-01T00:00:00.250Z"),
        (START + 59.9996, "2026-01-01T00:01:00Z"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_timestamp(seconds) == text


def test_parse_accepts_offsets_and_refuses_naive_times() -> None:
    assert parse_timestamp("2026-01-01T02:00:00+02:00") == START
    with pytest.raises(ConfigError):
        parse_timestamp("2026-01-01T00:00:00")
    with pytest.raises(ConfigError):
        parse_timestamp("soon")


def test_manual_clock_moves_only_when_advanced() -> None:
    monotonic = FakeMonotonic()
    clock = MockClock(START, "manual", monotonic=monotonic)
    monotonic.value += 50

    assert clock.now() == START
    assert clock.advance(1.5) == START + 1.5
    assert clock.now_text() == "2026-01-01T00:00:01.500Z"


def test_real_clock_runs_and_accepts_advances() -> None:
    monotonic = FakeMonotonic()
    clock = MockClock(START, "real", monotonic=monotonic)
    monotonic.value += 2

    assert clock.now() == START + 2
    clock.advance(10)
    assert clock.now() == START + 12
    clock.reset()
    assert clock.now() == START
    monotonic.value += 1
    assert clock.now() == START + 1


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_advances_must_be_finite_and_forward(seconds: float) -> None:
    with pytest.raises(ValueError, match="forward"):
        MockClock(START, "manual").advance(seconds)


def test_unknown_mode() -> None:
    with pytest.raises(ConfigError):
        MockClock(START, "lunar")
