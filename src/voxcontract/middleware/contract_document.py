"""The contract served as written: ``/v1/openapi.json`` and ``/v1/openapi.yaml`` keep the document's ``$ref``s.

Connexion's SwaggerUIMiddleware serves its resolved copy of the document (every ``$ref`` inlined: 462 KB of JSON
from a 68 KB YAML, so client generators make a model per inlined schema) with ``servers`` replaced by the request's
root path. This middleware, placed before it, answers those two paths itself with the document the app serves;
Swagger UI (still Connexion's, at ``/v1/ui``) fetches the JSON and resolves the references in the browser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from voxcontract.spec import load_spec, spec_text

__all__ = ["JSON_MEDIA_TYPE", "YAML_MEDIA_TYPE", "ContractDocumentMiddleware"]

JSON_MEDIA_TYPE = "application/json"
#: RFC 9512 registered ``application/yaml`` (always UTF-8, so no charset parameter).
YAML_MEDIA_TYPE = "application/yaml"


def _as_json(document: Mapping[str, Any]) -> bytes:
    # default=str: a YAML document may hold unquoted dates, which JSON can only carry as strings.
    return json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")


def _as_yaml(document: Mapping[str, Any]) -> bytes:
    """The bundled contract byte for byte (comments and order included); any other document dumped in its order."""
    if document == load_spec():
        return spec_text().encode("utf-8")
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True).encode("utf-8")


class ContractDocumentMiddleware:
    """Answers ``GET``/``HEAD`` on the document's two paths; everything else goes to ``app`` untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        document: Mapping[str, Any],
        json_path: str = "/v1/openapi.json",
        yaml_path: str = "/v1/openapi.yaml",
    ) -> None:
        self.app = app
        # Rendered once: the document never changes while the app runs.
        self._answers = {
            json_path: (_as_json(document), JSON_MEDIA_TYPE),
            yaml_path: (_as_yaml(document), YAML_MEDIA_TYPE),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self._answers.get(scope.get("path", "")) if scope["type"] == "http" else None
        if answer is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        content, media_type = answer
        # A fresh Response each time: outer middleware add headers to the list a Response sends.
        await Response(content, media_type=media_type)(scope, receive, send)
