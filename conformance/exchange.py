"""One HTTP request and its answer, as the suite records it: for reports, rules and curl reproductions."""

from __future__ import annotations

import email.parser
import email.policy
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["API_KEY_VARIABLE", "Exchange"]

#: The variable a reproduction reads the API key from.
API_KEY_VARIABLE = "VOXSCRIBER_API_KEY"

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
