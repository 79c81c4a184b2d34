"""What ``upload()`` accepts — a path, bytes, a binary file object or an http(s) URL — turned into a request body.

A path or bytes can be read again, so an upload of them may be retried (see :mod:`voxscriber._retry`); a file object
only when it can seek. The file part is read through :class:`ProgressReader`, which reports the bytes read so far
(what httpx has handed to the connection) and the total, when it is known.
"""

from __future__ import annotations

import contextlib
import io
import mimetypes
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from voxscriber._flows import Call
from voxscriber._retry import Retry

__all__ = ["ACCEPTED_MEDIA_TYPES", "ProgressCallback", "ProgressReader", "Source", "is_url", "upload_call"]

#: Bytes sent so far, and the total (``None`` for a stream of unknown length).
ProgressCallback = Callable[[int, int | None], None]
Source = str | os.PathLike[str] | bytes | IO[bytes]

#: The media types the contract lists for the ``file`` part; anything else is sent as application/octet-stream
#: (the server probes the bytes, not the label).
ACCEPTED_MEDIA_TYPES = frozenset(
    {
        "audio/wav",
        "audio/x-wav",
        "audio/mpeg",
        "audio/mp4",
        "audio/aac",
        "audio/ogg",
        "audio/opus",
        "audio/flac",
        "audio/webm",
        "video/mp4",
        "video/quicktime",
        "video/x-matroska",
        "video/webm",
        "application/octet-stream",
    }
)


def is_url(source: object) -> bool:
    """Whether ``source`` is a URL for the server to fetch (rather than a local path)."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


class ProgressReader:
    """A binary file as httpx's multipart encoder reads it, reporting every chunk to a callback."""

    def __init__(self, raw: IO[bytes], total: int | None, progress: ProgressCallback | None) -> None:
        self._raw = raw
        self._total = total
        self._progress = progress
        self._sent = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self._sent += len(chunk)
        if self._progress is not None and (chunk or self._sent == 0):
            self._progress(self._sent, self._total)
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        # httpx seeks to measure the length and to start over on a retry: count from where the file now is.
        position = self._raw.seek(offset, whence)
        self._sent = position
        return position

    def tell(self) -> int:
        return self._raw.tell()


@dataclass(frozen=True)
class _Opened:
    filename: str
    reader: ProgressReader
    retry: Retry


def upload_call(opened: _Opened) -> Call:
    """The multipart ``POST /v1/upload`` of an opened source."""
    media_type = mimetypes.guess_type(opened.filename)[0] or "application/octet-stream"
    if media_type not in ACCEPTED_MEDIA_TYPES:
        media_type = "application/octet-stream"
    files = {"file": (opened.filename, opened.reader, media_type)}
    return Call("POST", "/v1/upload", retry=opened.retry, files=files)


def url_call(url: str, filename: str | None) -> Call:
    """The JSON ``POST /v1/upload`` of a URL the server fetches (retried as an upload: nothing kept on a 429/503)."""
    body: dict[str, Any] = {"url": url}
    if filename is not None:
        body["filename"] = filename
    return Call("POST", "/v1/upload", retry=Retry.UNSENT, json=body)


@contextlib.contextmanager
def open_source(source: Source, filename: str | None, progress: ProgressCallback | None) -> Iterator[_Opened]:
    """Open a local source for a multipart upload (a path is opened here and closed after)."""
    if isinstance(source, bytes):
        yield _Opened(filename or "upload", ProgressReader(io.BytesIO(source), len(source), progress), Retry.UNSENT)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        with path.open("rb") as raw:
            yield _Opened(filename or path.name, ProgressReader(raw, path.stat().st_size, progress), Retry.UNSENT)
    else:
        total = _stream_length(source)
        retry = Retry.UNSENT if total is not None else Retry.NEVER
        yield _Opened(filename or _stream_name(source), ProgressReader(source, total, progress), retry)


def _stream_length(stream: IO[bytes]) -> int | None:
    """The bytes from the start of a seekable stream (httpx sends it from the start), else ``None``."""
    try:
        if not stream.seekable():
            return None
        position = stream.tell()
        length = stream.seek(0, os.SEEK_END)
        stream.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return length


def _stream_name(stream: IO[bytes]) -> str:
    name = getattr(stream, "name", None)
    return Path(name).name if isinstance(name, str) and name else "upload"
