"""The request journal: every request to the public API, in arrival order, for ``GET /__mock/journal``."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.clock import format_timestamp

__all__ = ["Journal", "JournalEntry", "JournalMiddleware"]

#: The journal keeps the most recent entries only, so a long-running mock does not grow without bound.
MAX_ENTRIES = 10_000


@dataclass(slots=True)
class JournalEntry:
    method: str
    path: str
    at: float
    status: int | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "request_id": self.request_id,
            "at": format_timestamp(self.at),
        }


class Journal:
    """The last :data:`MAX_ENTRIES` requests."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)

    def record(self, method: str, path: str, at: float) -> JournalEntry:
        entry = JournalEntry(method=method, path=path, at=at)
        self._entries.append(entry)
        return entry

    def entries(self) -> list[JournalEntry]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()


class JournalMiddleware:
    """Records each HTTP request on arrival and fills in its status and request id when the answer starts."""

    def __init__(self, app: ASGIApp, *, journal: Journal, now: Callable[[], float]) -> None:
        self.app = app
        self.journal = journal
        self.now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = self.journal.record(scope["method"], scope["path"], self.now())

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = int(message["status"])
                entry.request_id = _header(message, b"x-request-id")
            await send(message)

        await self.app(scope, receive, recording_send)


def _header(message: Message, name: bytes) -> str | None:
    for key, value in message.get("headers", []):
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None
