"""When a request is retried and after how long: pure decisions, shared by both clients.

- Answers ``429`` and ``503`` are retried after their ``Retry-After`` (or a backoff when there is none), failures
  to get an answer (connection refused or broken, timeouts) after an exponential backoff with full jitter.
- Only where a retry is safe (:class:`Retry`): reads and deletes always; a transcription start because it carries
  an ``Idempotency-Key`` (the same key, so a retry gets the same job back); an upload only when nothing of it can
  have been stored: a connection that was never made, or a ``429`` / ``503`` (the contract keeps nothing of a
  refused upload), and only when its body can be read again from the start.
- A ``Retry-After`` longer than :attr:`RetryPolicy.max_retry_after` is not slept through: the error is raised with
  its ``retry_after`` so the caller decides.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

import httpx

__all__ = ["Retry", "RetryPolicy", "backoff", "parse_retry_after"]

#: Answers worth retrying: the rate limit and "cannot take the request now".
RETRYABLE_STATUSES = frozenset({429, 503})
#: Failures that prove no byte of the request reached the server.
_UNSENT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Retry(enum.Enum):
    """How safe a request is to send again."""

    #: A read, a delete, or a start carrying an Idempotency-Key: any failure, 429 and 503.
    IDEMPOTENT = "idempotent"
    #: An upload whose body can be re-read: a connection never made, 429 and 503 (nothing was kept).
    UNSENT = "unsent"
    #: A body that cannot be read twice (a pipe, a generator): never.
    NEVER = "never"


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(cap, base * 2**attempt)]``."""
    return rng.uniform(0.0, min(cap, base * 2.0**attempt))


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the contract sends an integer; an HTTP date is not used by the API)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


@dataclass(frozen=True)
class RetryPolicy:
    """How many retries, and the backoff between them (seconds)."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, retry: Retry, outcome: httpx.Response | httpx.TransportError, attempt: int) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None``: give up and report ``outcome``."""
        if attempt >= self.max_retries or retry is Retry.NEVER:
            return None
        if isinstance(outcome, httpx.TransportError):
            if retry is Retry.UNSENT and not isinstance(outcome, _UNSENT_FAILURES):
                return None
            return backoff(attempt, self.base_delay, self.max_delay, self.rng)
        if outcome.status_code not in RETRYABLE_STATUSES:
            return None
        retry_after = parse_retry_after(outcome.headers.get("retry-after"))
        if retry_after is None:
            return backoff(attempt, self.base_delay, self.max_delay, self.rng)
        return retry_after if retry_after <= self.max_retry_after else None
