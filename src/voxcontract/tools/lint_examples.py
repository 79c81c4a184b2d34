"""The ``examples-valid`` rule of ``voxcontract lint``: every example validates against its schema.

Examples are found in media types (request bodies, responses, callbacks, parameter and header ``content``),
in parameters and headers, and in component schemas. Schemas are validated with openapi-schema-validator
(``nullable``, OpenAPI formats), their ``$ref`` resolved in the whole document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, OAS31Validator, oas30_format_checker, oas31_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4, DRAFT202012

from voxcontract.tools.lint_registry import Problem, rule, shorten
from voxcontract.tools.lint_walk import OperationSite, iter_operation_sites, iter_responses, join, locate, mapping

__all__ = ["examples_valid"]

_DOCUMENT_URI = "urn:voxcontract:lint-document"


@dataclass(frozen=True, slots=True)
class _Example:
    pointer: str  # where the example is written or referenced
    schema: str  # the pointer of its schema
    value: Any
    source: str = ""  # the component, for a referenced example


@rule("examples-valid")
def examples_valid(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Every example (media types, parameters, headers, component schemas) validates against its schema."""
    validate = _schema_validator(document)
    for example in _examples(document):
        error = validate(example.schema, example.value)
        if error is not None:
            what = f"example {example.source}" if example.source else "example"
            where = f" at {error.json_path}" if error.absolute_path else ""
            yield example.pointer, shorten(f"{what} does not match its schema{where}: {error.message}")


def _schema_validator(document: Mapping[str, Any]) -> Callable[[str, Any], ValidationError | None]:
    """A function validating a value against the schema at a pointer, ``$ref`` resolved in the document."""
    is_31 = str(document.get("openapi", "")).startswith("3.1")
    validator_cls, checker = (OAS31Validator, oas31_format_checker) if is_31 else (OAS30Validator, oas30_format_checker)
    resource = (DRAFT202012 if is_31 else DRAFT4).create_resource(document)
    registry: Registry[Any] = Registry().with_resource(_DOCUMENT_URI, resource)

    def validate(schema_pointer: str, value: Any) -> ValidationError | None:
        root = {"$ref": _DOCUMENT_URI + "#" + quote(schema_pointer[1:], safe="/~")}
        validator = validator_cls(root, registry=registry, format_checker=checker)
        try:
            return best_match(validator.iter_errors(value))
        except Exception:  # a schema that cannot be applied (a broken $ref, a bad pattern) is another rule's finding
            return None

    return validate


def _examples(document: Mapping[str, Any]) -> Iterator[_Example]:
    for site in iter_operation_sites(document):
        yield from _parameter_examples(document, site)
        body = locate(document, site.definition.get("requestBody"), join(site.pointer, "requestBody"))
        if body is not None:
            yield from _content_examples(document, *body)
        for _, pointer, response in iter_responses(document, site):
            yield from _content_examples(document, pointer, response)
            for name, raw in mapping(response.get("headers")).items():
                yield from _value_examples(document, locate(document, raw, join(pointer, "headers", name)))
    for name, schema in mapping(mapping(document.get("components")).get("schemas")).items():
        yield from _schema_examples(join("#/components/schemas", name), schema)


def _parameter_examples(document: Mapping[str, Any], site: OperationSite) -> Iterator[_Example]:
    owners = ((site.path_item_pointer, site.operation.path_item), (site.pointer, site.definition))
    for pointer, owner in owners:
        parameters = owner.get("parameters")
        for index, raw in enumerate(parameters if isinstance(parameters, list) else []):
            yield from _value_examples(document, locate(document, raw, join(pointer, "parameters", index)))


def _value_examples(document: Mapping[str, Any], located: tuple[str, Any] | None) -> Iterator[_Example]:
    """The examples of a parameter or a header: its own, and those of its ``content``."""
    if located is not None:
        yield from _own_examples(document, *located)
        yield from _content_examples(document, *located)


def _content_examples(document: Mapping[str, Any], pointer: str, node: Any) -> Iterator[_Example]:
    for media_type, definition in mapping(mapping(node).get("content")).items():
        yield from _own_examples(document, join(pointer, "content", media_type), definition)


def _own_examples(document: Mapping[str, Any], pointer: str, node: Any) -> Iterator[_Example]:
    """``example`` and ``examples`` of a media type, a parameter or a header, with the schema beside them."""
    if not isinstance(node, Mapping) or "schema" not in node:
        return
    schema = join(pointer, "schema")
    if "example" in node:
        yield _Example(join(pointer, "example"), schema, node["example"])
    for name, raw in mapping(node.get("examples")).items():
        usage = join(pointer, "examples", name)
        located = locate(document, raw, usage)
        if located is not None and "value" in mapping(located[1]):
            yield _Example(usage, schema, located[1]["value"], located[0] if located[0] != usage else "")


def _schema_examples(pointer: str, schema: Any) -> Iterator[_Example]:
    """The ``example`` of a schema and of its subschemas (a ``$ref``'s siblings are ignored in 3.0)."""
    if not isinstance(schema, Mapping) or "$ref" in schema:
        return
    if "example" in schema:
        yield _Example(join(pointer, "example"), pointer, schema["example"])
    for name, subschema in mapping(schema.get("properties")).items():
        yield from _schema_examples(join(pointer, "properties", name), subschema)
    for keyword in ("items", "additionalProperties", "not"):
        yield from _schema_examples(join(pointer, keyword), schema.get(keyword))
    for keyword in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(keyword)
        for index, branch in enumerate(branches if isinstance(branches, list) else []):
            yield from _schema_examples(join(pointer, keyword, index), branch)
