"""The reference server as a :class:`voxcontract.api.Backend`: one deployment (job table, key ring, media store),
the pipeline that refuses at request time what workers could not do, and the queue announcement of a new job.

A new job is a row in the job table first (the source of truth), then an announcement on the queue; a job whose
announcement was lost (a crash in between) is found and announced again by the workers' maintenance round. Multipart
uploads normally never reach the handlers: :mod:`reference_impl.uploads` streams them to disk and hands the stored
file to :meth:`ReferenceBackend.keep_upload`, the one place where an incoming file is probed and recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import anyio
import anyio.to_thread

from reference_impl.db import File, file_record, job_record
from reference_impl.deployment import Deployment
from reference_impl.media_store import write_all
from reference_impl.net import check_url, fetch_into
from reference_impl.pipeline import TranscriptionPipeline
from reference_impl.store import JobCursor
from voxcontract import api
from voxcontract.errors import ProblemError, UrlFetchFailed
from voxcontract.media import MediaInfo, clean_filename, filename_from_url, probe

__all__ = ["Announce", "ReferenceBackend"]

logger = logging.getLogger(__name__)

#: Tells the workers a job is ready (the queue's announcement).
Announce = Callable[[str], Awaitable[None]]

_SUFFIXES = {
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
    "video/ogg": ".ogg",
    "audio/flac": ".flac",
    "audio/aac": ".aac",
    "audio/mp4": ".m4a",
    "video/mp4": ".mp4",
    "audio/webm": ".webm",
    "video/x-matroska": ".mkv",
}
_DEFAULT_UPLOAD_NAME = "upload"


class ReferenceBackend:
    """The contract's operations over one deployment; the store's blocking calls run in worker threads."""

    def __init__(self, deployment: Deployment, pipeline: TranscriptionPipeline, announce: Announce) -> None:
        self.deployment = deployment
        self.store = deployment.store
        self.media = deployment.media
        self.settings = deployment.settings
        self.pipeline = pipeline
        self.announce = announce

    # --- files -------------------------------------------------------------------------------------------------

    async def store_upload(self, key_id: str, upload: api.Upload) -> api.FileRecord:
        incoming, size = await write_all(self.media, upload.chunks)
        return file_record(await self.keep_upload(key_id, incoming, size, upload.filename))

    async def store_url(self, key_id: str, url: str, filename: str | None) -> api.FileRecord:
        writer = self.media.begin()
        try:
            result = await fetch_into(url, writer, self.settings.network_policy())
            incoming = await writer.finish()
        except BaseException:
            await writer.abort()
            raise
        name = clean_filename(filename) or result.filename or filename_from_url(url)
        return file_record(await self.keep_upload(key_id, incoming, result.size_bytes, name))

    async def keep_upload(self, key_id: str, incoming: str, size: int, filename: str | None) -> File:
        """Probe an incoming file and record it for ``key_id``; an undecodable one is deleted and refused (400)."""
        try:
            info = await anyio.to_thread.run_sync(self._probe, incoming)
            location = await self.media.keep(incoming, _SUFFIXES.get(info.content_type, ""))
        except BaseException:
            await self._discard(incoming)
            raise
        try:
            record = await anyio.to_thread.run_sync(lambda: self._record(key_id, location, size, filename, info))
        except BaseException:
            await self._discard(location)
            raise
        logger.info(
            "file %s stored (%s, %d bytes, %.3f s)", record.file_id, info.content_type, size, info.duration_seconds
        )
        return record

    async def _discard(self, location: str) -> None:
        """Delete media nobody refers to, in a thread (a bucket may take seconds to answer), even when the request
        is being cancelled."""
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.media.discard, location)

    def _probe(self, incoming: str) -> MediaInfo:
        with self.media.open(incoming) as source:
            return probe(source, max_seconds=self.settings.max_media_seconds)

    def _record(self, key_id: str, location: str, size: int, filename: str | None, info: MediaInfo) -> File:
        return self.store.create_file(
            key_id,
            filename=clean_filename(filename) or _DEFAULT_UPLOAD_NAME,
            content_type=info.content_type,
            size_bytes=size,
            duration_seconds=info.duration_seconds,
            path=location,
        )

    async def get_file(self, key_id: str, file_id: str) -> api.FileRecord | None:
        record = await anyio.to_thread.run_sync(self.store.get_file, key_id, file_id)
        return None if record is None else file_record(record)

    async def delete_file(self, key_id: str, file_id: str) -> bool:
        record = await anyio.to_thread.run_sync(self.store.delete_file, key_id, file_id, self.media.remove)
        if record is not None:
            logger.info("file %s deleted", file_id)
        return record is not None

    # --- jobs --------------------------------------------------------------------------------------------------

    async def replay_job(self, key_id: str, idempotency: api.Idempotency) -> api.JobRecord | None:
        job = await anyio.to_thread.run_sync(self.store.replay, key_id, idempotency.key, idempotency.fingerprint)
        return None if job is None else job_record(job)

    async def create_job(
        self, key_id: str, request: api.JobRequest, idempotency: api.Idempotency | None
    ) -> api.JobRecord:
        self.pipeline.check(request.options.transcription())
        if request.options.webhook_url:
            await self._check_webhook_url(request.options.webhook_url)
        job, created = await anyio.to_thread.run_sync(
            lambda: self.store.create_job(
                key_id,
                request.file_id,
                request.options.to_document(),
                request.metadata,
                idempotency_key=None if idempotency is None else idempotency.key,
                request_hash=None if idempotency is None else idempotency.fingerprint,
            )
        )
        if created:
            logger.info("job %s queued on %s", job.job_id, job.file_id)
            await self.announce(job.job_id)
        return job_record(job)

    async def _check_webhook_url(self, url: str) -> None:
        """Refuse (400 ``url_not_allowed``) a webhook URL that points at a refused address now.

        A host that does not resolve now is accepted: DNS may change before the job ends, and every delivery
        checks the URL again (a refused address then fails the delivery, never reaches the network).
        """
        try:
            await anyio.to_thread.run_sync(check_url, url, self.settings.network_policy())
        except UrlFetchFailed as exc:
            logger.info("webhook URL accepted, not resolvable now (%s)", exc.detail)

    async def get_job(self, key_id: str, job_id: str) -> api.JobRecord | None:
        job = await anyio.to_thread.run_sync(self.store.get_job, key_id, job_id)
        return None if job is None else job_record(job)

    async def list_jobs(self, key_id: str, query: api.JobQuery) -> api.JobPage:
        before = None if query.after is None else _job_cursor(query.after)
        page = await anyio.to_thread.run_sync(
            lambda: self.store.list_jobs(key_id, status=query.status, limit=query.limit, before=before)
        )
        end = page.next_cursor
        position = None if end is None else {"t": end.created_at.isoformat(), "j": end.job_id}
        return api.JobPage(tuple(job_record(job) for job in page.jobs), position)

    async def delete_job(self, key_id: str, job_id: str) -> bool:
        deleted = await anyio.to_thread.run_sync(self.store.delete_job, key_id, job_id)
        if deleted:
            logger.info("job %s deleted", job_id)
        return deleted

    async def transcript_retrieved(self, key_id: str, job: api.JobRecord) -> None:
        """Purge the job with its media; when that fails the download stands and the next purge takes the job."""
        try:
            await anyio.to_thread.run_sync(self.store.purge_job, key_id, job.job_id, self.media.remove)
        except ProblemError as exc:
            logger.warning("job %s: deletion after retrieval postponed to the next purge: %s", job.job_id, exc)
            await anyio.to_thread.run_sync(self.store.expire_job, key_id, job.job_id)
            return
        logger.info("job %s deleted after retrieval (retention.delete_after_retrieval)", job.job_id)

    # --- the key's secret, health ------------------------------------------------------------------------------

    async def webhook_secret(self, key_id: str) -> str | None:
        return await anyio.to_thread.run_sync(self.deployment.keys.webhook_secret, key_id)

    async def check_health(self) -> None:
        """The process serves while it runs; the job table's state is the workers' concern."""


def _job_cursor(position: api.CursorPosition) -> JobCursor:
    created_at, job_id = position.get("t"), position.get("j")
    if not isinstance(created_at, str) or job_id is None:
        raise api.invalid_cursor()
    try:
        cursor = JobCursor(datetime.fromisoformat(created_at), str(job_id))
    except ValueError:
        raise api.invalid_cursor() from None
    if cursor.created_at.tzinfo is None:
        raise api.invalid_cursor()
    return cursor
