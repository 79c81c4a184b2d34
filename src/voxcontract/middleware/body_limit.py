"""Refuses request bodies over the size limit with 413, by Content-Length up front and by counting while reading.

A chunked body (no Content-Length) is read here, up to the limit, and passed on with its real Content-Length:
Connexion decides whether a body is present from that header alone, and would answer a chunked upload with
"RequestBody is required". Its validators hold whole bodies in memory anyway, so this costs no extra bound.

A client that disconnects before its body is complete raises Starlette's ``ClientDisconnect`` here (logged as one
line by the error handler): Connexion's validators would take the disconnect for the end of the body and judge
what had arrived as if it were the request.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxcontract.errors import BadRequest, PayloadTooLarge


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                raise self._too_large()
            await self.app(scope, self._counting(receive), send)
        elif _is_chunked(scope):
            body = await self._read_all(receive)
            scope["headers"] = [*scope["headers"], (b"content-length", str(len(body)).encode())]
            await self.app(scope, _replay(body, receive), send)
        else:
            await self.app(scope, receive, send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0
        complete = False

        async def counting_receive() -> Message:
            nonlocal received, complete
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
                complete = not message.get("more_body", False)
            elif message["type"] == "http.disconnect" and not complete:
                raise ClientDisconnect()
            return message

        return counting_receive

    async def _read_all(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large()
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"Request bodies are limited to {self.max_bytes} bytes.")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _is_chunked(scope: Scope) -> bool:
    value = _header(scope, b"transfer-encoding")
    return value is not None and b"chunked" in value.lower()


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        raise BadRequest("The Content-Length header is not a number.") from None
    if length < 0:
        raise BadRequest("The Content-Length header is negative.")
    return length
