"""``voxcontract lint``: the house rules of an OpenAPI document, beyond what the OpenAPI schema says.

Rules are plain functions registered with :func:`~voxcontract.tools.lint_registry.rule` (in ``lint_rules``,
``lint_examples``, ``lint_links``, walking the document with ``lint_walk``); each yields ``(pointer, message)``
pairs, and :func:`lint_document` turns them into sorted, unique :class:`Finding` objects.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The rule modules register their rules when imported.
from voxcontract.tools import lint_examples, lint_links, lint_rules  # noqa: F401
from voxcontract.tools.lint_registry import RuleCheck, registered_rules, shorten

__all__ = ["Finding", "lint_document", "rule_ids"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a document: where it is (a JSON pointer), which rule found it, and what it is."""

    pointer: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer}  [{self.rule}]  {self.message}"


def rule_ids() -> list[str]:
    """The ids of every registered rule, sorted."""
    return sorted(registered_rules())


def lint_document(document: Mapping[str, Any]) -> list[Finding]:
    """Every finding of every rule, sorted by pointer then rule, without duplicates."""
    findings = {finding for rule_id, check in registered_rules().items() for finding in _run(rule_id, check, document)}
    return sorted(findings, key=lambda finding: (finding.pointer, finding.rule, finding.message))


def _run(rule_id: str, check: RuleCheck, document: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    try:
        found.extend(Finding(pointer, rule_id, message) for pointer, message in check(document))
    except Exception as exc:  # a linter reports an odd document; it does not crash on it
        log.debug("lint rule %s failed", rule_id, exc_info=True)
        found.append(Finding("#", rule_id, shorten(f"could not check the document: {type(exc).__name__}: {exc}")))
    return found
