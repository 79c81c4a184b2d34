"""``Allow`` on every 405: all the methods the contract documents for the path (RFC 9110).

Connexion routes each operation separately, so Starlette's 405 lists only the methods of the first route that
matched the path (``GET, HEAD`` on ``/v1/files/{file_id}``, without ``DELETE``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxcontract.spec import iter_operations

_PARAMETER = re.compile(r"\\\{[^/]+?\\\}")


def allowed_methods(document: Mapping[str, Any]) -> list[tuple[re.Pattern[str], str]]:
    """Each path template of the document as a pattern, with its ``Allow`` value."""
    methods: dict[str, list[str]] = {}
    for operation in iter_operations(document):
        methods.setdefault(operation.path, []).append(operation.method.upper())
    table = []
    for path, verbs in methods.items():
        if "GET" in verbs and "HEAD" not in verbs:
            verbs.append("HEAD")  # served implicitly for every GET
        table.append((re.compile(_PARAMETER.sub("[^/]+", re.escape(path)) + "$"), ", ".join(verbs)))
    return table


class AllowHeaderMiddleware:
    def __init__(self, app: ASGIApp, *, document: Mapping[str, Any]) -> None:
        self.app = app
        self.table = allowed_methods(document)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = self._allow(scope.get("path", ""))
                if allow:
                    MutableHeaders(scope=message)["Allow"] = allow
            await send(message)

        await self.app(scope, receive, send_with_allow)

    def _allow(self, path: str) -> str | None:
        for pattern, allow in self.table:
            if pattern.match(path):
                return allow
        return None
