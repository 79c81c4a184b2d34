"""Bearer authentication for the operations the contract secures, and a limit on failed attempts per address.

Sits after Connexion's routing (it needs the operation) and replaces Connexion's own security middleware, so that
every 401 is the core's problem with ``WWW-Authenticate`` and the principal reaches the handlers as ``token_info``.

Failed authentications (a well-formed bearer token that no key matches) are counted per client address. Once an
address is past its limit, every secured request from it is answered ``429`` until the window ends, *without the
key being checked*: were a valid key still served, each refused guess would be told apart from a right one (429
against 200), and guessing would go on at full speed. Missing and malformed headers are not counted: they guess
nothing, and a client that forgot its key should see the 401 that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from voxcontract.auth import KeyResolver, Principal, parse_bearer
from voxcontract.errors import TooManyRequests, Unauthorized
from voxcontract.ratelimit import RateLimiter
from voxcontract.spec import iter_operations

PRINCIPAL_SCOPE_KEY = "voxcontract.principal"
#: The policy name failed authentications are counted under (in RateLimit-Policy, and in the limiter's keys).
AUTH_FAILURE_POLICY = "auth-failures"


def secured_operations(document: Mapping[str, Any]) -> frozenset[str]:
    """The operationIds whose effective security is not empty."""
    return frozenset(op.operation_id for op in iter_operations(document) if op.operation_id and op.security(document))


def routed_operation_id(scope: Scope) -> str | None:
    routing = scope.get("extensions", {}).get("connexion_routing", {})
    operation_id = routing.get("operation_id")
    return operation_id if isinstance(operation_id, str) else None


def client_address(scope: Scope) -> str:
    """The peer's address as the server saw it (after uvicorn's trusted proxy headers); "unknown" without one."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def header_value(scope: Scope, name: bytes) -> str | None:
    """The first value of the header ``name`` (lower case), or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class AuthMiddleware:
    """``failures``: the limiter of failed authentications per client address (None: not limited)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        document: Mapping[str, Any],
        resolver: KeyResolver,
        failures: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.secured = secured_operations(document)
        self.resolver = resolver
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and routed_operation_id(scope) in self.secured:
            principal = await self._authenticate(scope)
            scope[PRINCIPAL_SCOPE_KEY] = principal
            connexion_context = scope.setdefault("extensions", {}).setdefault("connexion_context", {})
            connexion_context["user"] = principal.key_id
            connexion_context["token_info"] = principal
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Principal:
        address = client_address(scope)
        await self._refuse_when_over_limit(address)
        token = parse_bearer(header_value(scope, b"authorization"))
        principal = await self.resolver.resolve(token)
        if principal is None:
            if self.failures is not None:
                await self.failures.hit(address)
            raise Unauthorized("The API key is not valid.")
        return principal

    async def _refuse_when_over_limit(self, address: str) -> None:
        if self.failures is None or await self.failures.allows(address):
            return
        decision = await self.failures.peek(address)
        headers = decision.headers()
        headers.pop("Retry-After", None)
        raise TooManyRequests(
            f"Too many failed authentications from this address ({decision.limit} per {decision.window} seconds); "
            f"retry in {decision.reset_after} seconds.",
            retry_after=decision.reset_after,
            headers=headers,
        )
