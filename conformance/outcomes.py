"""How a check ends other than by returning (a pass): it failed, it was skipped, or it could not decide.

Anything else a check raises is an error of the check.
"""

from __future__ import annotations

from conformance.exchange import Exchange

__all__ = ["CheckFailed", "CheckSkipped", "CheckUnverified"]


class CheckFailed(AssertionError):
    """The deployment violates the contract: what was wrong, and the exchange that shows it."""

    def __init__(self, message: str, *, exchange: Exchange | None = None, reproduction: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange
        self.reproduction = reproduction

    def __str__(self) -> str:
        return self.message


class CheckSkipped(Exception):
    """The check cannot run against this deployment or with these options (the reason says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CheckUnverified(Exception):
    """The check ran but could not decide: too few observations, or the deployment refused the suite's own set-up.

    ``remedy`` names the flag or server setting that would let it decide; the verdict is neither passed nor failed.
    """

    def __init__(self, reason: str, *, remedy: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.remedy = remedy

    def __str__(self) -> str:
        return f"{self.reason} ({self.remedy})" if self.remedy else self.reason
