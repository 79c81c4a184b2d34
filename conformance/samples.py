"""A valid-looking request for any operation of the contract, built from its examples.

Path parameters come from their examples, required query and header parameters from their examples (or
defaults, or first enum values), a JSON body from the first example of the operation, and a multipart body
carries the suite's audio as its file part. The ``Authorization`` header is whatever the caller says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from voxcontract.spec import Operation, deref

__all__ = ["SampleRequest", "sample_request"]

_MISSING = object()


@dataclass(frozen=True, slots=True)
class SampleRequest:
    """An operation's example request, without credentials."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    multipart: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def build(self, client: httpx.Client, *, authorization: str | None, media: tuple[str, bytes, str]) -> httpx.Request:
        """The request, with exactly ``authorization`` (None: no Authorization header at all)."""
        request = client.build_request(
            self.method,
            self.path,
            params=self.params or None,
            headers=self.headers or None,
            json=self.json,
            files={"file": media} if self.multipart else None,
        )
        request.headers.pop("Authorization", None)
        if authorization is not None:
            request.headers["Authorization"] = authorization
        return request


def _example(document: Mapping[str, Any], node: Mapping[str, Any]) -> Any:
    if "example" in node:
        return node["example"]
    for raw in (node.get("examples") or {}).values():
        example = deref(document, raw)
        if isinstance(example, Mapping) and "value" in example:
            return example["value"]
    schema = deref(document, node.get("schema", {}))
    if isinstance(schema, Mapping):
        for key in ("example", "default"):
            if key in schema:
                return schema[key]
        if schema.get("enum"):
            return schema["enum"][0]
    return _MISSING


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def sample_request(document: Mapping[str, Any], operation: Operation) -> SampleRequest:
    """The example request of ``operation``."""
    path = operation.path
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    for param in operation.parameters(document):
        name, where = str(param.get("name")), param.get("in")
        value = _example(document, param)
        if where == "path":
            path = path.replace("{" + name + "}", quote(_text(value if value is not _MISSING else "x"), safe=""))
        elif value is _MISSING or not param.get("required"):
            continue
        elif where == "query":
            params[name] = _text(value)
        elif where == "header" and name.lower() not in ("authorization", "content-type", "accept"):
            headers[name] = _text(value)
    body = deref(document, operation.definition.get("requestBody", {}))
    content = body.get("content") or {}
    media_type = next(iter(content), None)
    json_body: Any = None
    if media_type is not None and "json" in media_type:
        value = _example(document, deref(document, content[media_type]))
        json_body = {} if value is _MISSING else value
    multipart = media_type is not None and media_type.startswith("multipart/")
    return SampleRequest(operation.method.upper(), path, params, headers, json_body, multipart)
