"""The errors of a document: the problem format, every error code with its meaning and statuses, rate limits."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from voxcontract.errors import SpecError
from voxcontract.spec import deref, iter_operations
from voxcontract.tools.operation_view import HeaderView, header_view
from voxcontract.tools.schema_view import SCHEMA_PREFIX, PropertyRow, pretty, property_rows

__all__ = ["RATE_LIMIT_HEADERS", "ErrorCodeView", "ErrorsView", "ResponseSummary", "errors_view"]

RATE_LIMIT_HEADERS = ("RateLimit", "RateLimit-Policy", "Retry-After")
PROBLEM_MEDIA_TYPE = "application/problem+json"
_BULLET = re.compile(r"^\s*[-*]\s+`([^`]+)`\s*:\s*(.+?)\s*[;.]?\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ErrorCodeView:
    code: str
    meaning: str
    statuses: tuple[str, ...]
    responses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResponseSummary:
    """A reusable response of ``components.responses``."""

    name: str
    statuses: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True)
class ErrorsView:
    media_type: str
    problem_schema: str | None
    problem_rows: tuple[PropertyRow, ...]
    codes: tuple[ErrorCodeView, ...]
    responses: tuple[ResponseSummary, ...]
    rate_limit_headers: tuple[HeaderView, ...]
    example: str | None


def _mapping(document: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    try:
        resolved = deref(document, node)
    except SpecError:
        return {}
    return resolved if isinstance(resolved, Mapping) else {}


def _components(document: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    value = (document.get("components") or {}).get(kind)
    return value if isinstance(value, Mapping) else {}


def _problem_examples(document: Mapping[str, Any], response: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for media_type, raw_media in (response.get("content") or {}).items():
        media = _mapping(document, raw_media)
        if "problem" not in str(media_type) and media_type != "application/json":
            continue
        values = [_mapping(document, raw).get("value") for raw in (media.get("examples") or {}).values()]
        values.append(media.get("example"))
        yield from (value for value in values if isinstance(value, Mapping) and "code" in value)


def _named_responses(document: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """``components.responses`` by name, then inline error responses of operations."""
    named = [(str(name), _mapping(document, raw)) for name, raw in _components(document, "responses").items()]
    for operation in iter_operations(document):
        for status, raw in (operation.definition.get("responses") or {}).items():
            if isinstance(raw, Mapping) and "$ref" not in raw and str(status)[:1] in "45":
                named.append((f"{operation.operation_id or operation.path} {status}", raw))
    return named


def _problem_schema(document: Mapping[str, Any]) -> str | None:
    for _, response in _named_responses(document):
        for media_type, raw_media in (response.get("content") or {}).items():
            ref = _mapping(document, raw_media).get("schema", {}).get("$ref", "")
            if "problem" in str(media_type) and str(ref).startswith(SCHEMA_PREFIX):
                return str(ref)[len(SCHEMA_PREFIX) :]
    return "Problem" if "Problem" in _components(document, "schemas") else None


def _error_code_schema(document: Mapping[str, Any], problem: str | None) -> Mapping[str, Any]:
    schemas = _components(document, "schemas")
    code = (_mapping(document, schemas.get(problem or "", {})).get("properties") or {}).get("code", {})
    if isinstance(code, Mapping) and "$ref" in code:
        return _mapping(document, code)
    return _mapping(document, schemas.get("ErrorCode", {}))


def _codes(document: Mapping[str, Any], problem: str | None) -> tuple[ErrorCodeView, ...]:
    schema = _error_code_schema(document, problem)
    meanings = dict(_BULLET.findall(str(schema.get("description") or "")))
    codes = [str(code) for code in schema.get("enum") or []]
    codes.extend(code for code in meanings if code not in codes)
    statuses: dict[str, set[str]] = {}
    responses: dict[str, list[str]] = {}
    for name, response in _named_responses(document):
        for example in _problem_examples(document, response):
            code = str(example["code"])
            if "status" in example:
                statuses.setdefault(code, set()).add(str(example["status"]))
            if name not in responses.setdefault(code, []):
                responses[code].append(name)
    return tuple(
        ErrorCodeView(
            code, meanings.get(code, ""), tuple(sorted(statuses.get(code, ()))), tuple(responses.get(code, ()))
        )
        for code in codes
    )


def _response_summaries(document: Mapping[str, Any]) -> tuple[ResponseSummary, ...]:
    summaries = []
    for name, raw in _components(document, "responses").items():
        response = _mapping(document, raw)
        found = {str(example["status"]) for example in _problem_examples(document, response) if "status" in example}
        summaries.append(ResponseSummary(str(name), tuple(sorted(found)), str(response.get("description") or "")))
    return tuple(summaries)


def _rate_limit_headers(document: Mapping[str, Any]) -> tuple[HeaderView, ...]:
    headers = {str(name).lower(): (str(name), raw) for name, raw in _components(document, "headers").items()}
    for _, response in _named_responses(document):
        for name, raw in (response.get("headers") or {}).items():
            headers.setdefault(str(name).lower(), (str(name), raw))
    found = (headers.get(name.lower()) for name in RATE_LIMIT_HEADERS)
    return tuple(header_view(document, name, raw) for name, raw in (item for item in found if item))


def _example(document: Mapping[str, Any]) -> str | None:
    for _, response in _named_responses(document):
        for example in _problem_examples(document, response):
            return pretty(example)
    return None


def errors_view(document: Mapping[str, Any]) -> ErrorsView:
    problem = _problem_schema(document)
    rows = property_rows(document, {"$ref": SCHEMA_PREFIX + problem}) if problem else ()
    return ErrorsView(
        media_type=PROBLEM_MEDIA_TYPE,
        problem_schema=problem,
        problem_rows=rows,
        codes=_codes(document, problem),
        responses=_response_summaries(document),
        rate_limit_headers=_rate_limit_headers(document),
        example=_example(document),
    )
