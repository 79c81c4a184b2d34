"""Rate limiting per API key, after authentication: headers on every authenticated answer, 429 when spent."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from voxcontract.auth import Principal
from voxcontract.context import current_context
from voxcontract.errors import TooManyRequests
from voxcontract.middleware.auth import PRINCIPAL_SCOPE_KEY
from voxcontract.ratelimit import RateLimiter

__all__ = ["RateLimitMiddleware", "count_request"]


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get(PRINCIPAL_SCOPE_KEY)
        if isinstance(principal, Principal):
            await count_request(self.limiter, principal)
        await self.app(scope, receive, send)


async def count_request(limiter: RateLimiter, principal: Principal) -> None:
    """Counts a request of ``principal``: its quota headers on the answer, :class:`TooManyRequests` once spent."""
    decision = await limiter.hit(principal.key_id)
    headers = decision.headers()
    retry_after = headers.pop("Retry-After", None)
    # Deferred: they must reach the answer whatever renders it (handler, error handler, 404).
    current_context().response_headers.update(headers)
    if not decision.allowed:
        raise TooManyRequests(
            f"The rate limit of {decision.limit} requests per {decision.window} seconds is exhausted; "
            f"retry in {decision.reset_after} seconds.",
            retry_after=int(retry_after or decision.reset_after),
        )
