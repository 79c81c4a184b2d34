"""Every error a server answers becomes one RFC 9457 problem, rendered by the core and only here.

Connexion, Starlette and the body parsers raise their own exceptions; :func:`to_problem_error` maps each to the
core's :class:`~voxcontract.errors.ProblemError` tree, including the gaps Connexion leaves as 500s (JSON that is
not UTF-8, malformed multipart). A client that went away mid-request is one line at info level, not an error.

Whatever renders a problem, its human texts are bounded here: no run of more than :data:`EXCERPT_CHARS`
characters without a space (a value echoed back is cut to an excerpt, marked as cut) and at most
:data:`MAX_TEXT_CHARS` in all, so a 10 MB field never comes back in a 10 MB error.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import anyio
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from python_multipart.exceptions import ParseError
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Scope

from voxcontract import errors
from voxcontract.context import current_context

__all__ = [
    "CLIENT_DISCONNECTS",
    "EXCERPT_CHARS",
    "HANDLED_EXCEPTIONS",
    "MAX_TEXT_CHARS",
    "bounded_text",
    "exception_response",
    "excerpt",
    "problem_instance",
    "problem_response",
    "render_problem",
    "scope_problem_response",
    "to_problem_error",
]

logger = logging.getLogger(__name__)

_BY_STATUS: dict[int, type[errors.ProblemError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    404: errors.NotFound,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedContentType,
    500: errors.InternalError,
}

# RFC 3986 pchar and "/", besides the unreserved characters quote() always keeps.
_PATH_SAFE = "/:@!$&'()*+,;="

#: The most characters of a client's value a problem echoes, and the most characters of a problem's text.
EXCERPT_CHARS = 100
MAX_TEXT_CHARS = 400
# The longest request path a problem's ``instance`` repeats.
_MAX_INSTANCE_CHARS = 256
# A run of characters without a space or a quote mark (the quotes a message puts around a value are not part of it,
# so the mark counts the value's own characters; an excerpt's own "…" ends a run, so an excerpt is not cut twice).
_LONG_RUN = re.compile(rf"[^\s…'\"]{{{EXCERPT_CHARS + 1},}}")

_MALFORMED = (UnicodeDecodeError, json.JSONDecodeError, MultiPartException, ParseError)

#: How a client that went away mid-request shows itself: Starlette's request stream, anyio's streams.
CLIENT_DISCONNECTS: tuple[type[Exception], ...] = (
    ClientDisconnect,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)

#: What the servers register error handlers for (most specific first).
HANDLED_EXCEPTIONS: tuple[type[Exception], ...] = (
    errors.ProblemError,
    ProblemException,
    HTTPException,
    *_MALFORMED,
    *CLIENT_DISCONNECTS,
    Exception,
)


class _OtherClientError(errors.ProblemError):
    """A 4xx outside the contract's own list (405 from routing, say): keep its status."""

    code, title = "invalid_request", "Invalid request"

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None) -> None:
        super().__init__(detail, headers=headers)
        self.status = status  # type: ignore[misc]
        self.title = title  # type: ignore[misc]


def to_problem_error(exc: BaseException) -> errors.ProblemError:
    """The core's problem for any exception that reached the error handlers."""
    if isinstance(exc, errors.ProblemError):
        return exc
    if isinstance(exc, _MALFORMED):
        return errors.MalformedBody(f"The request body cannot be parsed: {_short(exc)}.")
    if isinstance(exc, CLIENT_DISCONNECTS):
        return errors.MalformedBody("The client disconnected before the request was complete.")
    if isinstance(exc, HTTPException) and exc.status_code == 400 and isinstance(exc.__context__, _MALFORMED):
        # Connexion's JSON validator turns a JSONDecodeError into a plain 400; the contract calls it malformed_body.
        return errors.MalformedBody(f"The request body cannot be parsed: {_short(exc.__context__)}.")
    if isinstance(exc, HTTPException):
        return _from_http_exception(exc)
    logger.error("unhandled exception", exc_info=exc)
    return errors.InternalError(
        "An unexpected error occurred; retry with backoff, and quote the request id if it persists."
    )


def _from_http_exception(exc: HTTPException) -> errors.ProblemError:
    detail = _detail_of(exc)
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        return errors.Unauthorized(detail or "The API key is not valid.")
    cls = _BY_STATUS.get(exc.status_code)
    if cls is not None and cls is not errors.Unauthorized:
        return cls(detail or cls.title, headers=headers)
    if 400 <= exc.status_code < 500:
        title = getattr(exc, "title", None) or "Client error"
        return _OtherClientError(exc.status_code, str(title), detail or str(title), headers)
    logger.error("server error %s: %s", exc.status_code, detail)
    return errors.InternalError(detail or "An unexpected error occurred.")


def _detail_of(exc: HTTPException) -> str:
    return str(exc.detail) if exc.detail else ""


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def excerpt(value: str, limit: int = EXCERPT_CHARS) -> str:
    """``value`` itself when short, else its first ``limit`` characters marked as cut."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… [cut: {len(value)} characters]"


def bounded_text(text: str) -> str:
    """A problem's human text with every long run cut to an excerpt, and at most :data:`MAX_TEXT_CHARS` overall."""
    return excerpt(_LONG_RUN.sub(lambda match: excerpt(match.group()), text), MAX_TEXT_CHARS)


def problem_instance(path: str) -> str:
    """The request path as a problem's ``instance``: re-encoded, since the contract makes it a URI reference.

    The decoded path may hold what a URI may not (``%00``, ``%0A``, ``%FF`` arrive as raw characters); a very long
    one is cut (an instance names the request, it does not replay it).
    """
    return urllib.parse.quote(path[:_MAX_INSTANCE_CHARS], safe=_PATH_SAFE)


def render_problem(error: errors.ProblemError, instance: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The problem body and headers for an error, stamped with the running request's id; texts bounded."""
    body = error.to_problem(instance=instance, request_id=current_context().request_id)
    body["detail"] = bounded_text(str(body.get("detail", "")))
    if "errors" in body:
        body["errors"] = [_bounded_item(item) for item in body["errors"]]
    return body, dict(error.headers)


def _bounded_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: bounded_text(value) if isinstance(value, str) else value for key, value in item.items()}


def scope_problem_response(error: errors.ProblemError, scope: Scope) -> Response:
    """The problem+json answer for middleware that answers by itself, outside Connexion's error handlers."""
    body, headers = render_problem(error, problem_instance(str(scope.get("path", ""))))
    return Response(
        json.dumps(body).encode("utf-8"),
        status_code=error.status,
        headers=headers,
        media_type=errors.PROBLEM_CONTENT_TYPE,
    )


def problem_response(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion error handler: any exception to an ``application/problem+json`` answer."""
    path = request.scope.get("path") or request.url.path
    status, body, headers = _exception_problem(exc, request.method, path)
    return ConnexionResponse(status_code=status, mimetype=errors.PROBLEM_CONTENT_TYPE, body=body, headers=headers)


def exception_response(exc: Exception, scope: Scope) -> Response:
    """The answer :func:`problem_response` gives for ``exc``, for a layer that calls handlers itself (the fast path)."""
    status, body, headers = _exception_problem(exc, str(scope.get("method", "")), str(scope.get("path", "")))
    return Response(body, status_code=status, headers=headers, media_type=errors.PROBLEM_CONTENT_TYPE)


def _exception_problem(exc: Exception, method: str, path: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers of the problem for ``exc`` (logged as a disconnect, or an error when 5xx)."""
    error = to_problem_error(exc)
    if isinstance(exc, CLIENT_DISCONNECTS):
        logger.info("%s %s: the client disconnected before the request was complete", method, excerpt(path))
    elif error.status >= 500:
        logger.error("answering %s: %s", error.status, error.detail)
    body, headers = render_problem(error, problem_instance(path))
    return error.status, json.dumps(body).encode("utf-8"), headers
