"""The contract's normative statements, each with a stable id: what the conformance suite has to verify.

Kinds, and how their ids read:

- ``response-header``: a header documented on a response — ``response-header GET /v1/status/{job_id} 200 Retry-After``;
- ``status``: a status an operation documents — ``status DELETE /v1/files/{file_id} 409``;
- ``constraint``: a schema keyword beyond ``type`` (:data:`CONSTRAINT_KEYWORDS`, ``x-voxscriber-*``), or a required
  parameter or body — ``constraint components/schemas/Job/properties/progress maximum``;
- ``sentence``: a description sentence that promises behaviour (:data:`TRIGGERS`) — ``sentence <where> <hash>``, the
  hash of its normalised text, so that editing another sentence (or moving this one within its description) keeps it;
- ``callback``: a webhook the contract says the server sends — ``callback POST /v1/transcribe transcriptionEvent``;
- ``limit``: an entry of ``x-voxscriber-limits`` — ``limit max_upload_bytes``;
- ``security``: the security scheme, the document's default requirement, an operation's own — ``security bearerAuth``.

Locations are JSON pointers into the contract (``#/paths/~1v1~1upload/post/responses/201``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from voxcontract.spec import HTTP_METHODS, deref, escape_pointer, iter_operations

__all__ = ["CONSTRAINT_KEYWORDS", "TRIGGERS", "Statement", "extract_statements", "promising_sentences"]

#: Schema keywords that constrain a value beyond its type (``default`` included: the server must apply it).
CONSTRAINT_KEYWORDS = (
    "enum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "required",
    "readOnly",
    "writeOnly",
    "nullable",
    "additionalProperties",
    "default",
)

#: What makes a sentence a promise of behaviour rather than a description: quantifiers (every, only, at most...),
#: obligations (must, cannot), behaviour verbs (echoes, carries, answered, retried, deleted, kept...), time (until,
#: once, while, after...) and a status code in backticks (`404`). A sentence without any of them ("The server's
#: version.") names or describes something; its shape is the schema's business.
TRIGGERS = re.compile(
    r"\b(?:every|each|always|never|only|must|cannot|can ?not|at most|at least|up to|within|until|while|once|same|"
    r"echo(?:es|ed)?|carr(?:y|ies)|answered|refused|rejected|retried|retry|replaced|deleted|delete|kept|gone|"
    r"no longer|stays?|limited|counted|cancelled|signed|fails?|newest|measured|remembered)\b|`[1-5][0-9Xx]{2}`",
    re.IGNORECASE,
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(\[\"*])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")


@dataclass(frozen=True, slots=True)
class Statement:
    """One normative statement of the contract."""

    id: str
    kind: str
    location: str
    text: str


def extract_statements(document: Mapping[str, Any]) -> list[Statement]:
    """Every normative statement of ``document``, in document order, ids unique."""
    found: dict[str, Statement] = {}
    for statement in _all(document):
        found.setdefault(statement.id, statement)
    return list(found.values())


def _all(document: Mapping[str, Any]) -> Iterator[Statement]:
    yield from _security(document)
    yield from _limits(document)
    yield from _sentences(document, "info", "#/info", document.get("info", {}).get("description"))
    for operation in iter_operations(document):
        label = f"{operation.method.upper()} {operation.path}"
        yield from _operation(document, label, operation.pointer, operation.definition)
        for name, callback in (operation.definition.get("callbacks") or {}).items():
            yield from _callback(
                document, label, f"{operation.pointer}/callbacks/{escape_pointer(name)}", name, callback
            )
    yield from _components(document)


def _security(document: Mapping[str, Any]) -> Iterator[Statement]:
    for name, scheme in (document.get("components", {}).get("securitySchemes") or {}).items():
        text = f"{scheme.get('type')} {scheme.get('scheme', '')}: {scheme.get('description', '')}".strip()
        yield Statement(f"security {name}", "security", f"#/components/securitySchemes/{name}", text)
    if document.get("security"):
        yield Statement("security default", "security", "#/security", f"every operation needs {document['security']}")
    for operation in iter_operations(document):
        if "security" in operation.definition:
            requirement = operation.definition["security"] or "no authentication"
            label = f"{operation.method.upper()} {operation.path}"
            yield Statement(f"security {label}", "security", f"{operation.pointer}/security", f"{label}: {requirement}")


def _limits(document: Mapping[str, Any]) -> Iterator[Statement]:
    for name, value in (document.get("x-voxscriber-limits") or {}).items():
        yield Statement(f"limit {name}", "limit", f"#/x-voxscriber-limits/{name}", f"{name}: {value}")


def _operation(
    document: Mapping[str, Any], label: str, pointer: str, operation: Mapping[str, Any]
) -> Iterator[Statement]:
    yield from _sentences(document, label, pointer, operation.get("description"))
    body = operation.get("requestBody")
    if isinstance(body, Mapping) and deref(document, body).get("required"):
        yield Statement(f"constraint {label} requestBody required", "constraint", f"{pointer}/requestBody", "required")
    for status, raw in (operation.get("responses") or {}).items():
        where = f"{pointer}/responses/{status}"
        response = deref(document, raw)
        description = str(response.get("description", ""))
        yield Statement(f"status {label} {status}", "status", where, description)
        for header, definition in (response.get("headers") or {}).items():
            text = str(deref(document, definition).get("description", ""))
            yield Statement(
                f"response-header {label} {status} {header}", "response-header", f"{where}/headers/{header}", text
            )
        if "$ref" not in raw:  # shared responses' sentences are the components' (below)
            yield from _sentences(document, f"{label} {status}", where, description)


def _callback(
    document: Mapping[str, Any], label: str, pointer: str, name: str, callback: Mapping[str, Any]
) -> Iterator[Statement]:
    for expression, item in callback.items():
        for method in HTTP_METHODS:
            operation = item.get(method) if isinstance(item, Mapping) else None
            if not isinstance(operation, Mapping):
                continue
            where = f"{pointer}/{escape_pointer(expression)}/{method}"
            summary = f"{method.upper()} {expression}: {operation.get('summary', '')}"
            yield Statement(f"callback {label} {name}", "callback", where, summary)
            yield from _operation(document, f"callback {name}", where, operation)


def _components(document: Mapping[str, Any]) -> Iterator[Statement]:
    components = document.get("components") or {}
    for section in ("parameters", "headers", "responses", "schemas", "securitySchemes"):
        for name, node in (components.get(section) or {}).items():
            path = f"components/{section}/{name}"
            if section in ("parameters", "headers"):
                yield from _sentences(document, path, f"#/{path}", node.get("description"))
                if node.get("required"):
                    yield Statement(f"constraint {path} required", "constraint", f"#/{path}", "required")
                yield from _schema(document, f"{path}/schema", node.get("schema"))
            elif section == "schemas":
                yield from _schema(document, path, node)
            else:
                yield from _sentences(document, path, f"#/{path}", node.get("description"))


def _schema(document: Mapping[str, Any], path: str, schema: Any) -> Iterator[Statement]:
    """The constraints and promising sentences of a schema and its inline subschemas (a $ref where it is defined)."""
    if not isinstance(schema, Mapping) or "$ref" in schema:
        return
    yield from _sentences(document, path, f"#/{path}", schema.get("description"))
    for keyword in [*CONSTRAINT_KEYWORDS, *(key for key in schema if str(key).startswith("x-voxscriber-"))]:
        if keyword not in schema or (keyword == "additionalProperties" and schema[keyword] is not False):
            continue
        value = schema[keyword]
        yield Statement(f"constraint {path} {keyword}", "constraint", f"#/{path}/{keyword}", f"{keyword}: {value}")
    for name, prop in (schema.get("properties") or {}).items():
        yield from _schema(document, f"{path}/properties/{name}", prop)
    for key in ("items", "additionalProperties"):
        yield from _schema(document, f"{path}/{key}", schema.get(key))


def _sentences(document: Mapping[str, Any], where: str, pointer: str, description: Any) -> Iterator[Statement]:
    for sentence in promising_sentences(description):
        yield Statement(f"sentence {where} {_digest(sentence)}", "sentence", pointer, sentence)


def promising_sentences(description: Any) -> list[str]:
    """The sentences of a (Markdown) description that promise behaviour (:data:`TRIGGERS`)."""
    if not isinstance(description, str):
        return []
    return [sentence for sentence in _split(description) if TRIGGERS.search(sentence)]


def _split(text: str) -> list[str]:
    """Sentences: paragraphs and list items first, then sentence ends inside them; headings dropped."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or _LIST_ITEM.match(line):
            blocks.append([])
        if line.strip() and not line.lstrip().startswith("#"):
            blocks[-1].append(_LIST_ITEM.sub("", line).strip())
    sentences = (part.strip() for block in blocks for part in _SENTENCE_END.split(" ".join(block)))
    return [sentence for sentence in sentences if sentence]


def _digest(sentence: str) -> str:
    normalised = " ".join(re.sub(r"[^a-z0-9]+", " ", sentence.lower()).split())
    return hashlib.sha256(normalised.encode()).hexdigest()[:8]
