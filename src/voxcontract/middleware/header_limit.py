"""Refuses requests with too many or too large header fields (431 headers_too_large), before anything reads them.

uvicorn bounds neither with its default HTTP parser (httptools): a 1 MB header and 10,000 header fields reached the
app, and every layer after this one (routing, auth, validation, handlers) would walk them. h11 bounds only the whole
head (16 KiB, answered with a plain-text 400). The limits are the contract's ``x-voxscriber-limits.max_header_bytes``
(names and values, all fields together) and ``max_header_count``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from voxcontract.errors import HeadersTooLarge
from voxcontract.problems import scope_problem_response

__all__ = ["HeaderLimitMiddleware"]


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_count: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_count = max_count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope.get("headers", []))
            if refusal is not None:
                await scope_problem_response(refusal, scope)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, headers: list[tuple[bytes, bytes]]) -> HeadersTooLarge | None:
        if len(headers) > self.max_count:
            return HeadersTooLarge(f"Send at most {self.max_count} header fields; this request has {len(headers)}.")
        size = sum(len(name) + len(value) for name, value in headers)
        if size > self.max_bytes:
            return HeadersTooLarge(f"Header fields may hold at most {self.max_bytes} bytes in all; these hold {size}.")
        return None
