"""``POST /v1/upload``, ``GET`` and ``DELETE /v1/files/{file_id}``.

Multipart uploads are stored and probed with the core's PyAV probe (undecodable media is a 400
``unsupported_media``). URL uploads are never fetched: the mock synthesises a WAV from the URL (see
:func:`mockserver.media.synthesize_wav`), after refusing the addresses the real service refuses.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile

from mockserver.api.operations import current_request
from mockserver.media import check_url_allowed, synthesize_wav
from mockserver.records import FileRecord
from mockserver.scenarios import Scenario, find_magic_scenario, scenario_error
from mockserver.state import FILE_LIFETIME_SECONDS, MockState
from voxcontract.auth import Principal
from voxcontract.errors import BadRequest
from voxcontract.media import MediaInfo, clean_filename, filename_from_url, probe

__all__ = ["FilesApi"]

logger = logging.getLogger(__name__)

JSON = "application/json"
_CHUNK = 1 << 20
_DEFAULT_UPLOAD_NAME = "upload"


class FilesApi:
    """The file operations over one :class:`MockState`."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def upload_file(self, token_info: Principal, body: Any = None, file: UploadFile | None = None) -> Any:
        if file is not None:
            record = await self._upload_multipart(token_info.key_id, file)
        elif isinstance(body, dict) and "url" in body:
            record = await self._upload_url(token_info.key_id, body)
        else:  # a multipart "file" sent as a plain field, without a filename
            raise BadRequest('The "file" part must be a file: send it with a filename (Content-Disposition).')
        self.state.add_file(record)
        logger.info("file %s stored (%s, %.3f s)", record.file_id, record.content_type, record.duration_seconds)
        return record.to_dict(), 201, {"Content-Type": JSON, "Location": f"/v1/files/{record.file_id}"}

    async def get_file(self, token_info: Principal, file_id: str) -> Any:
        return self.state.get_file(token_info.key_id, file_id).to_dict(), 200, {"Content-Type": JSON}

    async def delete_file(self, token_info: Principal, file_id: str) -> Any:
        self.state.delete_file(token_info.key_id, file_id)
        return None, 204, {}

    async def _upload_multipart(self, tenant: str, file: UploadFile) -> FileRecord:
        filename = clean_filename(file.filename) or _DEFAULT_UPLOAD_NAME
        scenario = self._upload_scenario(find_magic_scenario(filename), url=None)
        pending = f"pending-{self.state.next_seq()}"
        path, size = await self.state.media.write_stream(pending, _chunks(file))
        return await self._stored(tenant, pending, path, size, filename, scenario)

    async def _upload_url(self, tenant: str, body: dict[str, Any]) -> FileRecord:
        url = str(body.get("url", ""))
        check_url_allowed(url)
        filename = clean_filename(body.get("filename")) or filename_from_url(url)
        magic = find_magic_scenario(url) or find_magic_scenario(filename)
        scenario = self._upload_scenario(magic, url=url)
        data = synthesize_wav(url)
        pending = f"pending-{self.state.next_seq()}"
        path = self.state.media.write_bytes(pending, data)
        return await self._stored(tenant, pending, path, len(data), filename, scenario)

    def _upload_scenario(self, magic: Scenario | None, *, url: str | None) -> Scenario | None:
        """Fail now for a request- or upload-stage scenario; return a job-stage one to stick to the file."""
        view = current_request()
        scenario = view.scenario or magic or self.state.default_scenario
        if scenario is not None and scenario.stage != "job":
            error = scenario_error(scenario, url=url)
            if error is not None:
                raise error
        # Only a scenario named for this upload sticks; the admin default applies when a job starts.
        return view.job_scenario(magic)

    async def _stored(
        self, tenant: str, pending: str, path: Path, size: int, filename: str, scenario: Scenario | None
    ) -> FileRecord:
        max_seconds = self.state.settings.max_media_seconds
        try:
            info: MediaInfo = await anyio.to_thread.run_sync(lambda: probe(path, max_seconds=max_seconds))
        except BaseException:
            self.state.media.delete(pending)
            raise
        file_id = self.state.ids.next("file")
        final = path.rename(self.state.media.path(file_id))
        now = self.state.now()
        return FileRecord(
            file_id=file_id,
            tenant=tenant,
            filename=filename,
            content_type=info.content_type,
            size_bytes=size,
            duration_seconds=info.duration_seconds,
            created_at=now,
            expires_at=now + FILE_LIFETIME_SECONDS,
            path=final,
            scenario=scenario,
        )


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(_CHUNK):
        yield chunk
