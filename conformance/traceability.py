"""Traceability: every normative statement of the contract, the checks that verify it, and their verdict in a run.

::

    conformance.statements (the contract's statements) ─┐
    traceability.yaml (rules: glob → checks | not_checkable | gap) ─┼─► Traceability ─► resolve(RunResult) ─► rows
    the registered checks + INSPECTIONS (pseudo-checks) ─┘

A statement's result in a run: ``failed`` if any of its checks failed, else ``error``, else ``unverified``, else
``passed`` (its checks that ran all passed), ``not run`` when none of them ran (skipped or not selected),
``not checkable`` (with the reason), ``unchecked`` when no check verifies it yet (a ``gap`` rule, or no rule).

Inspections are the shared per-answer rules (:mod:`conformance.problems`, :mod:`conformance.http_rules`) that judge
every answer of every check; a violation fails the check that saw it, with the rule's message. An inspection's
verdict is ``failed`` when a failed check's message or findings carry its message, ``passed`` when checks ran and
none does, ``not run`` when no check ran.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from conformance.checks import GROUPS, registered_checks
from conformance.events import CheckResult, RunResult, Status
from conformance.groups import load_group
from conformance.statements import Statement, extract_statements
from voxcontract.spec import load_spec

__all__ = [
    "INSPECTIONS",
    "MAP_PATH",
    "Inspection",
    "MappedStatement",
    "Rule",
    "StatementResult",
    "Traceability",
    "TraceabilityRow",
    "aggregate",
    "known_check_ids",
    "load_rules",
    "traceability_document",
]

MAP_PATH = Path(__file__).with_name("traceability.yaml")


@dataclass(frozen=True, slots=True)
class Inspection:
    """A shared per-answer rule, named as a pseudo-check ``inspection/<name>``; ``pattern`` finds its messages."""

    name: str
    description: str
    pattern: re.Pattern[str]

    @property
    def id(self) -> str:
        return f"inspection/{self.name}"


#: The rules conformance.problems.inspect_answer runs on every answer, and the messages each one writes.
INSPECTIONS = {
    inspection.id: inspection
    for inspection in (
        Inspection("x-request-id", "every answer carries X-Request-Id", re.compile(r"carries no X-Request-Id")),
        Inspection("no-server-error", "no answer is a 5xx", re.compile(r"a server error answered the request")),
        Inspection(
            "problem",
            "every 4xx is an application/problem+json problem with type, title, status, code, request_id",
            re.compile(r"an error answer must be|the problem body is not|the problem lacks|the problem's "),
        ),
        Inspection(
            "retry-after",
            "Retry-After is delay-seconds or an HTTP-date, at most a day",
            re.compile(r"Retry-After .* (?:is neither|asks to wait)"),
        ),
        Inspection(
            "rate-limit",
            "RateLimit and RateLimit-Policy together, parsing, r <= q and t <= w",
            re.compile(r"RateLimit"),
        ),
        Inspection(
            "request-id-echo",
            "X-Request-Id is sane, echoes a sane one sent, replaces any other",
            re.compile(r"X-Request-Id .* (?:is not 1-128|was not echoed|yet it was echoed)"),
        ),
        Inspection(
            "media-type",
            "a success body is of a media type the contract documents for the operation and status",
            re.compile(r"but the contract documents only"),
        ),
    )
}


class StatementResult(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    UNVERIFIED = "unverified"
    NOT_RUN = "not run"
    NOT_CHECKABLE = "not checkable"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the map: the globs it matches, and what it says of the statements it maps."""

    index: int
    globs: tuple[str, ...]
    checks: tuple[str, ...] = ()
    not_checkable: str | None = None
    gap: str | None = None

    def matches(self, statement_id: str) -> bool:
        return any(fnmatch.fnmatchcase(statement_id, glob) for glob in self.globs)

    @property
    def label(self) -> str:
        return f"rule {self.index} ({', '.join(self.globs)})"


@dataclass(frozen=True, slots=True)
class MappedStatement:
    """A statement and the rule that maps it (None: no rule does), its checks expanded."""

    statement: Statement
    rule: Rule | None
    checks: tuple[str, ...]

    @property
    def not_checkable(self) -> str | None:
        return self.rule.not_checkable if self.rule else None

    @property
    def checked(self) -> bool:
        return bool(self.checks)


@dataclass(frozen=True, slots=True)
class TraceabilityRow:
    """A statement with its checks and its result in one run."""

    mapping: MappedStatement
    result: StatementResult

    def to_dict(self) -> dict[str, Any]:
        statement = self.mapping.statement
        return {
            "id": statement.id,
            "kind": statement.kind,
            "location": statement.location,
            "text": statement.text,
            "checks": list(self.mapping.checks),
            "not_checkable": self.mapping.not_checkable,
            "result": self.result.value,
        }


def load_rules(path: Path = MAP_PATH) -> list[Rule]:
    """The rules of a traceability map, in order (ValueError for a malformed one)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = []
    for index, raw in enumerate(document.get("rules") or [], start=1):
        match = raw.get("match") if isinstance(raw, dict) else None
        globs = (match,) if isinstance(match, str) else tuple(match or ())
        said = [key for key in ("checks", "not_checkable", "gap") if raw.get(key)]
        if not globs or len(said) != 1:
            raise ValueError(f"{path.name} rule {index}: needs `match` and exactly one of checks, not_checkable, gap")
        rules.append(Rule(index, globs, tuple(raw.get("checks") or ()), raw.get("not_checkable"), raw.get("gap")))
    return rules


def known_check_ids() -> list[str]:
    """Every registered check of every group that loads, and the inspections."""
    for group in GROUPS:
        try:
            load_group(group)
        except ImportError:  # the contract group without Schemathesis: its ids then count as unknown
            continue
    return [item.id for item in registered_checks()] + list(INSPECTIONS)


@dataclass(slots=True)
class Traceability:
    """The contract's statements mapped by the rules, with what is wrong with the map."""

    statements: Sequence[Statement]
    rules: Sequence[Rule]
    check_ids: Sequence[str]
    mappings: list[MappedStatement] = field(init=False)
    unknown_checks: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.unknown_checks = {}
        expanded = {rule.index: self._expand(rule) for rule in self.rules}
        self.mappings = []
        for statement in self.statements:
            rule = next((rule for rule in self.rules if rule.matches(statement.id)), None)
            self.mappings.append(MappedStatement(statement, rule, expanded[rule.index] if rule else ()))

    @classmethod
    def of_contract(cls, document: Mapping[str, Any] | None = None, path: Path = MAP_PATH) -> Traceability:
        """The bundled contract (or ``document``) against the map at ``path``."""
        return cls(extract_statements(document or load_spec()), load_rules(path), known_check_ids())

    def _expand(self, rule: Rule) -> tuple[str, ...]:
        found: list[str] = []
        for name in rule.checks:
            matched = [check for check in self.check_ids if fnmatch.fnmatchcase(check, name)]
            if not matched:
                self.unknown_checks.setdefault(rule.label, []).append(name)
            found += matched
        return tuple(dict.fromkeys(found))

    @property
    def unchecked(self) -> list[MappedStatement]:
        """Statements no check verifies and that are not marked not checkable (gaps and unmapped)."""
        return [item for item in self.mappings if not item.checked and item.not_checkable is None]

    @property
    def stale_rules(self) -> list[Rule]:
        """Rules that map no statement: their statements are gone, or earlier rules take them all."""
        used = {item.rule.index for item in self.mappings if item.rule}
        return [rule for rule in self.rules if rule.index not in used]

    def resolve(self, result: RunResult) -> list[TraceabilityRow]:
        """Each statement's result in ``result``."""
        verdicts = _verdicts(result)
        return [TraceabilityRow(item, _statement_result(item, verdicts)) for item in self.mappings]


def _verdicts(result: RunResult) -> dict[str, Status]:
    """Each check's status in the run, and each inspection's (absent: did not run)."""
    verdicts = {item.id: item.status for item in result.results}
    ran = [item for item in result.results if item.status is not Status.SKIPPED]
    for inspection in INSPECTIONS.values():
        if ran:
            broken = any(_reports(item, inspection) for item in ran if item.status is Status.FAILED)
            verdicts[inspection.id] = Status.FAILED if broken else Status.PASSED
    return verdicts


def _reports(item: CheckResult, inspection: Inspection) -> bool:
    return any(inspection.pattern.search(text) for text in (item.message, *item.findings))


#: Check statuses in the order they decide a statement's result (first present wins).
_PRECEDENCE = (
    (Status.FAILED, StatementResult.FAILED),
    (Status.ERROR, StatementResult.ERROR),
    (Status.UNVERIFIED, StatementResult.UNVERIFIED),
    (Status.PASSED, StatementResult.PASSED),
)


def _statement_result(item: MappedStatement, verdicts: Mapping[str, Status]) -> StatementResult:
    if not item.checked:
        return StatementResult.NOT_CHECKABLE if item.not_checkable is not None else StatementResult.UNCHECKED
    return aggregate(verdicts[check] for check in item.checks if check in verdicts)


def aggregate(statuses: Iterable[Status]) -> StatementResult:
    """The result of a statement whose checks ended with ``statuses`` (skipped ones did not run)."""
    seen = set(statuses)
    return next((result for status, result in _PRECEDENCE if status in seen), StatementResult.NOT_RUN)


def traceability_document(result: RunResult, traceability: Traceability | None = None) -> dict[str, Any]:
    """The report's ``traceability`` key: every statement with its checks and result, and a summary."""
    rows = (traceability or Traceability.of_contract()).resolve(result)
    by_result = Counter(row.result.value for row in rows)
    return {
        "statements": [row.to_dict() for row in rows],
        "summary": {
            "statements": len(rows),
            "mapped": sum(1 for row in rows if row.mapping.checked),
            "not_checkable": sum(1 for row in rows if row.mapping.not_checkable is not None),
            "by_result": {result.value: by_result[result.value] for result in StatementResult},
        },
    }


def _print_unmapped() -> None:
    """``python -m conformance.traceability``: the statements no check verifies yet, as rules to start from."""
    traceability = Traceability.of_contract()
    for item in traceability.unchecked:
        why = f"  # gap: {item.rule.gap}" if item.rule and item.rule.gap else ""
        sys.stdout.write(f'- match: "{item.statement.id}"{why}\n  #  {item.statement.text[:100]}\n')
    for rule in traceability.stale_rules:
        sys.stdout.write(f"# stale: {rule.label}\n")
    for label, names in traceability.unknown_checks.items():
        sys.stdout.write(f"# unknown checks in {label}: {', '.join(names)}\n")


if __name__ == "__main__":
    _print_unmapped()
