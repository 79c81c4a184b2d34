"""Every error a server answers becomes one RFC 9457 problem, rendered by the core and only here.

Connexion, Starlette and the body parsers raise their own exceptions; :func:`to_problem_error` maps each to the
core's :class:`~voxcontract.errors.ProblemError` tree, including the gaps Connexion leaves as 500s (JSON that is
not UTF-8, malformed multipart).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from python_multipart.exceptions import MultipartParseError
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from voxcontract import errors
from voxcontract.context import current_context

__all__ = ["HANDLED_EXCEPTIONS", "problem_instance", "problem_response", "render_problem", "to_problem_error"]

logger = logging.getLogger(__name__)

_BY_STATUS: dict[int, type[errors.ProblemError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    415: errors.UnsupportedContentType,
    422: errors.UnprocessableEntity,
    500: errors.InternalError,
}

# RFC 3986 pchar and "/", besides the unreserved characters quote() always keeps.
_PATH_SAFE = "/:@!$&'()*+,;="

_MALFORMED = (UnicodeDecodeError, json.JSONDecodeError, MultiPartException, MultipartParseError)

#: What the servers register error handlers for (most specific first).
HANDLED_EXCEPTIONS: tuple[type[Exception], ...] = (
    errors.ProblemError,
    ProblemException,
    HTTPException,
    *_MALFORMED,
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


def problem_instance(path: str) -> str:
    """The request path as a problem's ``instance``: re-encoded, since the contract makes it a URI reference.

    The decoded path may hold what a URI may not (``%00``, ``%0A``, ``%FF`` arrive as raw characters).
    """
    return urllib.parse.quote(path, safe=_PATH_SAFE)


def render_problem(error: errors.ProblemError, instance: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The problem body and headers for an error, stamped with the running request's id."""
    body = error.to_problem(instance=instance, request_id=current_context().request_id)
    return body, dict(error.headers)


def problem_response(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion error handler: any exception to an ``application/problem+json`` answer."""
    error = to_problem_error(exc)
    if error.status >= 500:
        logger.error("answering %s: %s", error.status, error.detail)
    body, headers = render_problem(error, problem_instance(request.scope.get("path") or request.url.path))
    return ConnexionResponse(
        status_code=error.status,
        mimetype=errors.PROBLEM_CONTENT_TYPE,
        body=json.dumps(body).encode("utf-8"),
        headers=headers,
    )
