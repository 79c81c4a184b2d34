"""Per-request state shared by the core's middleware: the request id and headers every answer must carry.

The outermost :class:`~voxcontract.middleware.request_context.RequestContextMiddleware` creates it; inner layers
(auth, rate limiting) add headers to it, and they land on whatever answer is finally sent, whether a handler's,
an error handler's or Connexion's own.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["RequestContext", "bind_context", "current_context", "is_sane_request_id", "new_request_id"]

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(slots=True)
class RequestContext:
    request_id: str
    #: Headers added to the answer by the outermost middleware (they replace same-named ones).
    response_headers: dict[str, str] = field(default_factory=dict)


_current: ContextVar[RequestContext | None] = ContextVar("voxcontract_request", default=None)


def current_context() -> RequestContext:
    """The running request's context; a fresh detached one outside a request (e.g. in unit tests)."""
    context = _current.get()
    if context is None:
        context = RequestContext(request_id=new_request_id())
        _current.set(context)
    return context


def bind_context(context: RequestContext) -> None:
    _current.set(context)


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def is_sane_request_id(value: str) -> bool:
    """Client-sent ids are echoed only when short and made of safe characters (no header injection, no logs abuse)."""
    return _SANE_REQUEST_ID.fullmatch(value) is not None
