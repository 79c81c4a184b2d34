"""Where the mock keeps uploaded media, and the media it makes up for uploads by URL (it never fetches them).

Uploads are written to a private temporary directory (so the core's PyAV probe and the engine can read them) and
removed on delete, expiry, reset and shutdown. A URL upload becomes a silent WAV whose length derives from the
URL's hash: the same URL always gives the same file, duration and transcript.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import shutil
import tempfile
import urllib.parse
import wave
from collections.abc import AsyncIterator
from pathlib import Path

from voxcontract.errors import UrlNotAllowed
from voxcontract.storage import storage_errors

__all__ = ["MediaStore", "check_url_allowed", "synthesize_wav"]

_SAMPLE_RATE = 8000
_MIN_SECONDS = 2.0
_DURATION_STEPS = 181  # 2.0 .. 20.0 s in tenths


def synthesize_wav(url: str) -> bytes:
    """A silent mono 8 kHz WAV lasting 2.0-20.0 s, chosen by the URL's hash."""
    digest = hashlib.sha256(url.encode("utf-8")).digest()
    seconds = _MIN_SECONDS + int.from_bytes(digest[:4], "big") % _DURATION_STEPS / 10
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(_SAMPLE_RATE)
        writer.writeframes(b"\0\0" * round(seconds * _SAMPLE_RATE))
    return buffer.getvalue()


def check_url_allowed(url: str) -> None:
    """Refuse what the real service refuses: loopback, private and link-local hosts (400 ``url_not_allowed``).

    The mock resolves no names; it refuses ``localhost`` and IP literals in the refused ranges.
    """
    try:
        host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        raise UrlNotAllowed("The URL cannot be parsed.") from None
    if not host:
        raise UrlNotAllowed("The URL has no host.")
    if host == "localhost" or host.endswith(".localhost"):
        raise UrlNotAllowed(f"The URL's host {host!r} is a loopback address.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address.is_global:
        raise UrlNotAllowed(f"The URL's host {host} is not a public address.")


class MediaStore:
    """Media files by id in a private temporary directory."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="voxcontract-mock-")
        self.root = Path(self._dir.name)

    def path(self, file_id: str) -> Path:
        return self.root / file_id

    def write_bytes(self, file_id: str, data: bytes) -> Path:
        path = self.path(file_id)
        try:
            with storage_errors("nothing was kept"):
                path.write_bytes(data)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            raise
        return path

    async def write_stream(self, file_id: str, chunks: AsyncIterator[bytes]) -> tuple[Path, int]:
        """Write an upload as it arrives; returns the path and the size in bytes. Nothing is left on failure."""
        path = self.path(file_id)
        size = 0
        try:
            with storage_errors("nothing was kept"), path.open("wb") as stream:
                async for chunk in chunks:
                    stream.write(chunk)
                    size += len(chunk)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            raise
        return path, size

    def delete(self, file_id: str) -> None:
        """Delete a file's media; :class:`ServiceUnavailable` (nothing deleted) when the store cannot be written."""
        with storage_errors("nothing was deleted"):
            self.path(file_id).unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove every stored file (the directory stays)."""
        for path in self.root.iterdir():
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the directory itself."""
        self._dir.cleanup()
