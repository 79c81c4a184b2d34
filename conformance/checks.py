"""Checks: plain functions registered by group and name; a check passes by returning and fails by raising.

::

    @check("lifecycle", "upload", description="An uploaded file is answered 201 with a valid File.")
    def upload(ctx: ConformanceContext) -> None:
        response = ctx.client.post(...)
        if response.status_code != 201:
            raise CheckFailed("upload answered 400", exchange=Exchange.from_httpx(response))

Exceptions a check may raise: :class:`CheckFailed` (a violation of the contract, with the exchange that shows
it), :class:`CheckSkipped` (the check cannot run here, with the reason), :class:`CheckUnverified` (it ran but
could not decide, with why and what would let it decide); anything else is an error of the check.
"""

from __future__ import annotations

import email.parser
import email.policy
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from conformance.context import ConformanceContext

__all__ = [
    "GROUPS",
    "Check",
    "CheckFailed",
    "CheckFn",
    "CheckSkipped",
    "CheckUnverified",
    "Exchange",
    "check",
    "registered_checks",
]

#: Every group of the suite, in the order they run (rate-limit last: its burst spends the quota).
GROUPS = ("contract", "auth", "lifecycle", "data", "webhooks", "http", "errors", "rate-limit")

#: The variable a reproduction reads the API key from.
API_KEY_VARIABLE = "VOXSCRIBER_API_KEY"

CheckFn = Callable[["ConformanceContext"], None]

_NOISE_HEADERS = {"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"}
_BODY_PREVIEW = 64 * 1024


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request and its answer (``status`` None: no answer), for reports and curl reproductions."""

    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: bytes | None
    status: int | None
    response_headers: Mapping[str, str]
    response_body: bytes

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> Exchange:
        """The exchange of an answered httpx request (bodies kept up to 64 KiB)."""
        request = response.request
        try:
            body: bytes | None = request.content or None
        except httpx.RequestNotRead:
            body = None
        try:
            answer = response.content
        except httpx.ResponseNotRead:
            answer = b""
        return cls(
            method=request.method,
            url=str(request.url),
            request_headers=_as_sent(request.headers),
            request_body=body[:_BODY_PREVIEW] if body else None,
            status=response.status_code,
            response_headers=_as_sent(response.headers),
            response_body=answer[:_BODY_PREVIEW],
        )

    @property
    def path(self) -> str:
        """The path and query of the request."""
        url = httpx.URL(self.url)
        query = url.query.decode("ascii", "replace")
        return url.path + (f"?{query}" if query else "")

    def summary(self) -> str:
        """``GET /v1/jobs?limit=1 -> 200``."""
        return f"{self.method} {self.path} -> {self.status if self.status is not None else 'no answer'}"

    def header(self, name: str) -> str | None:
        """A response header, case-insensitively."""
        lowered = name.lower()
        return next((value for key, value in self.response_headers.items() if key.lower() == lowered), None)

    def curl(self, key_variables: Mapping[str, str] | None = None) -> str:
        """A copy-pasteable curl command.

        A ``Bearer`` token is shown as ``$VOXSCRIBER_API_KEY``; with ``key_variables`` (token → variable name)
        only those tokens are replaced and any other token (a deliberately wrong one) is shown as sent.
        """
        parts = ["curl", "-sS", "-i"] + (["-X", self.method] if self.method != "GET" else [])
        multipart = _multipart_parts(self.request_headers, self.request_body)
        for name, value in self.request_headers.items():
            lowered = name.lower()
            if lowered in _NOISE_HEADERS or (multipart is not None and lowered == "content-type"):
                continue
            if lowered == "authorization" and (variable := _key_variable(value, key_variables)):
                # Double quotes, so that the shell expands the variable.
                parts += ["-H", f'"{name}: {value.partition(" ")[0]} ${variable}"']
                continue
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        parts += _body_arguments(self.request_body, multipart)
        parts.append(shlex.quote(self.url))
        return " ".join(parts)

    def to_dict(self, key_variables: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A JSON-ready view (API keys replaced by their variables, bodies as text when they are text)."""
        headers = {
            name: _redacted_authorization(value, key_variables) if name.lower() == "authorization" else value
            for name, value in self.request_headers.items()
        }
        return {
            "method": self.method,
            "url": self.url,
            "request_headers": headers,
            "request_body": _text_or_size(self.request_body),
            "status": self.status,
            "response_headers": dict(self.response_headers),
            "response_body": _text_or_size(self.response_body),
        }


def _as_sent(headers: httpx.Headers) -> dict[str, str]:
    """The headers with their names as sent (httpx's mapping view lowercases them)."""
    encoding = headers.encoding
    return {name.decode(encoding): value.decode(encoding) for name, value in headers.raw}


def _key_variable(authorization: str, key_variables: Mapping[str, str] | None) -> str | None:
    """The variable that stands for the token of a well-formed ``Bearer <token>`` header, if any."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return API_KEY_VARIABLE if key_variables is None else key_variables.get(token)


def _redacted_authorization(value: str, key_variables: Mapping[str, str] | None) -> str:
    variable = _key_variable(value, key_variables)
    return f"{value.partition(' ')[0]} ${variable}" if variable else value


def _multipart_parts(headers: Mapping[str, str], body: bytes | None) -> list[tuple[str, str | None, str]] | None:
    """(name, filename, value or content type) of each part of a multipart/form-data body; None otherwise."""
    content_type = next((value for key, value in headers.items() if key.lower() == "content-type"), "")
    if not body or not content_type.lower().startswith("multipart/form-data"):
        return None
    raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    if not message.is_multipart():
        return None
    parts: list[tuple[str, str | None, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        if not isinstance(name, str):
            continue
        if filename:
            parts.append((name, filename, part.get_content_type()))
        else:
            payload = part.get_payload(decode=True)
            parts.append((name, None, payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""))
    return parts


def _body_arguments(body: bytes | None, multipart: list[tuple[str, str | None, str]] | None) -> list[str]:
    if not body:
        return []
    if multipart is not None:
        arguments: list[str] = []
        for name, filename, value in multipart:
            field = f"{name}=@{filename};type={value}" if filename else f"{name}={value}"
            arguments += ["-F", shlex.quote(field)]
        return arguments
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Binary: the bytes cannot be pasted; the command names the file they must be saved as.
        return ["--data-binary", "@body.bin"]
    return ["--data-raw", shlex.quote(text)]


def _text_or_size(body: bytes | None) -> str | None:
    if body is None:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(body)} bytes of binary data>"


class CheckFailed(AssertionError):
    """The deployment violates the contract: what was wrong, and the exchange that shows it."""

    def __init__(self, message: str, *, exchange: Exchange | None = None, reproduction: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange
        self.reproduction = reproduction

    def __str__(self) -> str:
        return self.message


class CheckSkipped(Exception):
    """The check cannot run against this deployment or with these options (the reason says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CheckUnverified(Exception):
    """The check ran but could not decide: too few observations, or the deployment refused the suite's own set-up.

    ``remedy`` names the flag or server setting that would let it decide; the verdict is neither passed nor failed.
    """

    def __init__(self, reason: str, *, remedy: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.remedy = remedy

    def __str__(self) -> str:
        return f"{self.reason} ({self.remedy})" if self.remedy else self.reason


@dataclass(frozen=True, slots=True)
class Check:
    """A registered check: ``group/name``, what it verifies, and the function."""

    group: str
    name: str
    description: str
    function: CheckFn

    @property
    def id(self) -> str:
        return f"{self.group}/{self.name}"


_REGISTRY: dict[str, Check] = {}


def check(group: str, name: str, *, description: str) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn(ctx) -> None`` as the check ``group/name`` (a re-registration replaces the earlier one)."""
    if group not in GROUPS:
        raise ValueError(f"unknown check group {group!r}; use one of {', '.join(GROUPS)}")

    def register(function: CheckFn) -> CheckFn:
        registered = Check(group, name, description, function)
        _REGISTRY[registered.id] = registered
        return function

    return register


def registered_checks(group: str | None = None) -> list[Check]:
    """The registered checks (of one group), in registration order."""
    return [item for item in _REGISTRY.values() if group is None or item.group == group]
