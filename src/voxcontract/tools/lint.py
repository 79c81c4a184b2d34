"""``voxcontract lint``: the house rules of an OpenAPI document, beyond what the OpenAPI schema says.

Rules are plain functions registered with :func:`rule` (in ``lint_rules``, ``lint_examples``, ``lint_links``);
each yields ``(pointer, message)`` pairs, and :func:`lint_document` turns them into sorted, unique
:class:`Finding` objects. The helpers below walk a document the way every rule needs: operations with
their callbacks, responses through ``$ref``, and every node with its JSON pointer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from voxcontract.errors import SpecError
from voxcontract.spec import HTTP_METHODS, Operation, escape_pointer, iter_operations, resolve_pointer

__all__ = [
    "Finding",
    "OperationSite",
    "Problem",
    "iter_nodes",
    "iter_operation_sites",
    "iter_responses",
    "join",
    "lint_document",
    "locate",
    "mapping",
    "rule",
    "rule_ids",
    "shorten",
]

log = logging.getLogger(__name__)

Problem = tuple[str, str]
"""What a rule yields: the JSON pointer of the offending node, and a message."""

Check = Callable[[Mapping[str, Any]], Iterable[Problem]]

_RULES: dict[str, Check] = {}
_MESSAGE_LIMIT = 200

# Keys whose values are names chosen by the author, never OpenAPI keywords or example data.
_NAME_MAPS = frozenset(
    {
        "callbacks",
        "content",
        "encoding",
        "examples",
        "headers",
        "links",
        "parameters",
        "paths",
        "properties",
        "requestBodies",
        "responses",
        "schemas",
        "securitySchemes",
    }
)
_DATA_KEYS = frozenset({"example", "default", "enum"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a document: where it is (a JSON pointer), which rule found it, and what it is."""

    pointer: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer}  [{self.rule}]  {self.message}"


def rule(rule_id: str) -> Callable[[Check], Check]:
    """Register a check under a stable rule id."""

    def register(check: Check) -> Check:
        if rule_id in _RULES:
            raise ValueError(f"lint rule {rule_id!r} is registered twice")
        _RULES[rule_id] = check
        return check

    return register


def rule_ids() -> list[str]:
    """The ids of every registered rule, sorted."""
    return sorted(_registered())


def lint_document(document: Mapping[str, Any]) -> list[Finding]:
    """Every finding of every rule, sorted by pointer then rule, without duplicates."""
    findings = {finding for rule_id, check in _registered().items() for finding in _run(rule_id, check, document)}
    return sorted(findings, key=lambda finding: (finding.pointer, finding.rule, finding.message))


def _registered() -> Mapping[str, Check]:
    # The rules register themselves when their modules are imported, and they import this one: hence so late.
    from voxcontract.tools import lint_examples, lint_links, lint_rules  # noqa: F401

    return _RULES


def _run(rule_id: str, check: Check, document: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    try:
        found.extend(Finding(pointer, rule_id, message) for pointer, message in check(document))
    except Exception as exc:  # a linter reports an odd document; it does not crash on it
        log.debug("lint rule %s failed", rule_id, exc_info=True)
        found.append(Finding("#", rule_id, shorten(f"could not check the document: {type(exc).__name__}: {exc}")))
    return found


def shorten(text: str) -> str:
    """A message cut to a readable length (validators like to quote whole documents)."""
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def join(pointer: str, *parts: object) -> str:
    """``pointer`` extended by ``parts``, each escaped (``/`` becomes ``~1``)."""
    return pointer + "".join("/" + escape_pointer(str(part)) for part in parts)


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one: rules read odd documents without crashing."""
    return value if isinstance(value, Mapping) else {}


def locate(document: Mapping[str, Any], node: Any, pointer: str) -> tuple[str, Any] | None:
    """Follow the ``$ref`` chain of ``node`` (written at ``pointer``): the final node and where it is
    written, or None when a reference is broken (``refs-resolve`` reports those)."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#") or ref in seen:
            return None
        seen.add(ref)
        try:
            node = resolve_pointer(document, ref)
        except SpecError:
            return None
        pointer = ref
    return pointer, node


def iter_nodes(node: Any, pointer: str = "#", keys: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every node of a document with its pointer, skipping data (examples, defaults, enums, extensions)."""
    yield pointer, node
    if isinstance(node, Mapping):
        children: Iterable[tuple[str, Any]] = ((str(key), value) for key, value in node.items())
    elif isinstance(node, list):
        children = ((str(index), value) for index, value in enumerate(node))
    else:
        return
    for key, value in children:
        path = (*keys, key)
        if not _is_data(path):
            yield from iter_nodes(value, join(pointer, key), path)


def _is_data(path: tuple[str, ...]) -> bool:
    if len(path) > 1 and path[-2] in _NAME_MAPS:
        return False
    if path[-1] in _DATA_KEYS or path[-1].startswith("x-"):
        return True
    return path[-1] == "value" and len(path) > 2 and path[-3] == "examples"


@dataclass(frozen=True, slots=True)
class OperationSite:
    """An operation and where it is written: under ``paths``, or in a callback of another operation."""

    pointer: str
    operation: Operation
    callback: bool = False

    @property
    def definition(self) -> Mapping[str, Any]:
        return self.operation.definition

    @property
    def path_item_pointer(self) -> str:
        return self.pointer.rsplit("/", 1)[0]

    @property
    def label(self) -> str:
        return self.operation.operation_id or self.pointer


def iter_operation_sites(document: Mapping[str, Any], *, callbacks: bool = True) -> Iterator[OperationSite]:
    """Every operation under ``paths`` and, unless told otherwise, every operation of their callbacks."""
    if not isinstance(document.get("paths"), Mapping):
        return
    for operation in iter_operations(document):
        yield OperationSite(operation.pointer, operation)
        if callbacks:
            yield from _callback_sites(document, operation)


def _callback_sites(document: Mapping[str, Any], operation: Operation) -> Iterator[OperationSite]:
    for name, raw in mapping(operation.definition.get("callbacks")).items():
        located = locate(document, raw, join(operation.pointer, "callbacks", name))
        if located is None:
            continue
        for expression, item in mapping(located[1]).items():
            item_pointer = join(located[0], expression)
            for method in HTTP_METHODS:
                definition = mapping(item).get(method)
                if isinstance(definition, Mapping):
                    site = Operation(str(expression), method, definition, item)
                    yield OperationSite(join(item_pointer, method), site, callback=True)


def iter_responses(document: Mapping[str, Any], site: OperationSite) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(status, pointer, response)`` of every resolvable response of an operation; the pointer is where
    the response is written (the component, for a ``$ref``)."""
    for status, raw in mapping(site.definition.get("responses")).items():
        located = locate(document, raw, join(site.pointer, "responses", status))
        if located is not None and isinstance(located[1], Mapping):
            yield str(status), located[0], located[1]
