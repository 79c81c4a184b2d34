"""``POST /v1/upload`` (JSON: a URL the server fetches), ``GET`` and ``DELETE /v1/files/{file_id}``.

Multipart uploads never reach Connexion: :mod:`reference_impl.uploads` streams them to disk and hands the stored
file to :meth:`FilesApi.keep_upload`, the one place where an incoming file is probed and recorded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio.to_thread

from reference_impl.db import File, file_document
from reference_impl.deployment import Deployment
from reference_impl.net import fetch_to_file
from voxcontract.auth import Principal
from voxcontract.errors import BadRequest, NotFound
from voxcontract.media import MediaInfo, clean_filename, filename_from_url, probe
from voxcontract.storage import storage_errors

__all__ = ["JSON", "FilesApi"]

logger = logging.getLogger(__name__)

JSON = "application/json"
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


class FilesApi:
    """The file operations over one deployment."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.settings = deployment.settings

    async def upload_file(self, token_info: Principal, body: Any = None) -> Any:
        if not isinstance(body, dict) or "url" not in body:
            raise BadRequest('Send multipart/form-data with a "file" part, or JSON {"url": ...}.')
        record = await self._fetch(token_info.key_id, str(body["url"]), body.get("filename"))
        return self.created(record)

    async def get_file(self, token_info: Principal, file_id: str) -> Any:
        record = await anyio.to_thread.run_sync(self.deployment.store.get_file, token_info.key_id, file_id)
        if record is None:
            raise NotFound(f"No file {file_id} for this API key.")
        return file_document(record), 200, {"Content-Type": JSON}

    async def delete_file(self, token_info: Principal, file_id: str) -> Any:
        store, media = self.deployment.store, self.deployment.media
        record = await anyio.to_thread.run_sync(store.delete_file, token_info.key_id, file_id, media.remove)
        if record is None:
            raise NotFound(f"No file {file_id} for this API key.")
        logger.info("file %s deleted", file_id)
        return None, 204, {}

    @staticmethod
    def created(record: File) -> tuple[dict[str, Any], int, dict[str, str]]:
        return file_document(record), 201, {"Content-Type": JSON, "Location": f"/v1/files/{record.file_id}"}

    async def keep_upload(self, key_id: str, incoming: Path, size: int, filename: str | None) -> File:
        """Probe an incoming file and record it for ``key_id``; an undecodable one is deleted and refused (400)."""
        media = self.deployment.media
        max_seconds = self.settings.max_media_seconds
        try:
            info: MediaInfo = await anyio.to_thread.run_sync(lambda: probe(incoming, max_seconds=max_seconds))
            path = media.keep(incoming, _SUFFIXES.get(info.content_type, ""))
        except BaseException:
            media.discard(incoming)
            raise
        try:
            record = await anyio.to_thread.run_sync(lambda: self._record(key_id, path, size, filename, info))
        except BaseException:
            media.discard(path)
            raise
        logger.info(
            "file %s stored (%s, %d bytes, %.3f s)", record.file_id, info.content_type, size, info.duration_seconds
        )
        return record

    def _record(self, key_id: str, path: Path, size: int, filename: str | None, info: MediaInfo) -> File:
        return self.deployment.store.create_file(
            key_id,
            filename=clean_filename(filename) or "upload",
            content_type=info.content_type,
            size_bytes=size,
            duration_seconds=info.duration_seconds,
            path=str(path),
        )

    async def _fetch(self, key_id: str, url: str, filename: Any) -> File:
        incoming = self.deployment.media.new_incoming()
        policy = self.settings.network_policy()
        with storage_errors("nothing was kept"):
            result = await fetch_to_file(url, incoming, policy)
        name = clean_filename(filename if isinstance(filename, str) else None) or result.filename
        return await self.keep_upload(key_id, incoming, result.size_bytes, name or filename_from_url(url))
