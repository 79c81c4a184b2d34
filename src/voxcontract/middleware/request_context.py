"""Outermost middleware: a request id for every request, echoed or generated, on every answer."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxcontract.context import RequestContext, bind_context, is_sane_request_id, new_request_id

REQUEST_ID_HEADER = "X-Request-Id"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(request_id=_request_id_from(scope))
        bind_context(context)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in context.response_headers.items():
                    headers[name] = value
                headers[REQUEST_ID_HEADER] = context.request_id
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if is_sane_request_id(candidate):
                return candidate
    return new_request_id()
