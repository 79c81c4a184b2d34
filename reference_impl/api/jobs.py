"""``POST /v1/transcribe``, ``GET /v1/status/{job_id}``, ``GET /v1/jobs`` and ``DELETE /v1/jobs/{job_id}``.

A new job is a row in the job table first (the source of truth), then an announcement on the queue; a job whose
announcement was lost (a crash in between) is found and announced again by the workers' maintenance round.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
from connexion.context import scope as connexion_scope
from starlette.datastructures import Headers

from reference_impl.api.files import JSON
from reference_impl.db import Job, JobStatus, job_document
from reference_impl.deployment import Deployment
from reference_impl.net import check_url
from reference_impl.pipeline import TranscriptionPipeline
from reference_impl.store import JobCursor
from voxcontract.auth import Principal
from voxcontract.errors import BadRequest, NotFound, UrlFetchFailed
from voxcontract.transcription import TranscriptionOptions, job_metadata, job_options

__all__ = ["JobsApi"]

logger = logging.getLogger(__name__)

#: Seconds a client should wait before polling a queued or processing job again.
_RETRY_AFTER = "1"


class JobsApi:
    """The job operations over one deployment; ``announce`` tells the workers a job is ready."""

    def __init__(
        self, deployment: Deployment, pipeline: TranscriptionPipeline, announce: Callable[[str], Awaitable[None]]
    ) -> None:
        self.deployment = deployment
        self.store = deployment.store
        self.pipeline = pipeline
        self.announce = announce

    async def start_transcription(self, token_info: Principal, body: dict[str, Any]) -> Any:
        metadata = job_metadata(body)
        idempotency_key = Headers(scope=connexion_scope._get_current_object()).get("idempotency-key")
        request_hash = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
        if idempotency_key is not None:
            # The earlier answer wins over every check below (the contract): a replay, or 409 for another body.
            replay = functools.partial(self.store.replay, token_info.key_id, idempotency_key, request_hash)
            if (earlier := await anyio.to_thread.run_sync(replay)) is not None:
                return _job_answer(earlier, 202)
        options = job_options(body)
        self.pipeline.check(TranscriptionOptions.from_job_options(options))
        if options["webhook_url"]:
            await self._check_webhook_url(options["webhook_url"])
        job, created = await anyio.to_thread.run_sync(
            lambda: self.store.create_job(
                token_info.key_id,
                str(body["file_id"]),
                options,
                metadata,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
        )
        if created:
            logger.info("job %s queued on %s", job.job_id, job.file_id)
            await self.announce(job.job_id)
        return _job_answer(job, 202)

    async def _check_webhook_url(self, url: str) -> None:
        """Refuse (400 ``url_not_allowed``) a webhook URL that points at a refused address now.

        A host that does not resolve now is accepted: DNS may change before the job ends, and every delivery
        checks the URL again (a refused address then fails the delivery, never reaches the network).
        """
        try:
            await anyio.to_thread.run_sync(check_url, url, self.deployment.settings.network_policy())
        except UrlFetchFailed as exc:
            logger.info("webhook URL accepted, not resolvable now (%s)", exc.detail)

    async def get_job_status(self, token_info: Principal, job_id: str) -> Any:
        return _job_answer(await self._job(token_info.key_id, job_id), 200)

    async def list_jobs(
        self, token_info: Principal, limit: int = 20, cursor: str | None = None, status: str | None = None
    ) -> Any:
        before = _decode_cursor(cursor)
        page = await anyio.to_thread.run_sync(
            lambda: self.store.list_jobs(token_info.key_id, status=status, limit=limit, before=before)
        )
        body = {
            "data": [job_document(job) for job in page.jobs],
            "has_more": page.next_cursor is not None,
            "next_cursor": _encode_cursor(page.next_cursor) if page.next_cursor else None,
        }
        return body, 200, {"Content-Type": JSON}

    async def delete_job(self, token_info: Principal, job_id: str) -> Any:
        deleted = await anyio.to_thread.run_sync(self.store.delete_job, token_info.key_id, job_id)
        if not deleted:
            raise NotFound(f"No job {job_id} for this API key.")
        logger.info("job %s deleted", job_id)
        return None, 204, {}

    async def _job(self, key_id: str, job_id: str) -> Job:
        job = await anyio.to_thread.run_sync(self.store.get_job, key_id, job_id)
        if job is None:
            raise NotFound(f"No job {job_id} for this API key.")
        return job


def _job_answer(job: Job, status: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    headers = {"Content-Type": JSON}
    if status == 202:
        headers["Location"] = f"/v1/status/{job.job_id}"
    if job.status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        headers["Retry-After"] = _RETRY_AFTER
    return job_document(job), status, headers


def _encode_cursor(cursor: JobCursor) -> str:
    text = json.dumps({"t": cursor.created_at.isoformat(), "j": cursor.job_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str | None) -> JobCursor | None:
    if cursor is None:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        decoded = JobCursor(datetime.fromisoformat(raw["t"]), str(raw["j"]))
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise BadRequest("The cursor is not one this server issued; pass next_cursor from the previous page.") from None
    if decoded.created_at.tzinfo is None:
        raise BadRequest("The cursor is not one this server issued; pass next_cursor from the previous page.")
    return decoded
