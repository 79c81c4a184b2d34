"""Media files in a directory, ``<data_dir>/media`` by default: written to ``.incoming/`` first, kept under a random
name.

A file appears under its final name only once it is complete and probed (a rename), so a crash never leaves a
half-written file that a job could read.

Each process writes its incoming files into a folder of its own, ``.incoming/<pid>-<nonce>/``, and holds an
exclusive ``flock`` on the folder's lock file for as long as it lives. The kernel releases the lock when the process
dies, however it dies (``kill -9`` included), so a sweep removes exactly the folders of dead processes on this host,
at every start-up and every purge round, while another process's upload in progress is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
from anyio import AsyncFile

from voxcontract.errors import ProblemError
from voxcontract.storage import storage_errors

__all__ = ["LocalMediaStore"]

logger = logging.getLogger(__name__)

_INCOMING = ".incoming"
_LOCK = ".lock"
#: Loose incoming files (from versions without per-process folders) older than this are leftovers.
_STALE_INCOMING_SECONDS = 3600.0
_UNLOCKED_GRACE_SECONDS = 60.0


class LocalMediaStore:
    """The media directory of one deployment (shared by ``serve`` and every ``worker``): a
    :class:`reference_impl.media_store.MediaStore`."""

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

    def begin(self) -> _FileWriter:
        """A new incoming file in this process's incoming folder."""
        return _FileWriter(self.new_incoming())

    async def keep(self, incoming: str, suffix: str = "") -> str:
        """Move a complete incoming file to its final, random name in the media directory (a rename)."""
        final = self.root / (secrets.token_hex(16) + suffix)
        with storage_errors("nothing was kept"):
            os.replace(incoming, final)
        return str(final)

    def exists(self, location: str) -> bool:
        return Path(location).is_file()

    @contextlib.contextmanager
    def open(self, location: str) -> Iterator[Path]:
        """The file itself: PyAV reads it by path."""
        path = Path(location)
        if not path.is_file():
            raise FileNotFoundError(location)
        yield path

    def remove(self, path: str) -> None:
        """Delete a media file (a no-op when it is already gone); paths outside the media directory are refused.

        :raises ServiceUnavailable: the store cannot be written now (:func:`voxcontract.storage.storage_errors`).
        """
        target = Path(path)
        if not target.resolve().is_relative_to(self.root.resolve()):
            logger.warning("refusing to delete %s: not in the media directory %s", target, self.root)
            return
        with storage_errors("nothing was deleted"):
            target.unlink(missing_ok=True)

    def discard(self, path: str) -> None:
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


class _FileWriter:
    """An incoming file being written (opened on the first write: an upload may fail before its first byte)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._file: AsyncFile[bytes] | None = None

    async def write(self, chunk: bytes) -> None:
        with storage_errors("nothing was kept"):
            if self._file is None:
                self._file = await anyio.open_file(self.path, "wb")
            await self._file.write(chunk)
        self.size += len(chunk)

    async def finish(self) -> str:
        with storage_errors("nothing was kept"):
            if self._file is None:
                self._file = await anyio.open_file(self.path, "wb")  # an empty upload: probing refuses it
            await self._file.aclose()
        return str(self.path)

    async def abort(self) -> None:
        with anyio.CancelScope(shield=True):
            if self._file is not None:
                with contextlib.suppress(OSError):
                    await self._file.aclose()
        self.path.unlink(missing_ok=True)


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
