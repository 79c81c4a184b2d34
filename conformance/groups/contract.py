"""The contract group: the contract's own property-based tests, run by Schemathesis against the deployment.

One check per Schemathesis phase, each a run of Schemathesis's engine with every built-in check (server errors,
status codes, content types, response schemas and headers, schema-valid data accepted, invalid data rejected,
missing required headers, ignored auth, unsupported methods, ``Allow`` headers, use after free, resource
availability), positive and negative data, ``ctx.max_examples`` per operation and ``ctx.seed``:

- ``examples``: every example the contract documents, sent as it is;
- ``coverage``: boundary and invalid values for every parameter and body property, deterministically;
- ``fuzzing``: generated data, valid and invalid;
- ``stateful``: scenarios along the contract's links (upload → transcribe → status → transcript → delete).

A check fails once, listing each distinct failure (Schemathesis check, operation, what went wrong), with curl
commands for the first few. How the runs are set up, and how their requests count against the budget:
:mod:`conformance.groups.contract_support`. Without Schemathesis (``pip install voxcontract[conformance]``) the
four checks are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.checks import check
from conformance.client import BudgetExhausted
from conformance.outcomes import CheckFailed, CheckSkipped
from conformance.scope import current_scope

if TYPE_CHECKING:
    from conformance.context import ConformanceContext
    from conformance.groups.contract_support import PhaseReport

__all__ = ["SCHEMATHESIS_MISSING", "coverage", "examples", "fuzzing", "run_schemathesis", "stateful"]

SCHEMATHESIS_MISSING = "schemathesis is not installed: pip install voxcontract[conformance]"
#: Failures named in a check's message, and how many of them get a reproduction.
LISTED_FINDINGS = 25
REPRODUCED_FINDINGS = 3
_EXTRAS = frozenset({"schemathesis", "hypothesis"})


def run_schemathesis(ctx: ConformanceContext, phase: str) -> None:
    """Run one Schemathesis phase against the deployment.

    Returns if it found nothing; raises CheckFailed listing what it found, BudgetExhausted if the budget ran out
    before the phase finished (and nothing was found), CheckSkipped without Schemathesis.
    """
    try:
        from conformance.groups import contract_support
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] in _EXTRAS:
            raise CheckSkipped(SCHEMATHESIS_MISSING) from exc
        raise
    if ctx.budget.exhausted:
        raise BudgetExhausted(f"the request budget of {ctx.budget.limit} requests is spent")
    report = contract_support.run_phase(ctx, phase)
    current_scope().raise_if_cancelled()
    ctx.note(
        f"Schemathesis {phase} phase: {report.requests} requests "
        f"(seed {ctx.seed}, at most {ctx.max_examples} examples per operation)"
    )
    if report.findings:
        stopped = f"(the request budget of {ctx.budget.limit} requests ran out first)" if report.budget_spent else None
        raise CheckFailed(_describe(report, stopped), reproduction=_reproductions(report))
    if report.budget_spent:
        raise BudgetExhausted(
            f"the request budget of {ctx.budget.limit} requests ran out after {report.requests} requests, "
            f"before the {phase} phase finished"
        )


def _describe(report: PhaseReport, footnote: str | None = None) -> str:
    findings = list(report.findings.values())
    count = len(findings)
    noun = "failure" if count == 1 else "failures"
    lines = [f"Schemathesis found {count} distinct {noun} in the {report.phase} phase:"]
    lines += [f"  - {finding}" for finding in findings[:LISTED_FINDINGS]]
    if count > LISTED_FINDINGS:
        lines.append(f"  ... and {count - LISTED_FINDINGS} more")
    if footnote:
        lines.append(footnote)
    return "\n".join(lines)


def _reproductions(report: PhaseReport) -> str | None:
    shown = [finding for finding in report.findings.values() if finding.reproduction][:REPRODUCED_FINDINGS]
    return "\n\n".join(f"# {finding.check} on {finding.operation}\n{finding.reproduction}" for finding in shown) or None


@check(
    "contract",
    "examples",
    description="Every example the contract documents is sent; every answer passes all Schemathesis checks.",
)
def examples(ctx: ConformanceContext) -> None:
    run_schemathesis(ctx, "examples")


@check(
    "contract",
    "coverage",
    description="Boundary and invalid values for every parameter and body property are answered as the contract says.",
)
def coverage(ctx: ConformanceContext) -> None:
    run_schemathesis(ctx, "coverage")


@check(
    "contract",
    "fuzzing",
    description="Generated requests, valid and invalid, are accepted or refused and answered as the contract says.",
)
def fuzzing(ctx: ConformanceContext) -> None:
    run_schemathesis(ctx, "fuzzing")


@check(
    "contract",
    "stateful",
    description="Sequences along the contract's links (upload, transcribe, status, transcript, delete) hold up.",
)
def stateful(ctx: ConformanceContext) -> None:
    run_schemathesis(ctx, "stateful")
