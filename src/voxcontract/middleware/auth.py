"""Bearer authentication for the operations the contract secures.

Sits after Connexion's routing (it needs the operation) and replaces Connexion's own security middleware, so that
every 401 is the core's problem with ``WWW-Authenticate`` and the principal reaches the handlers as ``token_info``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from voxcontract.auth import KeyResolver, parse_bearer
from voxcontract.errors import Unauthorized
from voxcontract.spec import iter_operations

PRINCIPAL_SCOPE_KEY = "voxcontract.principal"


def secured_operations(document: Mapping[str, Any]) -> frozenset[str]:
    """The operationIds whose effective security is not empty."""
    return frozenset(op.operation_id for op in iter_operations(document) if op.operation_id and op.security(document))


def routed_operation_id(scope: Scope) -> str | None:
    routing = scope.get("extensions", {}).get("connexion_routing", {})
    operation_id = routing.get("operation_id")
    return operation_id if isinstance(operation_id, str) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, document: Mapping[str, Any], resolver: KeyResolver) -> None:
        self.app = app
        self.secured = secured_operations(document)
        self.resolver = resolver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and routed_operation_id(scope) in self.secured:
            token = parse_bearer(_header(scope, b"authorization"))
            principal = await self.resolver.resolve(token)
            if principal is None:
                raise Unauthorized("The API key is not valid.")
            scope[PRINCIPAL_SCOPE_KEY] = principal
            connexion_context = scope.setdefault("extensions", {}).setdefault("connexion_context", {})
            connexion_context["user"] = principal.key_id
            connexion_context["token_info"] = principal
        await self.app(scope, receive, send)
