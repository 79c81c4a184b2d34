"""The VoxScriber conformance suite: point it at any deployment by URL, get a verdict.

::

    config ──► context (client: budget, recording, inspections) ──► runner ──► events ──► console / junit / report
                                                                     │
                                              groups/ (contract, auth, lifecycle, data, webhooks, rate-limit)
                                                 registered with checks.check, helped by workflow, problems,
                                                 validation, samples, quota, subtitles, transcripts, receiver

``voxcontract conformance`` is the command line; :func:`run_suite` the same in Python. The suite imports only
``voxcontract`` (never the mock or the reference server).
"""

from conformance.checks import Check, check, registered_checks
from conformance.config import ConformanceConfig, UnreachableDeployment, run_suite
from conformance.context import ConformanceContext
from conformance.events import CheckResult, RunResult, Status
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed, CheckSkipped
from conformance.runner import Runner, select_groups

__all__ = [
    "Check",
    "CheckFailed",
    "CheckResult",
    "CheckSkipped",
    "ConformanceConfig",
    "ConformanceContext",
    "Exchange",
    "RunResult",
    "Runner",
    "Status",
    "UnreachableDeployment",
    "check",
    "registered_checks",
    "run_suite",
    "select_groups",
]
