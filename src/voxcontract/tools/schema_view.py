"""Schemas as the reference shows them: a one-line type with its constraints, and a table of properties.

A ``$ref`` to a component schema is never expanded: it stays a token that names the schema, which the HTML
renders as an in-page link to that schema's anchor (so recursive schemas are no problem).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxcontract.errors import SpecError
from voxcontract.spec import deref

__all__ = [
    "SCHEMA_PREFIX",
    "PropertyRow",
    "SchemaView",
    "TypeInfo",
    "describe",
    "pretty",
    "property_rows",
    "schema_anchor",
    "schema_views",
]

SCHEMA_PREFIX = "#/components/schemas/"
_MAX_DEPTH = 4
_COMPOSITIONS = (("allOf", "all of ", " & "), ("oneOf", "one of ", " | "), ("anyOf", "any of ", " | "))
_LIMITS = (
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
)

Token = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """A type as tokens (text, and the component schema it names, if any) plus constraint labels."""

    tokens: tuple[Token, ...]
    constraints: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.tokens)


@dataclass(frozen=True, slots=True)
class PropertyRow:
    name: str
    type: TypeInfo
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class SchemaView:
    """One component schema."""

    name: str
    anchor: str
    description: str
    type: TypeInfo
    properties: tuple[PropertyRow, ...]
    additional: str
    example: str | None


def schema_anchor(name: str) -> str:
    return f"schema-{name}"


def pretty(value: Any) -> str:
    """An example as text: strings as they are, anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _ref_name(node: Any) -> str | None:
    ref = node.get("$ref") if isinstance(node, Mapping) else None
    if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
        return ref[len(SCHEMA_PREFIX) :].replace("~1", "/").replace("~0", "~")
    return None


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    try:
        return deref(document, node)
    except SpecError:
        return {}


def _literal(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _constraints(schema: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    if "format" in schema:
        found.append(f"format: {schema['format']}")
    if isinstance(schema.get("enum"), list):
        found.append("enum: " + " | ".join(_literal(item) for item in schema["enum"]))
    if schema.get("nullable") is True:
        found.append("nullable")
    if "pattern" in schema:
        found.append(f"pattern: {schema['pattern']}")
    for key, exclusive, sign in (("minimum", "exclusiveMinimum", ">"), ("maximum", "exclusiveMaximum", "<")):
        if key in schema:
            found.append(f"{key}: {sign if schema.get(exclusive) is True else ''}{_literal(schema[key])}")
    found.extend(f"{key}: {schema[key]}" for key in _LIMITS if key in schema)
    if schema.get("uniqueItems") is True:
        found.append("unique items")
    if "default" in schema:
        found.append(f"default: {_literal(schema['default'])}")
    found.extend(flag for flag in ("readOnly", "writeOnly", "deprecated") if schema.get(flag) is True)
    return tuple(found)


def describe(document: Mapping[str, Any], node: Any, depth: int = 0) -> TypeInfo:
    """The type of a schema in one line; component references stay names."""
    name = _ref_name(node)
    if name is not None:
        return TypeInfo(((name, name),))
    schema = _resolve(document, node)
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return TypeInfo((("any", None),))
    for key, label, separator in _COMPOSITIONS:
        if isinstance(schema.get(key), list):
            tokens: list[Token] = [(label, None)]
            for index, part in enumerate(schema[key]):
                if index:
                    tokens.append((separator, None))
                tokens.extend(describe(document, part, depth + 1).tokens)
            return TypeInfo(tuple(tokens), _constraints(schema))
    kind = schema.get("type")
    if kind == "array":
        items = describe(document, schema.get("items", {}), depth + 1)
        return TypeInfo((("array of ", None), *items.tokens), _constraints(schema))
    extra = schema.get("additionalProperties")
    if kind in (None, "object") and isinstance(extra, Mapping) and not schema.get("properties"):
        values = describe(document, extra, depth + 1)
        return TypeInfo((("map of ", None), *values.tokens), _constraints(schema))
    if kind is None:
        kind = "object" if "properties" in schema else "any"
    return TypeInfo(((str(kind), None),), _constraints(schema))


def _description(document: Mapping[str, Any], node: Any) -> str:
    schema = _resolve(document, node)
    if isinstance(node, Mapping) and isinstance(node.get("description"), str):
        return str(node["description"])
    if isinstance(schema, Mapping) and isinstance(schema.get("description"), str):
        # The referenced schema documents itself in full; a property row gets its first paragraph.
        first = re.split(r"\n\s*\n", str(schema["description"]).strip())[0]
        return first[:-1] + "." if first.endswith(":") else first
    return ""


def _parts(document: Mapping[str, Any], schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts = [schema]
    for part in schema.get("allOf") or []:
        resolved = _resolve(document, part)
        if isinstance(resolved, Mapping):
            parts.extend(_parts(document, resolved))
    return parts


def property_rows(document: Mapping[str, Any], node: Any, prefix: str = "", depth: int = 0) -> tuple[PropertyRow, ...]:
    """The properties of an object schema (``allOf`` merged); inline nested objects flattened as ``a.b``."""
    schema = _resolve(document, node)
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return ()
    rows: list[PropertyRow] = []
    for part in _parts(document, schema):
        required = set(part.get("required") or [])
        for name, prop in (part.get("properties") or {}).items():
            full = f"{prefix}{name}"
            rows.append(PropertyRow(full, describe(document, prop), name in required, _description(document, prop)))
            rows.extend(_nested_rows(document, prop, full, depth))
    return tuple(rows)


def _nested_rows(document: Mapping[str, Any], prop: Any, name: str, depth: int) -> tuple[PropertyRow, ...]:
    if _ref_name(prop) is not None or not isinstance(prop, Mapping):
        return ()
    if prop.get("type") == "array" and _ref_name(prop.get("items")) is None:
        return property_rows(document, prop.get("items", {}), f"{name}[].", depth + 1)
    if "properties" in prop or "allOf" in prop:
        return property_rows(document, prop, f"{name}.", depth + 1)
    return ()


def _additional(document: Mapping[str, Any], schema: Mapping[str, Any]) -> str:
    extra = schema.get("additionalProperties")
    if extra is False:
        return "No other properties are allowed."
    if isinstance(extra, Mapping) and schema.get("properties"):
        return f"Other properties: {describe(document, extra).text}."
    return ""


def schema_views(document: Mapping[str, Any]) -> list[SchemaView]:
    """Every component schema, in document order."""
    schemas = (document.get("components") or {}).get("schemas") or {}
    views: list[SchemaView] = []
    for name, raw in schemas.items():
        schema = _resolve(document, raw)
        if not isinstance(schema, Mapping):
            continue
        example = json.dumps(schema["example"], indent=2, ensure_ascii=False) if "example" in schema else None
        views.append(
            SchemaView(
                name=str(name),
                anchor=schema_anchor(str(name)),
                description=_description(document, raw),
                type=describe(document, raw if _ref_name(raw) else schema),
                properties=property_rows(document, schema),
                additional=_additional(document, schema),
                example=example,
            )
        )
    return views
