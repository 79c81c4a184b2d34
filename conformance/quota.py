"""The IETF httpapi rate-limit headers as the contract writes them.

``RateLimit-Policy: "default";q=120;w=60`` (``q`` requests per ``w`` seconds) and
``RateLimit: "default";r=117;t=42`` (``r`` requests left, ``t`` seconds until the window resets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conformance.exchange import Exchange

__all__ = ["Quota", "QuotaError", "read_quota"]

_POLICY = re.compile(r'"(?P<name>[A-Za-z0-9_-]+)";q=(?P<q>[0-9]+);w=(?P<w>[0-9]+)')
_REMAINING = re.compile(r'"(?P<name>[A-Za-z0-9_-]+)";r=(?P<r>[0-9]+);t=(?P<t>[0-9]+)')


class QuotaError(ValueError):
    """The headers are missing, do not parse, or contradict each other."""


@dataclass(frozen=True, slots=True)
class Quota:
    """One answer's rate-limit headers, parsed."""

    name: str
    q: int
    w: int
    r: int
    t: int

    def problems(self) -> list[str]:
        """What is incoherent in these values (empty: nothing)."""
        problems: list[str] = []
        if self.q < 1 or self.w < 1:
            problems.append(f"the policy q={self.q};w={self.w} allows nothing")
        if self.r > self.q:
            problems.append(f"r={self.r} is more than the quota q={self.q}")
        if self.t > self.w:
            problems.append(f"t={self.t} is longer than the window w={self.w}")
        return problems


def read_quota(exchange: Exchange) -> Quota:
    """The parsed ``RateLimit-Policy`` and ``RateLimit`` of an answer, or :class:`QuotaError` saying what is wrong."""
    policy, remaining = exchange.header("ratelimit-policy"), exchange.header("ratelimit")
    if policy is None or remaining is None:
        missing = [name for name, value in (("RateLimit-Policy", policy), ("RateLimit", remaining)) if value is None]
        raise QuotaError(f"{exchange.summary()} lacks {' and '.join(missing)}")
    policy_match = _POLICY.fullmatch(policy.strip())
    remaining_match = _REMAINING.fullmatch(remaining.strip())
    if policy_match is None:
        raise QuotaError(f'{exchange.summary()}: RateLimit-Policy {policy!r} is not "name";q=N;w=N')
    if remaining_match is None:
        raise QuotaError(f'{exchange.summary()}: RateLimit {remaining!r} is not "name";r=N;t=N')
    if policy_match["name"] != remaining_match["name"]:
        raise QuotaError(
            f"{exchange.summary()}: RateLimit names policy {remaining_match['name']!r}, "
            f"RateLimit-Policy {policy_match['name']!r}"
        )
    return Quota(
        policy_match["name"],
        int(policy_match["q"]),
        int(policy_match["w"]),
        int(remaining_match["r"]),
        int(remaining_match["t"]),
    )
