"""The mock clock: every timestamp, job transition and expiry of the mock is read from it.

In ``real`` mode it runs with the wall clock (from ``start_time``), in ``manual`` mode it stands still until
``POST /__mock/clock/advance``; both modes accept advances, so tests can jump over a job's processing time.
Times are seconds since the Unix epoch (floats); :func:`format_timestamp` renders them as RFC 3339 in UTC.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from voxcontract.errors import ConfigError

__all__ = ["CLOCK_MODES", "MockClock", "format_timestamp", "parse_timestamp"]

CLOCK_MODES = ("real", "manual")


def parse_timestamp(text: str) -> float:
    """Unix seconds of an RFC 3339 timestamp; :class:`ConfigError` if it is not one (or has no zone)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{text!r} is not an RFC 3339 timestamp (e.g. 2026-01-01T00:00:00Z)") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{text!r} has no time zone; add Z for UTC")
    return moment.timestamp()


def format_timestamp(seconds: float) -> str:
    """RFC 3339 in UTC: whole seconds when the time has no fraction, else milliseconds."""
    millis = round(seconds * 1000)
    whole, fraction = divmod(millis, 1000)
    text = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{fraction:03d}Z" if fraction else f"{text}Z"


class MockClock:
    """Mock time in Unix seconds; ``monotonic`` is injectable for tests of the real mode."""

    def __init__(self, start: float, mode: str = "real", *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if mode not in CLOCK_MODES:
            raise ConfigError(f"clock mode must be one of {', '.join(CLOCK_MODES)}, not {mode!r}")
        self.start = start
        self.mode = mode
        self._monotonic = monotonic
        self._origin = monotonic()
        self._advanced = 0.0

    def now(self) -> float:
        """The current mock time."""
        elapsed = self._monotonic() - self._origin if self.mode == "real" else 0.0
        return self.start + elapsed + self._advanced

    def now_text(self) -> str:
        return format_timestamp(self.now())

    def advance(self, seconds: float) -> float:
        """Move the clock forward; returns the new time. Negative or non-finite amounts are refused."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError("the clock only moves forward by a finite number of seconds")
        self._advanced += seconds
        return self.now()

    def reset(self) -> None:
        """Back to the start time (and, in real mode, start counting from now)."""
        self._origin = self._monotonic()
        self._advanced = 0.0
