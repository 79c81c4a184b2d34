"""Media files on disk, under ``<data_dir>/media``: written to ``.incoming/`` first, kept under a random name.

A file appears under its final name only once it is complete and probed (a rename), so a crash never leaves a
half-written file that a job could read.

Each process writes its incoming files into a folder of its own, ``.incoming/<pid>-<nonce>/``, and holds an
exclusive ``flock`` on the folder's lock file for as long as it lives. The kernel releases the lock when the process
dies, however it dies (``kill -9`` included), so a sweep removes exactly the folders of dead processes on this host,
at every start-up and every purge round, while another process's upload in progress is left alone.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from anyio import AsyncFile

from voxcontract.errors import PayloadTooLarge, ProblemError
from voxcontract.storage import storage_errors

__all__ = ["MediaStore"]

logger = logging.getLogger(__name__)

_INCOMING = ".incoming"
_LOCK = ".lock"
#: Loose incoming files (from versions without per-process folders) older than this are leftovers.
_STALE_INCOMING_SECONDS = 3600.0
_UNLOCKED_GRACE_SECONDS = 60.0


class MediaStore:
    """The media directory of one deployment (shared by ``serve`` and every ``worker``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / _INCOMING
        self.incoming.mkdir(parents=True, exist_ok=True)
        self._own: Path | None = None
        self._lock_fd: int | None = None

    def new_incoming(self) -> Path:
        """A fresh path in this process's incoming folder for a file being written."""
        with storage_errors("nothing was kept"):
            return self._own_folder() / secrets.token_hex(16)

    def _own_folder(self) -> Path:
        """This process's incoming folder, made and locked on first use."""
        if self._own is None:
            own = self.incoming / f"{os.getpid()}-{secrets.token_hex(4)}"
            own.mkdir()
            descriptor = os.open(own / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._own, self._lock_fd = own, descriptor
        return self._own

    def close(self) -> None:
        """Give up this process's incoming folder (removed with what is left in it)."""
        if self._own is not None and self._lock_fd is not None:
            shutil.rmtree(self._own, ignore_errors=True)
            os.close(self._lock_fd)
            self._own, self._lock_fd = None, None

    async def open_incoming(self, path: Path) -> AsyncFile[bytes]:
        """Open an incoming file for writing; a store that cannot be written is a 503/507 problem."""
        with storage_errors("nothing was kept"):
            return await anyio.open_file(path, "wb")

    async def write_stream(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> tuple[Path, int]:
        """Write ``chunks`` to a new incoming file, at most ``max_bytes`` of them; the path and the size.

        :raises PayloadTooLarge: over the limit (the partial file is removed).
        """
        path = self.new_incoming()
        size = 0
        try:
            async with await self.open_incoming(path) as target:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(f"Uploads are limited to {max_bytes} bytes.")
                    with storage_errors("nothing was kept"):
                        await target.write(chunk)
        except BaseException:
            self.discard(path)
            raise
        return path, size

    def keep(self, incoming: Path, suffix: str = "") -> Path:
        """Move a complete incoming file to its final, random name in the media directory."""
        final = self.root / (secrets.token_hex(16) + suffix)
        with storage_errors("nothing was kept"):
            os.replace(incoming, final)
        return final

    def remove(self, path: str | Path) -> None:
        """Delete a media file (a no-op when it is already gone); paths outside the media directory are refused.

        :raises ServiceUnavailable: the store cannot be written now (:func:`voxcontract.storage.storage_errors`).
        """
        target = Path(path)
        if not target.resolve().is_relative_to(self.root.resolve()):
            logger.warning("refusing to delete %s: not in the media directory %s", target, self.root)
            return
        with storage_errors("nothing was deleted"):
            target.unlink(missing_ok=True)

    def discard(self, path: str | Path) -> None:
        """Delete a media file that nobody refers to (a failed upload's), as well as the store allows: a file left
        behind is logged, never raised (the caller is already answering an error)."""
        try:
            self.remove(path)
        except ProblemError:
            logger.warning("could not delete %s now; the next start-up sweep will", path)

    def sweep_incoming(self, older_than: float = _STALE_INCOMING_SECONDS) -> int:
        """Delete the incoming folders of processes that died (and loose incoming files older than ``older_than``
        seconds); how many entries went. Never raises: a sweep that cannot delete tries again next time."""
        cutoff = time.time() - older_than
        removed = 0
        try:
            for entry in self.incoming.iterdir():
                if entry.is_dir() and entry != self._own and _owner_is_gone(entry):
                    shutil.rmtree(entry, ignore_errors=True)
                    removed += 1
                elif entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink(missing_ok=True)
                    removed += 1
        except OSError as exc:
            logger.warning("sweeping %s: %s", self.incoming, exc)
        if removed:
            logger.info("swept %d incoming upload(s) left by stopped processes", removed)
        return removed


def _owner_is_gone(folder: Path) -> bool:
    """Whether no living process holds ``folder``'s lock (a folder without a lock file is a leftover too)."""
    try:
        descriptor = os.open(folder / _LOCK, os.O_RDWR)
    except FileNotFoundError:  # a leftover, or a folder whose owner is creating its lock this instant
        return folder.stat().st_mtime < time.time() - _UNLOCKED_GRACE_SECONDS
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # also releases the lock we may have taken
    return True
