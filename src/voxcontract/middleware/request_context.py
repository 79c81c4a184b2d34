"""Outermost middleware: a request id for every request, echoed or generated, on every answer."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxcontract.context import RequestContext, bind_context, is_sane_request_id, new_request_id

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode("ascii")


class RequestContextMiddleware:
    """``id_factory`` makes the ids of requests that sent no sane id (the mock injects a seeded one)."""

    def __init__(self, app: ASGIApp, *, id_factory: Callable[[], str] = new_request_id) -> None:
        self.app = app
        self.id_factory = id_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(request_id=_client_request_id(scope) or self.id_factory())
        bind_context(context)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_headers(message.get("headers", []), context)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            return candidate if is_sane_request_id(candidate) else None
    return None


def _with_headers(headers: Iterable[tuple[bytes, bytes]], context: RequestContext) -> list[tuple[bytes, bytes]]:
    """The answer's headers with the context's (and the request id) in place of any of the same name."""
    added = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in context.response_headers.items()
    ]
    added.append((_REQUEST_ID_NAME, context.request_id.encode("latin-1")))
    replaced = {name for name, _ in added}
    return [(name, value) for name, value in headers if name.lower() not in replaced] + added
