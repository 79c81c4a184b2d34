"""The registry of ``voxcontract lint``'s rules: a rule is a plain function registered with :func:`rule` that
yields ``(pointer, message)`` pairs. ``lint_rules``, ``lint_examples`` and ``lint_links`` hold the rules; ``lint``
runs them. Kept apart from ``lint`` so that the rules need not import the module that imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Problem", "RuleCheck", "registered_rules", "rule", "shorten"]

Problem = tuple[str, str]
"""What a rule yields: the JSON pointer of the offending node, and a message."""

RuleCheck = Callable[[Mapping[str, Any]], Iterable[Problem]]

_RULES: dict[str, RuleCheck] = {}
_MESSAGE_LIMIT = 200


def rule(rule_id: str) -> Callable[[RuleCheck], RuleCheck]:
    """Register a check under a stable rule id."""

    def register(check: RuleCheck) -> RuleCheck:
        if rule_id in _RULES:
            raise ValueError(f"lint rule {rule_id!r} is registered twice")
        _RULES[rule_id] = check
        return check

    return register


def registered_rules() -> Mapping[str, RuleCheck]:
    """Every rule registered so far, by id (the rule modules register theirs when imported)."""
    return _RULES


def shorten(text: str) -> str:
    """A message cut to a readable length (validators like to quote whole documents)."""
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"
