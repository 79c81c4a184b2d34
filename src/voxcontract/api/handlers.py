"""The contract's ten operations, implemented once over a :class:`~voxcontract.api.backend.Backend`.

Each handler reads its request (Connexion passes the parameters it declares), calls the backend and renders the
contract's document. :func:`operation_table` is the operationId → handler resolver an app hands to
:func:`voxcontract.asgi.create_contract_app`; an app that does more (the mock's ``Prefer``) wraps its entries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from connexion.context import scope as connexion_scope
from starlette.datastructures import Headers, UploadFile
from starlette.responses import Response

from voxcontract import __version__
from voxcontract.api.backend import Backend, FileRecord, Idempotency, JobQuery, JobRecord, JobRequest, Upload, not_found
from voxcontract.api.documents import file_document, job_document
from voxcontract.api.idempotency import request_fingerprint
from voxcontract.api.paging import decode_cursor, encode_cursor
from voxcontract.auth import Principal
from voxcontract.errors import BadRequest, JobNotCompleted, NotFound
from voxcontract.media import clean_filename
from voxcontract.subtitles import render_download
from voxcontract.transcription import JobOptions, Transcript, job_metadata

__all__ = [
    "Answer",
    "ContractOperations",
    "Handler",
    "completed_transcript",
    "file_created",
    "job_answer",
    "operation_table",
]

Handler = Callable[..., Any]
#: What a handler returns to Connexion: body, status, headers (every answer names its Content-Type).
Answer = tuple[Any, int, dict[str, str]]

JSON = "application/json"
_UPLOAD_CHUNK = 1 << 20
_DEFAULT_UPLOAD_NAME = "upload"


def operation_table(backend: Backend) -> dict[str, Handler]:
    """Every operation of the contract, bound to ``backend``."""
    operations = ContractOperations(backend)
    return {
        "getHealth": operations.get_health,
        "uploadFile": operations.upload_file,
        "getFile": operations.get_file,
        "deleteFile": operations.delete_file,
        "startTranscription": operations.start_transcription,
        "getJobStatus": operations.get_job_status,
        "getTranscript": operations.get_transcript,
        "listJobs": operations.list_jobs,
        "deleteJob": operations.delete_job,
        "getWebhookSecret": operations.get_webhook_secret,
    }


class ContractOperations:
    """The handlers, over one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def get_health(self) -> Answer:
        await self.backend.check_health()
        return {"status": "ok", "version": __version__}, 200, {"Content-Type": JSON}

    async def upload_file(self, token_info: Principal, body: Any = None, file: UploadFile | None = None) -> Answer:
        if file is not None:
            upload = Upload(clean_filename(file.filename) or _DEFAULT_UPLOAD_NAME, _chunks(file))
            return file_created(await self.backend.store_upload(token_info.key_id, upload))
        if isinstance(body, dict) and "url" in body:
            filename = body.get("filename")
            url_filename = filename if isinstance(filename, str) else None
            return file_created(await self.backend.store_url(token_info.key_id, str(body["url"]), url_filename))
        # a multipart "file" sent as a plain field, without a filename
        raise BadRequest('The "file" part must be a file: send it with a filename (Content-Disposition).')

    async def get_file(self, token_info: Principal, file_id: str) -> Answer:
        record = await self.backend.get_file(token_info.key_id, file_id)
        if record is None:
            raise not_found("file", file_id)
        return file_document(record), 200, {"Content-Type": JSON}

    async def delete_file(self, token_info: Principal, file_id: str) -> Answer:
        if not await self.backend.delete_file(token_info.key_id, file_id):
            raise not_found("file", file_id)
        return None, 204, {}

    async def start_transcription(self, token_info: Principal, body: dict[str, Any]) -> Answer:
        # What the schema cannot say is checked before the replay, as the schema is.
        request = JobRequest(str(body["file_id"]), JobOptions.from_document(body), job_metadata(body))
        idempotency = _idempotency(body)
        # The earlier answer wins over every later check (the contract): a replay, or 409 for another body.
        if idempotency is not None and (earlier := await self.backend.replay_job(token_info.key_id, idempotency)):
            return job_answer(earlier, 202)
        return job_answer(await self.backend.create_job(token_info.key_id, request, idempotency), 202)

    async def get_job_status(self, token_info: Principal, job_id: str) -> Answer:
        return job_answer(await self._job(token_info.key_id, job_id), 200)

    async def list_jobs(
        self, token_info: Principal, limit: int = 20, cursor: str | None = None, status: Any = None
    ) -> Answer:
        query = JobQuery(limit=limit, status=status, after=None if cursor is None else decode_cursor(cursor))
        page = await self.backend.list_jobs(token_info.key_id, query)
        body = {
            "data": [job_document(job) for job in page.jobs],
            "has_more": page.next_position is not None,
            "next_cursor": None if page.next_position is None else encode_cursor(page.next_position),
        }
        return body, 200, {"Content-Type": JSON}

    async def delete_job(self, token_info: Principal, job_id: str) -> Answer:
        if not await self.backend.delete_job(token_info.key_id, job_id):
            raise not_found("job", job_id)
        return None, 204, {}

    async def get_transcript(self, token_info: Principal, job_id: str, format: str = "json") -> Response:
        job = await self._job(token_info.key_id, job_id)
        content, media_type, filename = render_download(completed_transcript(job), job.job_id, format)
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        response = Response(content, media_type=media_type, headers=disposition)
        if job.options.retention.delete_after_retrieval:
            await self.backend.transcript_retrieved(token_info.key_id, job)
        return response

    async def get_webhook_secret(self, token_info: Principal) -> Answer:
        secret = await self.backend.webhook_secret(token_info.key_id)
        if secret is None:  # the key was deleted between authentication and now
            raise NotFound("This API key has no webhook secret.")
        return {"secret": secret, "algorithm": "HMAC-SHA256"}, 200, {"Content-Type": JSON}

    async def _job(self, key_id: str, job_id: str) -> JobRecord:
        job = await self.backend.get_job(key_id, job_id)
        if job is None:
            raise not_found("job", job_id)
        return job


def file_created(record: FileRecord) -> Answer:
    """The ``201`` of ``POST /v1/upload``."""
    return file_document(record), 201, {"Content-Type": JSON, "Location": f"/v1/files/{record.file_id}"}


def job_answer(job: JobRecord, status: int) -> Answer:
    """A ``Job`` answer: ``Location`` on a 202, ``Retry-After`` while the backend gives a polling hint."""
    headers = {"Content-Type": JSON}
    if status == 202:
        headers["Location"] = f"/v1/status/{job.job_id}"
    if job.retry_after is not None:
        headers["Retry-After"] = str(job.retry_after)
    return job_document(job), status, headers


def completed_transcript(job: JobRecord) -> Transcript:
    """The job's transcript; 409 ``job_not_completed`` while it has none."""
    if job.status == "failed":
        raise JobNotCompleted(
            f"Job {job.job_id} failed; it has no transcript (see its error in /v1/status/{job.job_id})."
        )
    if job.status != "completed" or job.transcript is None:
        raise JobNotCompleted(f"Job {job.job_id} is {job.status}; poll /v1/status/{job.job_id} until it is completed.")
    return job.transcript


def _idempotency(body: Any) -> Idempotency | None:
    key = Headers(scope=connexion_scope._get_current_object()).get("idempotency-key")
    return None if key is None else Idempotency(key, request_fingerprint(body))


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(_UPLOAD_CHUNK):
        yield chunk
