"""The mock server's settings: the core's, plus determinism, timing and webhook knobs.

Every field can be set by a ``VOXCONTRACT_<FIELD>`` variable (``VOXCONTRACT_SEED=7``,
``VOXCONTRACT_WEBHOOK_RETRY_SCHEDULE=0.5,1,2``) or by the ``voxcontract mock`` flags; the defaults are set only here.
"""

from __future__ import annotations

import dataclasses
import math

from mockserver.clock import CLOCK_MODES, parse_timestamp
from mockserver.scenarios import SCENARIOS
from voxcontract.errors import ConfigError
from voxcontract.settings import CoreSettings
from voxcontract.spec import load_spec

__all__ = ["DEFAULT_TEST_KEY", "MockSettings"]

#: The API key the mock accepts when no ``api_keys`` are configured, so that it works with zero set-up.
DEFAULT_TEST_KEY = "vox_test_key"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MockSettings(CoreSettings):
    """Settings of the deterministic mock server (see ``mockserver/README.md``)."""

    #: Seeds every id, secret, generated transcript detail and retry jitter: same seed, same answers.
    seed: int = 0
    #: Generous, with a short window: a 429 and its recovery take seconds to exercise (a default conformance run
    #: against the mock, rate-limit burst included, finishes in well under a minute). ``3/minute`` for tiny quotas.
    rate_limit: str = "600/10 seconds"
    #: Mock-clock seconds from queued to completed; 0 completes a job when it is created.
    processing_time: float = 1.0
    #: "real": mock time = start_time + real elapsed time + admin advances; "manual": moves only when advanced.
    clock: str = "real"
    #: The mock clock's time at start-up and after ``POST /__mock/reset`` (RFC 3339).
    start_time: str = "2026-01-01T00:00:00Z"
    #: Real seconds before webhook retries 1..n (each jittered by ±20 %); at most len + 1 attempts.
    webhook_retry_schedule: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    #: Real seconds a webhook receiver has to answer one attempt: what the contract promises receivers
    #: (x-voxscriber-limits.webhook_timeout_seconds), so that a receiver answering in time is never retried.
    webhook_timeout: float = float(load_spec()["x-voxscriber-limits"]["webhook_timeout_seconds"])
    #: The scenario applied to requests that name none (``None``: normal behaviour).
    default_scenario: str | None = None
    #: Any origin's page may call the mock from a browser (integrators develop front ends against it).
    cors_origins: tuple[str, ...] = ("*",)

    def __post_init__(self) -> None:
        # Explicit base call: zero-argument super() breaks in slotted dataclasses before Python 3.14.
        CoreSettings.__post_init__(self)
        if not (math.isfinite(self.processing_time) and self.processing_time >= 0):
            raise ConfigError(f"processing_time must be a finite number >= 0, not {self.processing_time}")
        if self.clock not in CLOCK_MODES:
            raise ConfigError(f"clock must be one of {', '.join(CLOCK_MODES)}, not {self.clock!r}")
        parse_timestamp(self.start_time)
        if any(not (math.isfinite(delay) and delay >= 0) for delay in self.webhook_retry_schedule):
            raise ConfigError("webhook_retry_schedule must hold finite delays >= 0 (seconds)")
        if not (math.isfinite(self.webhook_timeout) and self.webhook_timeout > 0):
            raise ConfigError(f"webhook_timeout must be a positive number of seconds, not {self.webhook_timeout}")
        if self.default_scenario is not None and self.default_scenario not in SCENARIOS:
            raise ConfigError(
                f"unknown default_scenario {self.default_scenario!r}; use one of {', '.join(sorted(SCENARIOS))}"
            )

    @property
    def effective_api_keys(self) -> tuple[str, ...]:
        """The configured keys, or :data:`DEFAULT_TEST_KEY` when none are."""
        return self.api_keys or (DEFAULT_TEST_KEY,)
