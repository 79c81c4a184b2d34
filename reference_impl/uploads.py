"""Multipart uploads streamed to disk: ``POST /v1/upload`` with ``multipart/form-data`` never reaches Connexion.

Connexion's request validator keeps every message of a body in memory (and its form parser spools a second copy),
so a 100 MB upload would cost 100 MB or more of RAM per request. This middleware runs after authentication and rate
limiting and before validation: it parses the body as it arrives (``python-multipart``), writes the one ``file``
part straight into the media store (a file, or a multipart upload to a bucket), counts bytes against the size limit
while reading, and validates the form as the contract's ``UploadForm`` says (one ``file`` part with a filename,
nothing else). The stored file then goes through the same probe and record as a URL upload
(:meth:`reference_impl.backend.ReferenceBackend.keep_upload`).

Whatever the body's shape, it is a 4xx: a boundary python-multipart refuses (longer than 256 characters), a part
head longer than :data:`MAX_PART_HEAD_BYTES`, a body cut short. A client that disconnects mid-upload raises
Starlette's ``ClientDisconnect`` (one line at info level from the core's error handler), and what it sent is
discarded (:meth:`reference_impl.media_store.MediaWriter.abort`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reference_impl.backend import ReferenceBackend
from reference_impl.db import file_record
from reference_impl.media_store import MediaWriter
from voxcontract.api import file_created
from voxcontract.auth import Principal
from voxcontract.errors import BadRequest, MalformedBody, PayloadTooLarge
from voxcontract.middleware.auth import PRINCIPAL_SCOPE_KEY

__all__ = ["StreamingUploadMiddleware"]

logger = logging.getLogger(__name__)

UPLOAD_PATH = "/v1/upload"
#: The most bytes of header fields one part may carry (a Content-Disposition with a long filename fits easily).
MAX_PART_HEAD_BYTES = 16_384
_FILE_PART = "file"


@dataclass
class _Part:
    """What the parser reported since the last chunk: a part's headers, its data, its end."""

    events: list[tuple[str, Any]] = field(default_factory=list)
    header_field: bytes = b""
    header_value: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    head_bytes: int = 0
    finished: bool = False


def _check_part_head(state: _Part) -> None:
    if state.head_bytes > MAX_PART_HEAD_BYTES:
        raise MalformedBody(f"A multipart part's header fields may hold at most {MAX_PART_HEAD_BYTES} bytes.")


class StreamingUploadMiddleware:
    """Answers multipart ``POST /v1/upload`` itself; everything else passes through."""

    def __init__(self, app: ASGIApp, *, backend: ReferenceBackend, max_bytes: int) -> None:
        self.app = app
        self.backend = backend
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_multipart_upload(scope) or not isinstance(scope.get(PRINCIPAL_SCOPE_KEY), Principal):
            await self.app(scope, receive, send)
            return
        principal: Principal = scope[PRINCIPAL_SCOPE_KEY]
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise PayloadTooLarge(f"Uploads are limited to {self.max_bytes} bytes.")
        incoming, size, filename = await _MultipartReader(self.backend, scope, receive, self.max_bytes).read()
        record = await self.backend.keep_upload(principal.key_id, incoming, size, filename)
        body, status, headers = file_created(file_record(record))
        await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)


def _is_multipart_upload(scope: Scope) -> bool:
    if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != UPLOAD_PATH:
        return False
    content_type = Headers(scope=scope).get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


class _MultipartReader:
    """Reads one upload form from ``receive`` into an incoming media file."""

    def __init__(self, backend: ReferenceBackend, scope: Scope, receive: Receive, max_bytes: int) -> None:
        self.media = backend.media
        self.receive = receive
        self.max_bytes = max_bytes
        self.boundary = _boundary(scope)
        self.state = _Part()
        self.writer: MediaWriter | None = None
        self.incoming: str | None = None
        self.filename: str | None = None

    async def read(self) -> tuple[str, int, str]:
        """The incoming file's location, its size and its client-side name; nothing is left in the store on
        failure (the writer aborts: a multipart upload to a bucket is aborted, a partial file deleted)."""
        try:
            await self._consume()
            if self.writer is None or self.incoming is None or self.filename is None:
                raise BadRequest(f'The upload form has no "{_FILE_PART}" part: send the media as a file part.')
        except BaseException:
            if self.writer is not None:
                await self.writer.abort()
            raise
        return self.incoming, self.writer.size, self.filename

    async def _consume(self) -> None:
        try:
            parser = MultipartParser(self.boundary, self._callbacks())  # type: ignore[arg-type]
        except FormParserError as exc:
            raise MalformedBody(f"The multipart boundary cannot be used: {exc}.") from None
        received = 0
        more = True
        while more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            received += len(chunk)
            if received > self.max_bytes:
                raise PayloadTooLarge(f"Uploads are limited to {self.max_bytes} bytes.")
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise MalformedBody(f"The multipart body is malformed: {exc}") from None
            await self._handle_events()
        parser.finalize()
        if not self.state.finished:
            raise MalformedBody("The multipart body ended before its closing boundary.")

    def _callbacks(self) -> dict[str, Callable[..., None]]:
        state = self.state

        def on_header_field(data: bytes, start: int, end: int) -> None:
            state.header_field += data[start:end]
            state.head_bytes += end - start
            _check_part_head(state)

        def on_header_value(data: bytes, start: int, end: int) -> None:
            state.header_value += data[start:end]
            state.head_bytes += end - start
            _check_part_head(state)

        def on_header_end() -> None:
            state.headers[state.header_field.lower()] = state.header_value
            state.header_field, state.header_value = b"", b""

        def on_headers_finished() -> None:
            state.events.append(("headers", dict(state.headers)))
            state.headers.clear()
            state.head_bytes = 0

        def on_part_data(data: bytes, start: int, end: int) -> None:
            state.events.append(("data", data[start:end]))

        def on_part_end() -> None:
            state.events.append(("end", None))

        def on_end() -> None:
            state.finished = True

        return {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        }

    async def _handle_events(self) -> None:
        events, self.state.events = self.state.events, []
        for kind, value in events:
            if kind == "headers":
                await self._begin_part(value)
            elif kind == "data" and self.writer is not None and self.incoming is None:
                await self.writer.write(value)
            elif kind == "end" and self.writer is not None and self.incoming is None:
                self.incoming = await self.writer.finish()

    async def _begin_part(self, headers: dict[bytes, bytes]) -> None:
        disposition, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if disposition != b"form-data" or not name:
            raise MalformedBody("Every multipart part needs a Content-Disposition: form-data header with a name.")
        if name != _FILE_PART:
            raise BadRequest(f'Unexpected form field {name[:64]!r}: the upload form has one "{_FILE_PART}" part.')
        if self.writer is not None:
            raise BadRequest(f'Send one "{_FILE_PART}" part per upload.')
        if b"filename" not in options:
            raise BadRequest(f'The "{_FILE_PART}" part must be a file: send it with a filename (Content-Disposition).')
        self.filename = options[b"filename"].decode("utf-8", "replace")
        self.writer = self.media.begin()


def _boundary(scope: Scope) -> bytes:
    _, options = parse_options_header(Headers(scope=scope).get("content-type", ""))
    boundary = options.get(b"boundary", b"")
    if not boundary:
        raise MalformedBody("The multipart/form-data Content-Type has no boundary parameter.")
    return boundary
