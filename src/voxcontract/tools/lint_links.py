"""The ``links-resolve`` rule of ``voxcontract lint``: links lead somewhere, with sound runtime expressions.

A link must name an operation of the document (``operationId`` or a local ``operationRef``), pass only
parameters that operation has, and use runtime expressions that parse and that name what they claim:
``$request.path.x`` a path parameter of the linking operation, ``$response.body#/field`` a member of the
response schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from voxcontract.errors import SpecError
from voxcontract.tools.lint_registry import Problem, rule
from voxcontract.tools.lint_walk import OperationSite, iter_operation_sites, iter_responses, join, locate, mapping

__all__ = ["links_resolve"]

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_NAME = r"[^\s{}]+"
_BODY = r"body(?:#(?:/(?:[^/~{}\s]|~[01])*)*)?"
_EXPRESSION = re.compile(
    rf"\$(?:url|method|statusCode|request\.(?:header\.{_TOKEN}|query\.{_NAME}|path\.{_NAME}|{_BODY})"
    rf"|response\.(?:header\.{_TOKEN}|{_BODY}))"
)
_EMBEDDED = re.compile(r"\{(\$[^{}]*)\}")
_LOCATIONS = ("path", "query", "header", "cookie")
_BRANCHES = ("allOf", "anyOf", "oneOf")


@dataclass(frozen=True, slots=True)
class _Link:
    document: Mapping[str, Any]
    source: OperationSite
    response: Mapping[str, Any]
    pointer: str
    definition: Mapping[str, Any]


@rule("links-resolve")
def links_resolve(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every link names an existing operation and its parameters, with valid runtime expressions."""
    sites = list(iter_operation_sites(document))
    for link in _links(document, sites):
        target, problem = _target(link, sites)
        if problem is not None:
            yield problem
        yield from _parameters(link, target)
        yield from _request_body(link, target)


def _links(document: Mapping[str, Any], sites: Sequence[OperationSite]) -> Iterator[_Link]:
    for site in sites:
        for _, pointer, response in iter_responses(document, site):
            for name, raw in mapping(response.get("links")).items():
                located = locate(document, raw, join(pointer, "links", name))
                if located is not None and isinstance(located[1], Mapping):
                    yield _Link(document, site, response, *located)


def _target(link: _Link, sites: Sequence[OperationSite]) -> tuple[OperationSite | None, Problem | None]:
    operation_id, operation_ref = link.definition.get("operationId"), link.definition.get("operationRef")
    if operation_id is not None and operation_ref is not None:
        return None, (link.pointer, "link has both an operationId and an operationRef")
    if operation_id is not None:
        found = next((site for site in sites if site.operation.operation_id == operation_id), None)
        problem = f"no operation has the operationId {operation_id!r}"
        return found, None if found else (join(link.pointer, "operationId"), problem)
    if isinstance(operation_ref, str) and not operation_ref.startswith("#"):
        return None, None  # an operation of another document: not this one's to check
    if operation_ref is not None:
        found = next((site for site in sites if site.pointer == unquote(str(operation_ref))), None)
        problem = f"operationRef {operation_ref!r} names no operation of the document"
        return found, None if found else (join(link.pointer, "operationRef"), problem)
    return None, (link.pointer, "link names neither an operationId nor an operationRef")


def _parameters(link: _Link, target: OperationSite | None) -> Iterator[Problem]:
    for name, value in mapping(link.definition.get("parameters")).items():
        pointer = join(link.pointer, "parameters", name)
        if target is not None and not _has_parameter(link.document, target, str(name)):
            yield pointer, f"{target.label} has no parameter {name!r}"
        yield from _expressions(link, pointer, value)


def _request_body(link: _Link, target: OperationSite | None) -> Iterator[Problem]:
    if "requestBody" not in link.definition:
        return
    pointer = join(link.pointer, "requestBody")
    if target is not None and "requestBody" not in target.definition:
        yield pointer, f"{target.label} takes no request body"
    yield from _expressions(link, pointer, link.definition["requestBody"])


def _has_parameter(document: Mapping[str, Any], site: OperationSite, name: str, location: str = "") -> bool:
    """Whether the operation has the parameter ``name`` (``path.job_id`` names its location too)."""
    prefix, dot, rest = name.partition(".")
    if not location and dot and prefix in _LOCATIONS:
        location, name = prefix, rest
    try:
        parameters = site.operation.parameters(document)
    except SpecError:  # a broken $ref: refs-resolve reports it
        return True
    return any(_is_named(parameter, name, location) for parameter in parameters)


def _is_named(parameter: Mapping[str, Any], name: str, location: str) -> bool:
    if location and parameter.get("in") != location:
        return False
    if location == "header":
        return str(parameter.get("name")).lower() == name.lower()
    return parameter.get("name") == name


def _expressions(link: _Link, pointer: str, value: Any) -> Iterator[Problem]:
    """Check the runtime expressions of a link value: the whole string, ``{$...}`` parts, or nested literals."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _expressions(link, join(pointer, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _expressions(link, join(pointer, index), item)
    elif isinstance(value, str):
        for expression in [value] if value.startswith("$") else _EMBEDDED.findall(value):
            problem = _expression_problem(link, expression)
            if problem is not None:
                yield pointer, problem


def _expression_problem(link: _Link, expression: str) -> str | None:
    if not _EXPRESSION.fullmatch(expression):
        return f"{expression!r} is not a valid runtime expression"
    source, _, rest = expression[1:].partition(".")
    if rest.startswith("body"):
        holder = link.response if source == "response" else _request_body_of(link)
        return _body_problem(link.document, expression, holder, source)
    location, _, name = rest.partition(".")
    if source == "response":  # only headers remain
        declared = {str(header).lower() for header in mapping(link.response.get("headers"))}
        return None if name.lower() in declared else f"{expression!r}: the response declares no header {name!r}"
    if source == "request" and not _has_parameter(link.document, link.source, name, location):
        return f"{expression!r}: {link.source.label} has no {location} parameter {name!r}"
    return None


def _request_body_of(link: _Link) -> Mapping[str, Any]:
    located = locate(link.document, link.source.definition.get("requestBody"), "#")
    return mapping(located[1]) if located is not None else {}


def _body_problem(document: Mapping[str, Any], expression: str, holder: Mapping[str, Any], what: str) -> str | None:
    _, hash_mark, pointer = expression.partition("#")
    schema = _body_schema(holder)
    segments = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
    if not hash_mark or schema is None or _schema_has(document, schema, segments):
        return None
    return f"{expression!r}: the {what} body schema has no {pointer!r}"


def _body_schema(holder: Mapping[str, Any]) -> Any:
    """The schema of the body, preferring a JSON media type; None when there is none."""
    content = mapping(holder.get("content"))
    media_types = sorted(content, key=lambda media_type: "json" not in str(media_type))
    schemas = [mapping(content[media_type]).get("schema") for media_type in media_types]
    return next((schema for schema in schemas if schema is not None), None)


def _schema_has(document: Mapping[str, Any], schema: Any, segments: Sequence[str]) -> bool:
    """Whether a value of ``schema`` can have the member at ``segments``; shapes it cannot tell pass."""
    located = locate(document, schema, "#")
    if not segments or located is None or not isinstance(located[1], Mapping):
        return True
    node, head, rest = located[1], segments[0], segments[1:]
    properties, items, extra = mapping(node.get("properties")), node.get("items"), node.get("additionalProperties")
    branches = [branch for key in _BRANCHES if isinstance(node.get(key), list) for branch in node[key]]
    if head in properties:
        return _schema_has(document, properties[head], rest)
    if items is not None and head.isdigit():
        return _schema_has(document, items, rest)
    if any(_schema_has(document, branch, segments) for branch in branches):
        return True
    if isinstance(extra, Mapping) or extra is True:
        return _schema_has(document, extra, rest)
    return not (properties or items is not None or branches or extra is not None)
