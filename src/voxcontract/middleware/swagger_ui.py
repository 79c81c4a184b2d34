"""Connexion's Swagger UI, entered only by the paths it serves: API requests skip its router.

Connexion's SwaggerUIMiddleware sends every request through a Starlette router (a mount per API, then its
routes) before handing the ones it does not serve to the next app: about 4 % of a status poll. Only the UI's
paths and the document's two paths can match it, so every other request goes straight on.
"""

from __future__ import annotations

from collections.abc import Iterable

from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from starlette._utils import get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RoutedSwaggerUIMiddleware"]


class RoutedSwaggerUIMiddleware(SwaggerUIMiddleware):  # type: ignore[misc]
    """``ui_path`` and everything under it, and each of ``document_paths``, go to Connexion's Swagger UI."""

    def __init__(self, app: ASGIApp, *, ui_path: str, document_paths: Iterable[str]) -> None:
        super().__init__(app)
        self.ui_path = ui_path.rstrip("/")
        self.document_paths = frozenset(document_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._serves(get_route_path(scope)):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _serves(self, path: str) -> bool:
        return path in self.document_paths or path == self.ui_path or path.startswith(self.ui_path + "/")
