"""The one loader of the VoxScriber OpenAPI document.

Everybody (servers, conformance suite, spec tooling) goes through :func:`load_spec` or :func:`spec_path`;
nobody opens or re-parses the YAML on their own. Results are cached per path.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from voxcontract.errors import SpecError

__all__ = [
    "HTTP_METHODS",
    "Operation",
    "deref",
    "escape_pointer",
    "iter_operations",
    "load_spec",
    "load_spec_file",
    "openapi_core_spec",
    "resolve_pointer",
    "spec_path",
    "spec_text",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SPEC_FILENAME = "voxscriber.yaml"

Spec = dict[str, Any]


def spec_path() -> Path:
    """The path of the bundled contract: package data in a wheel, ``openapi/`` in a checkout."""
    packaged = resources.files("voxcontract") / "openapi" / SPEC_FILENAME
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "openapi" / SPEC_FILENAME
    if checkout.is_file():
        return checkout
    raise SpecError(f"the bundled contract {SPEC_FILENAME} is missing from the installation")


@functools.cache
def _read(path: Path) -> tuple[str, Spec]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SpecError(f"{path} is not valid YAML/JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SpecError(f"{path} does not hold an OpenAPI document (a mapping at the top)")
    return text, document


def load_spec_file(path: str | Path) -> Spec:
    """Parse any OpenAPI document (cached); a deep copy, so callers may mutate it."""
    return copy.deepcopy(_read(Path(path).resolve())[1])


def load_spec() -> Spec:
    """The bundled VoxScriber contract as a dict (a fresh deep copy of the cached parse)."""
    return load_spec_file(spec_path())


def spec_text() -> str:
    """The bundled contract's YAML text, byte for byte as shipped."""
    return _read(spec_path().resolve())[0]


@functools.cache
def openapi_core_spec(path: Path | None = None) -> Any:
    """The contract as an ``openapi_core.OpenAPI`` object, for request/response validation.

    openapi-core reads only the media types it knows; the contract's problem+json, SRT and WebVTT answers need
    their deserializers registered, or correct answers fail validation.
    """
    from openapi_core import Config, OpenAPI
    from openapi_core.deserializing.media_types.util import json_loads, plain_loads

    extra: dict[str, Callable[[bytes], Any]] = {
        "application/problem+json": json_loads,
        "application/x-subrip": plain_loads,
        "text/vtt": plain_loads,
    }
    config = Config(extra_media_type_deserializers=extra)
    return OpenAPI.from_dict(load_spec_file(path or spec_path()), config=config)


def resolve_pointer(document: Mapping[str, Any], pointer: str) -> Any:
    """Follow an RFC 6901 JSON pointer (``#/components/...`` or ``/components/...``)."""
    node: Any = document
    for raw in pointer.lstrip("#").split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SpecError(f"unresolvable reference {pointer!r}")
    return node


def deref(document: Mapping[str, Any], node: Any) -> Any:
    """Follow ``$ref`` chains until a node that is not a reference."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#") or ref in seen:
            raise SpecError(f"unsupported or circular reference {ref!r}")
        seen.add(ref)
        node = resolve_pointer(document, ref)
    return node


def escape_pointer(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a document: where it lives and what it says."""

    path: str
    method: str
    definition: Mapping[str, Any]
    path_item: Mapping[str, Any]

    @property
    def operation_id(self) -> str | None:
        value = self.definition.get("operationId")
        return value if isinstance(value, str) else None

    @property
    def pointer(self) -> str:
        return f"#/paths/{escape_pointer(self.path)}/{self.method}"

    def security(self, document: Mapping[str, Any]) -> list[dict[str, list[str]]]:
        """The effective security requirements (the operation's, else the document's)."""
        value = self.definition.get("security", document.get("security", []))
        return list(value or [])

    def parameters(self, document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Path-level and operation-level parameters, dereferenced, the operation's winning."""
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for source in (self.path_item.get("parameters", []), self.definition.get("parameters", [])):
            for raw in source or []:
                param = deref(document, raw)
                merged[(str(param.get("name")), str(param.get("in")))] = param
        return list(merged.values())


def iter_operations(document: Mapping[str, Any]) -> Iterator[Operation]:
    """Every operation under ``paths`` (callbacks not included), in document order."""
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for method in HTTP_METHODS:
            definition = item.get(method)
            if isinstance(definition, Mapping):
                yield Operation(path, method, definition, item)
