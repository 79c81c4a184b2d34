"""The webhooks of a document, found in the ``callbacks`` of its operations (OpenAPI 3.0 has no ``webhooks``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxcontract.errors import SpecError
from voxcontract.spec import HTTP_METHODS, Operation, deref, iter_operations
from voxcontract.tools.operation_view import OperationView, operation_anchor, operation_view

__all__ = ["EventTypeView", "WebhookView", "webhook_views"]

_DELIVERY = re.compile(r"\b(answer|acknowledg|retr(y|ies|ied))", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class EventTypeView:
    name: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WebhookView:
    """One callback operation: who registers it, what it sends, and what the receiver must answer."""

    anchor: str
    name: str
    expression: str
    source_anchor: str
    source_label: str
    operation: OperationView
    event_types: tuple[EventTypeView, ...]
    delivery: tuple[str, ...]


def _mapping(document: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    try:
        resolved = deref(document, node)
    except SpecError:
        return {}
    return resolved if isinstance(resolved, Mapping) else {}


def _event_types(document: Mapping[str, Any], definition: Mapping[str, Any]) -> tuple[EventTypeView, ...]:
    body = _mapping(document, definition.get("requestBody", {}))
    names: list[str] = []
    examples: dict[str, list[str]] = {}
    for raw_media in (body.get("content") or {}).values():
        media = _mapping(document, raw_media)
        schema = _mapping(document, media.get("schema", {}))
        kind = _mapping(document, (schema.get("properties") or {}).get("type", {}))
        names.extend(str(name) for name in kind.get("enum") or [] if str(name) not in names)
        for example_name, raw_example in (media.get("examples") or {}).items():
            value = _mapping(document, raw_example).get("value")
            if isinstance(value, Mapping) and "type" in value:
                examples.setdefault(str(value["type"]), []).append(str(example_name))
    if not names:
        fallback = _mapping(document, {"$ref": "#/components/schemas/WebhookEvent"}).get("properties") or {}
        names = [str(name) for name in _mapping(document, fallback.get("type", {})).get("enum") or []]
    return tuple(EventTypeView(name, tuple(examples.get(name, ()))) for name in names)


def _delivery(description: str) -> tuple[str, ...]:
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", description) if part.strip()]
    return tuple(part for part in paragraphs if _DELIVERY.search(part) and not part.lstrip().startswith("-"))


def _callback_operations(document: Mapping[str, Any], source: Operation) -> list[tuple[str, str, Operation]]:
    found: list[tuple[str, str, Operation]] = []
    for name, raw_callback in (source.definition.get("callbacks") or {}).items():
        for expression, raw_item in _mapping(document, raw_callback).items():
            item = _mapping(document, raw_item)
            for method in HTTP_METHODS:
                definition = item.get(method)
                if isinstance(definition, Mapping):
                    found.append((str(name), str(expression), Operation(str(expression), method, definition, item)))
    return found


def webhook_views(document: Mapping[str, Any]) -> list[WebhookView]:
    """Every callback operation of every operation, in document order."""
    views: list[WebhookView] = []
    for source in iter_operations(document):
        for name, expression, operation in _callback_operations(document, source):
            view = operation_view(document, operation)
            views.append(
                WebhookView(
                    anchor=f"webhook-{name}-{operation.method}",
                    name=name,
                    expression=expression,
                    source_anchor=operation_anchor(source),
                    source_label=f"{source.method.upper()} {source.path}",
                    operation=view,
                    event_types=_event_types(document, operation.definition),
                    delivery=_delivery(view.description),
                )
            )
    return views
