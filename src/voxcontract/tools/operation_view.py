"""Operations as the reference shows them: parameters, bodies, responses, links, security and samples.

Plain frozen dataclasses, built once from the document; the HTML and Markdown templates only read them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voxcontract.errors import SpecError
from voxcontract.spec import Operation, deref
from voxcontract.tools.schema_view import (
    PropertyRow,
    TypeInfo,
    describe,
    pretty,
    property_rows,
)

__all__ = [
    "BodyView",
    "ExampleView",
    "HeaderView",
    "LinkView",
    "MediaView",
    "OperationView",
    "ParameterView",
    "ResponseView",
    "examples_of",
    "header_view",
    "operation_anchor",
    "operation_view",
    "security_labels",
]


@dataclass(frozen=True, slots=True)
class ExampleView:
    name: str
    summary: str
    text: str
    language: str


@dataclass(frozen=True, slots=True)
class MediaView:
    media_type: str
    type: TypeInfo
    properties: tuple[PropertyRow, ...]  # only for inline object schemas; a $ref links to its schema
    examples: tuple[ExampleView, ...]


@dataclass(frozen=True, slots=True)
class HeaderView:
    name: str
    description: str
    type: TypeInfo
    required: bool
    example: str


@dataclass(frozen=True, slots=True)
class ParameterView:
    name: str
    location: str
    required: bool
    type: TypeInfo
    description: str
    example: str
    deprecated: bool


@dataclass(frozen=True, slots=True)
class LinkView:
    name: str
    operation_id: str
    description: str
    bindings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResponseView:
    status: str
    description: str
    headers: tuple[HeaderView, ...]
    media: tuple[MediaView, ...]
    links: tuple[LinkView, ...]


@dataclass(frozen=True, slots=True)
class BodyView:
    required: bool
    description: str
    media: tuple[MediaView, ...]


@dataclass(frozen=True, slots=True)
class OperationView:
    """One operation, ready to render."""

    anchor: str
    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    tags: tuple[str, ...]
    security: tuple[str, ...]
    deprecated: bool
    parameters: tuple[ParameterView, ...]
    body: BodyView | None
    responses: tuple[ResponseView, ...]
    callbacks: tuple[tuple[str, str], ...] = ()  # (anchor, name) of the webhooks it registers
    samples: dict[str, str] = field(default_factory=dict)


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    try:
        resolved = deref(document, node)
    except SpecError:
        return {}
    return resolved if isinstance(resolved, Mapping) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def operation_anchor(operation: Operation) -> str:
    """The element id of an operation: its operationId, else a slug of method and path."""
    if operation.operation_id:
        return operation.operation_id
    return re.sub(r"[^A-Za-z0-9]+", "-", f"{operation.method}-{operation.path}").strip("-")


def examples_of(document: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[ExampleView, ...]:
    """The named ``examples`` of a media type, parameter or header, else its single ``example``."""
    views: list[ExampleView] = []
    for name, raw in (node.get("examples") or {}).items():
        example = _resolve(document, raw)
        if "value" in example:
            value = example["value"]
            language = "text" if isinstance(value, str) else "json"
            views.append(ExampleView(str(name), _text(example.get("summary")), pretty(value), language))
        elif "externalValue" in example:
            views.append(ExampleView(str(name), _text(example.get("summary")), example["externalValue"], "text"))
    if not views and "example" in node:
        value = node["example"]
        views.append(ExampleView("example", "", pretty(value), "text" if isinstance(value, str) else "json"))
    return tuple(views)


def _inline_example(document: Mapping[str, Any], node: Mapping[str, Any]) -> str:
    found = examples_of(document, node)
    if found:
        return found[0].text
    schema = _resolve(document, node.get("schema", {}))
    return pretty(schema["example"]) if "example" in schema else ""


def _media(document: Mapping[str, Any], content: Mapping[str, Any]) -> tuple[MediaView, ...]:
    views: list[MediaView] = []
    for media_type, raw in content.items():
        media = _resolve(document, raw)
        schema_node = media.get("schema", {})
        inline = not (isinstance(schema_node, Mapping) and "$ref" in schema_node)
        rows = property_rows(document, schema_node) if inline else ()
        views.append(MediaView(str(media_type), describe(document, schema_node), rows, examples_of(document, media)))
    return tuple(views)


def header_view(document: Mapping[str, Any], name: str, raw: Any) -> HeaderView:
    header = _resolve(document, raw)
    return HeaderView(
        name=name,
        description=_text(header.get("description")),
        type=describe(document, header.get("schema", {})),
        required=bool(header.get("required")),
        example=_inline_example(document, header),
    )


def _links(links: Mapping[str, Any], document: Mapping[str, Any]) -> tuple[LinkView, ...]:
    views: list[LinkView] = []
    for name, raw in links.items():
        link = _resolve(document, raw)
        bindings = [f"{key} = {value}" for key, value in (link.get("parameters") or {}).items()]
        body = link.get("requestBody")
        if isinstance(body, Mapping):
            bindings.extend(f"body.{key} = {value}" for key, value in body.items())
        elif body is not None:
            bindings.append(f"body = {body}")
        target = _text(link.get("operationId") or link.get("operationRef"))
        views.append(LinkView(str(name), target, _text(link.get("description")), tuple(bindings)))
    return tuple(views)


def _responses(document: Mapping[str, Any], definition: Mapping[str, Any]) -> tuple[ResponseView, ...]:
    views: list[ResponseView] = []
    for status, raw in (definition.get("responses") or {}).items():
        response = _resolve(document, raw)
        headers = (response.get("headers") or {}).items()
        views.append(
            ResponseView(
                status=str(status),
                description=_text(response.get("description")),
                headers=tuple(header_view(document, str(name), header) for name, header in headers),
                media=_media(document, response.get("content") or {}),
                links=_links(response.get("links") or {}, document),
            )
        )
    return tuple(views)


def _parameters(document: Mapping[str, Any], operation: Operation) -> tuple[ParameterView, ...]:
    return tuple(
        ParameterView(
            name=_text(param.get("name")),
            location=_text(param.get("in")),
            required=bool(param.get("required")),
            type=describe(document, param.get("schema", {})),
            description=_text(param.get("description")),
            example=_inline_example(document, param),
            deprecated=bool(param.get("deprecated")),
        )
        for param in operation.parameters(document)
    )


def _body(document: Mapping[str, Any], definition: Mapping[str, Any]) -> BodyView | None:
    if "requestBody" not in definition:
        return None
    body = _resolve(document, definition["requestBody"])
    return BodyView(
        bool(body.get("required")), _text(body.get("description")), _media(document, body.get("content") or {})
    )


def security_labels(document: Mapping[str, Any], operation: Operation) -> tuple[str, ...]:
    """Each alternative requirement of an operation as text; empty when it needs no authentication."""
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    labels: list[str] = []
    for requirement in operation.security(document):
        parts = []
        for name, scopes in (requirement or {}).items():
            scheme = _resolve(document, schemes.get(name, {}))
            kind = " ".join(_text(scheme.get(key)) for key in ("type", "scheme") if scheme.get(key))
            scope_text = f"; scopes: {', '.join(map(str, scopes))}" if scopes else ""
            parts.append(f"{name} ({kind}{scope_text})" if kind else f"{name}{scope_text}")
        labels.append(" and ".join(parts) if parts else "none (optional)")
    return tuple(labels)


def operation_view(
    document: Mapping[str, Any],
    operation: Operation,
    samples: dict[str, str] | None = None,
    callbacks: tuple[tuple[str, str], ...] = (),
) -> OperationView:
    definition = operation.definition
    return OperationView(
        anchor=operation_anchor(operation),
        operation_id=operation.operation_id or "",
        method=operation.method.upper(),
        path=operation.path,
        summary=_text(definition.get("summary")),
        description=_text(definition.get("description")),
        tags=tuple(str(tag) for tag in definition.get("tags") or ()),
        security=security_labels(document, operation),
        deprecated=bool(definition.get("deprecated")),
        parameters=_parameters(document, operation),
        body=_body(document, definition),
        responses=_responses(document, definition),
        callbacks=callbacks,
        samples=samples or {},
    )
