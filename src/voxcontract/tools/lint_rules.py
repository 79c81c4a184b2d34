"""The rules of ``voxcontract lint`` about the document's structure: validity, operations, errors, references.

Every rule yields ``(pointer, message)`` pairs; it reads the document defensively (a missing or odd node is
somebody else's finding, usually ``openapi-valid``'s or ``refs-resolve``'s) and never raises on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema.exceptions import best_match
from openapi_spec_validator.shortcuts import get_validator_cls
from openapi_spec_validator.validation.exceptions import ValidatorDetectError

from voxcontract.errors import PROBLEM_CONTENT_TYPE, SpecError
from voxcontract.spec import resolve_pointer
from voxcontract.tools.lint_registry import Problem, rule, shorten
from voxcontract.tools.lint_walk import OperationSite, iter_nodes, iter_operation_sites, iter_responses, join, mapping

__all__ = [
    "error_responses",
    "openapi_valid",
    "operation_description",
    "operation_id",
    "operation_summary",
    "operation_tags",
    "problem_json",
    "refs_resolve",
    "unauthorized_header",
    "unused_components",
]

_ALWAYS_DOCUMENTED = ("400", "429", "500")
_COMPONENT_KINDS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
)


# --- openapi-valid ----------------------------------------------------------------------------------------


@rule("openapi-valid")
def openapi_valid(document: Mapping[str, Any]) -> Iterator[Problem]:
    """The document is valid against the OpenAPI schema of its version, and semantically sound."""
    try:
        validator_cls = get_validator_cls(document)
    except (ValidatorDetectError, TypeError):  # no version, or one that is not a string
        yield "#/openapi", "no supported OpenAPI version (openapi: 3.0.x or 3.1.x)"
        return
    for error in validator_cls.schema_validator.iter_errors(document):
        specific = best_match([error, *error.context]) if error.context else error
        yield join("#", *specific.absolute_path), _first_line(specific.message)
    # The semantic checks (unique operationIds, defaults that match their schemas) report paths relative to
    # the node they were checking, so only the document as a whole can be named.
    try:
        validator = validator_cls(document)
        for error in validator.root_validator(validator.schema_path):
            yield "#", shorten(error.message)
    except Exception as exc:  # a broken $ref or a malformed node stops them
        reason = getattr(exc, "ref", None) or exc
        yield "#", shorten(f"semantic validation stopped: {type(exc).__name__}: {reason}")


def _first_line(message: str) -> str:
    # The jsonschema-rs backend appends the failing schema and instance to the message.
    return shorten(next((line for line in message.splitlines() if line.strip()), message))


# --- operations -------------------------------------------------------------------------------------------


@rule("operation-id")
def operation_id(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every operation (callbacks included) has an operationId, and no two share one."""
    pointers: dict[str, list[str]] = {}
    for site in iter_operation_sites(document):
        if site.operation.operation_id is None:
            yield site.pointer, "operation has no operationId"
        else:
            pointers.setdefault(site.operation.operation_id, []).append(site.pointer)
    for value, where in pointers.items():
        for pointer in where if len(where) > 1 else ():
            others = ", ".join(other for other in where if other != pointer)
            yield pointer, f"operationId {value!r} is also used by {others}"


def _missing_text(document: Mapping[str, Any], field: str) -> Iterator[Problem]:
    for site in iter_operation_sites(document):
        value = site.definition.get(field)
        if not isinstance(value, str) or not value.strip():
            yield site.pointer, f"operation has no {field}"


@rule("operation-summary")
def operation_summary(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every operation has a summary."""
    return _missing_text(document, "summary")


@rule("operation-description")
def operation_description(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every operation has a description."""
    return _missing_text(document, "description")


@rule("operation-tags")
def operation_tags(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every operation has tags, each declared in the top-level ``tags``."""
    top = document.get("tags")
    declared = {str(mapping(tag).get("name")) for tag in (top if isinstance(top, list) else [])}
    for site in iter_operation_sites(document):
        tags = site.definition.get("tags")
        if not isinstance(tags, list) or not tags:
            yield site.pointer, "operation has no tags"
            continue
        for index, tag in enumerate(tags):
            if not isinstance(tag, str) or tag not in declared:
                yield join(site.pointer, "tags", index), f"tag {tag!r} is not declared in the top-level tags"


# --- error responses --------------------------------------------------------------------------------------


def _is_secured(document: Mapping[str, Any], site: OperationSite) -> bool:
    return any(isinstance(requirement, Mapping) and requirement for requirement in site.operation.security(document))


@rule("error-responses")
def error_responses(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every operation of the API documents 400, 429 and 500, and 401 when it needs authentication."""
    for site in iter_operation_sites(document, callbacks=False):
        documented = {str(status).upper() for status in mapping(site.definition.get("responses"))}
        required = [*_ALWAYS_DOCUMENTED, *(["401"] if _is_secured(document, site) else [])]
        for status in sorted(required):
            if status not in documented and f"{status[0]}XX" not in documented:
                reason = " (the operation needs authentication)" if status == "401" else ""
                yield join(site.pointer, "responses"), f"no {status} response{reason}"


def _error_responses(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """The 4xx and 5xx responses of the API's own operations (a callback's answers are the receiver's)."""
    for site in iter_operation_sites(document, callbacks=False):
        for status, pointer, response in iter_responses(document, site):
            if status[:1] in ("4", "5"):
                yield status, pointer, response


def _problem_json_message(content: Mapping[str, Any]) -> str | None:
    others = ", ".join(sorted(str(media_type) for media_type in content if media_type != PROBLEM_CONTENT_TYPE))
    if not content:
        return f"error response documents no body; errors are {PROBLEM_CONTENT_TYPE}"
    if PROBLEM_CONTENT_TYPE not in content:
        return f"error response is documented as {others}, not {PROBLEM_CONTENT_TYPE}"
    return f"error response is also documented as {others}; errors are {PROBLEM_CONTENT_TYPE} only" if others else None


@rule("problem-json")
def problem_json(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every 4xx and 5xx response has a body of ``application/problem+json``, and of no other type."""
    for _, pointer, response in _error_responses(document):
        message = _problem_json_message(mapping(response.get("content")))
        if message is not None:
            yield (join(pointer, "content") if "content" in response else pointer), message


@rule("unauthorized-header")
def unauthorized_header(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every 401 response declares the ``WWW-Authenticate`` header (RFC 9110)."""
    for status, pointer, response in _error_responses(document):
        headers = {str(name).lower() for name in mapping(response.get("headers"))}
        if status == "401" and "www-authenticate" not in headers:
            yield pointer, "401 response does not declare the WWW-Authenticate header"


# --- components and references ----------------------------------------------------------------------------


def _component_of(pointer: str) -> str | None:
    """``#/components/<kind>/<name>`` for a pointer into a component, else None."""
    parts = pointer.split("/")
    return "/".join(parts[:4]) if len(parts) >= 4 and parts[:2] == ["#", "components"] else None


def _references(node: Mapping[str, Any]) -> Iterator[str]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        yield ref
    for target in mapping(mapping(node.get("discriminator")).get("mapping")).values():
        if isinstance(target, str):
            yield target if target.startswith("#") else join("#/components/schemas", target)


def _used_security_schemes(document: Mapping[str, Any]) -> Iterator[str]:
    requirements = list(document.get("security") or [])
    for site in iter_operation_sites(document):
        requirements.extend(site.definition.get("security") or [])
    for requirement in requirements:
        for name in mapping(requirement):
            yield join("#/components/securitySchemes", name)


def _used_components(document: Mapping[str, Any]) -> set[str]:
    """Components reachable from outside ``components`` by ``$ref`` (transitively) or by security."""
    edges: dict[str, set[str]] = {}
    for pointer, node in iter_nodes(document):
        if isinstance(node, Mapping):
            for target in _references(node):
                component = _component_of(target)
                if component is not None:
                    edges.setdefault(_component_of(pointer) or "#", set()).add(component)
    used = set(_used_security_schemes(document))
    pending = list(edges.get("#", ()))
    while pending:
        component = pending.pop()
        if component not in used:
            used.add(component)
            pending.extend(edges.get(component, ()))
    return used


@rule("unused-components")
def unused_components(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every component is referenced from the paths, directly or through other components."""
    components = mapping(document.get("components"))
    used = _used_components(document)
    for kind in _COMPONENT_KINDS:
        for name in mapping(components.get(kind)):
            pointer = join("#/components", kind, name)
            if pointer not in used:
                how = "used by no security requirement" if kind == "securitySchemes" else "never referenced"
                yield pointer, f"component {name!r} is {how}"


def _ref_problem(document: Mapping[str, Any], ref: object) -> str | None:
    if not isinstance(ref, str):
        return f"$ref must be a string, not {type(ref).__name__}"
    if not ref.startswith("#"):
        return f"$ref {ref!r} points outside the document, which voxcontract does not follow"
    try:
        resolve_pointer(document, ref)
    except SpecError:
        return f"$ref {ref!r} does not resolve"
    return None


@rule("refs-resolve")
def refs_resolve(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every ``$ref`` points at a node of the document."""
    for pointer, node in iter_nodes(document):
        problem = _ref_problem(document, node["$ref"]) if isinstance(node, Mapping) and "$ref" in node else None
        if problem is not None:
            yield pointer, problem
