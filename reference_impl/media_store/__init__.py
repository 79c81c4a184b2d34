"""Where a deployment keeps its media: the seam between the servers and the storage, one implementation per backend.

- :class:`~reference_impl.media_store.local.LocalMediaStore`: a directory, ``<data_dir>/media`` (the default); every
  node that runs jobs must see it (one machine, or a shared mount).
- :class:`~reference_impl.media_store.s3.S3MediaStore`: an S3-compatible bucket (``media_url = s3://bucket/prefix``),
  which API and worker nodes on different hosts share through the network.

A store is written only through a :class:`MediaWriter` (an upload, a URL download): the bytes go to an *incoming*
location, which becomes media only when it is complete, probed and kept (:meth:`MediaStore.keep`). So nothing a job
could read is ever half-written, and a refused or interrupted upload leaves nothing behind (:meth:`MediaWriter.abort`;
what a killed process leaves is swept later, :meth:`MediaStore.sweep_incoming`). Media is named by a *location*, a
string the job table stores: a path for the directory, ``s3://bucket/key`` for the bucket. Readers get a
:data:`~voxcontract.media.MediaSource` (a path, or a seekable stream that reads an object by ranges, never whole).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import Protocol

from voxcontract.errors import ServiceUnavailable
from voxcontract.media import MediaSource

__all__ = ["MediaStore", "MediaUnavailable", "MediaWriter", "write_all"]


class MediaUnavailable(ServiceUnavailable):
    """The media store cannot be used now (a bucket across the network down or refusing): an outage, never the
    media's fault. A request answers it ``503`` (retry later); a job that meets it goes back to the queue."""


class MediaWriter(Protocol):
    """One incoming file being written; exactly one of :meth:`finish` and :meth:`abort` ends it."""

    #: Bytes written so far.
    size: int

    async def write(self, chunk: bytes) -> None:
        """Append ``chunk`` (a store that cannot be written is a 503/507 problem)."""

    async def finish(self) -> str:
        """Make the incoming file complete; its location (to probe, then :meth:`MediaStore.keep`)."""

    async def abort(self) -> None:
        """Give up: nothing written is left behind. Never raises (it runs while an error is answered)."""


class MediaStore(Protocol):
    """The media of one deployment, shared by ``serve`` and every ``worker``."""

    def begin(self) -> MediaWriter:
        """A new incoming file, written by this process."""

    async def keep(self, incoming: str, suffix: str = "") -> str:
        """Make a finished incoming file media under a final, random name ending in ``suffix``; its location."""

    def exists(self, location: str) -> bool:
        """Whether the media at ``location`` is there (:class:`MediaUnavailable` when the store cannot say)."""

    def open(self, location: str) -> AbstractContextManager[MediaSource]:
        """The media at ``location`` to read (``FileNotFoundError`` when it is gone; reads may raise
        :class:`MediaUnavailable`)."""

    def remove(self, location: str) -> None:
        """Delete media (a no-op when it is already gone); locations outside the store are refused (logged).

        :raises ServiceUnavailable: the store cannot be written now.
        """

    def discard(self, location: str) -> None:
        """Delete media nobody refers to (a failed upload's) as well as the store allows: logged, never raised."""

    def sweep_incoming(self) -> int:
        """Delete what processes that died left incoming; how many. Never raises."""

    def close(self) -> None:
        """Release this process's resources (its incoming folder, its connections)."""


async def write_all(store: MediaStore, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
    """Write ``chunks`` to a new incoming file of ``store``; its location and size (nothing is left on failure)."""
    writer = store.begin()
    try:
        async for chunk in chunks:
            await writer.write(chunk)
        return await writer.finish(), writer.size
    except BaseException:
        await writer.abort()
        raise
