"""How ``voxcontract lint``'s rules walk a document: operations with their callbacks, responses through ``$ref``,
and every node with its JSON pointer (data such as examples and extensions skipped). Odd documents are read
without crashing: a node of the wrong type reads as empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from voxcontract.errors import SpecError
from voxcontract.spec import HTTP_METHODS, Operation, escape_pointer, iter_operations, resolve_pointer

__all__ = ["OperationSite", "iter_nodes", "iter_operation_sites", "iter_responses", "join", "locate", "mapping"]

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
