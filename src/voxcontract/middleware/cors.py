"""CORS: which origins' browser pages may call the API, with the headers a client of the contract needs.

Starlette's middleware answers preflight requests and adds the CORS headers to every answer for an allowed origin.
What it is told is the contract's: the request headers a client sends (``Authorization``, ``Idempotency-Key``,
``Prefer`` for the mock, ``X-Request-Id``, ``Content-Type``) and the answer headers a client reads (the request id,
``Retry-After`` while polling, the rate-limit fields, ``Location``, a download's ``Content-Disposition``). No
credentials: the API key travels in ``Authorization``, never in cookies, so ``*`` is a valid answer for any origin.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

__all__ = ["ALLOWED_REQUEST_HEADERS", "EXPOSED_RESPONSE_HEADERS", "cors"]

ALLOWED_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Prefer", "X-Request-Id")
EXPOSED_RESPONSE_HEADERS = (
    "X-Request-Id",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "Location",
    "Content-Disposition",
    "Preference-Applied",
)
#: How long a browser may reuse a preflight's answer (seconds).
PREFLIGHT_MAX_AGE = 600


def cors(app: ASGIApp, origins: Sequence[str]) -> ASGIApp:
    """``app`` answering CORS for ``origins`` (``*``: any); ``app`` itself when there are none."""
    if not origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=list(ALLOWED_REQUEST_HEADERS),
        expose_headers=list(EXPOSED_RESPONSE_HEADERS),
        max_age=PREFLIGHT_MAX_AGE,
    )
