"""The body limit as a unit: the counting path, which a server enforcing Content-Length never reaches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voxcontract.errors import BadRequest, PayloadTooLarge
from voxcontract.middleware.body_limit import BodyLimitMiddleware


def scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/v1/upload", "headers": headers}


def receiver(*chunks: bytes) -> Any:
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


async def read_everything(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["read"] = b""
    while True:
        message = await receive()
        scope["read"] += message.get("body", b"")
        if not message.get("more_body"):
            return


async def no_send(message: Any) -> None:
    raise AssertionError("nothing is sent by the middleware itself")


def test_body_longer_than_declared_is_cut_at_the_limit() -> None:
    middleware = BodyLimitMiddleware(read_everything, max_bytes=10)
    with pytest.raises(PayloadTooLarge):
        asyncio.run(middleware(scope([(b"content-length", b"5")]), receiver(b"12345", b"678901"), no_send))


def test_chunked_body_gets_its_content_length() -> None:
    middleware = BodyLimitMiddleware(read_everything, max_bytes=10)
    request = scope([(b"transfer-encoding", b"chunked")])
    asyncio.run(middleware(request, receiver(b"123", b"4567"), no_send))
    assert request["read"] == b"1234567"
    assert (b"content-length", b"7") in request["headers"]


def test_chunked_body_over_the_limit() -> None:
    middleware = BodyLimitMiddleware(read_everything, max_bytes=4)
    with pytest.raises(PayloadTooLarge):
        asyncio.run(middleware(scope([(b"transfer-encoding", b"chunked")]), receiver(b"123", b"45"), no_send))


@pytest.mark.parametrize("value", [b"ten", b"-1"])
def test_bad_content_length(value: bytes) -> None:
    with pytest.raises(BadRequest):
        asyncio.run(
            BodyLimitMiddleware(read_everything, max_bytes=4)(
                scope([(b"content-length", value)]), receiver(b""), no_send
            )
        )
