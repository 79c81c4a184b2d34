"""Media files on disk, under ``<data_dir>/media``: written to ``.incoming/`` first, kept under a random name.

A file appears under its final name only once it is complete and probed (a rename), so a crash never leaves a
half-written file that a job could read; leftovers in ``.incoming/`` are swept at start-up.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from voxcontract.errors import PayloadTooLarge

__all__ = ["MediaStore"]

logger = logging.getLogger(__name__)

_INCOMING = ".incoming"
#: Incoming files older than this at start-up belong to uploads that died with their process.
_STALE_INCOMING_SECONDS = 3600.0


class MediaStore:
    """The media directory of one deployment (shared by ``serve`` and every ``worker``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / _INCOMING
        self.incoming.mkdir(parents=True, exist_ok=True)

    def new_incoming(self) -> Path:
        """A fresh path in ``.incoming/`` for a file being written."""
        return self.incoming / secrets.token_hex(16)

    async def write_stream(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> tuple[Path, int]:
        """Write ``chunks`` to a new incoming file, at most ``max_bytes`` of them; the path and the size.

        :raises PayloadTooLarge: over the limit (the partial file is removed).
        """
        path = self.new_incoming()
        size = 0
        try:
            async with await anyio.open_file(path, "wb") as target:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(f"Uploads are limited to {max_bytes} bytes.")
                    await target.write(chunk)
        except BaseException:
            self.discard(path)
            raise
        return path, size

    def keep(self, incoming: Path, suffix: str = "") -> Path:
        """Move a complete incoming file to its final, random name in the media directory."""
        final = self.root / (secrets.token_hex(16) + suffix)
        os.replace(incoming, final)
        return final

    def discard(self, path: str | Path) -> None:
        """Delete a media file (a no-op when it is already gone); paths outside the media directory are refused."""
        target = Path(path)
        if not target.resolve().is_relative_to(self.root.resolve()):
            logger.warning("refusing to delete %s: not in the media directory %s", target, self.root)
            return
        target.unlink(missing_ok=True)

    def sweep_incoming(self, older_than: float = _STALE_INCOMING_SECONDS) -> int:
        """Delete incoming files older than ``older_than`` seconds (uploads that died with their process)."""
        cutoff = time.time() - older_than
        removed = 0
        for leftover in self.incoming.iterdir():
            if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed
