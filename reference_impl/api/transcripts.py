"""``GET /v1/transcripts/{job_id}`` (JSON, text, SRT, WebVTT), ``GET /v1/webhooks/secret`` and ``GET /v1/health``."""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from starlette.responses import Response

from reference_impl.api.files import JSON
from reference_impl.db import Job, JobStatus
from reference_impl.deployment import Deployment
from voxcontract import __version__
from voxcontract.auth import Principal
from voxcontract.errors import JobNotCompleted, NotFound, ProblemError
from voxcontract.subtitles import render_download
from voxcontract.transcription import Transcript

__all__ = ["ServiceApi", "TranscriptsApi"]

logger = logging.getLogger(__name__)


class TranscriptsApi:
    """Transcript downloads; a job with ``retention.delete_after_retrieval`` is purged (with its media) after one."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    async def get_transcript(self, token_info: Principal, job_id: str, format: str = "json") -> Any:
        job = await anyio.to_thread.run_sync(self.deployment.store.get_job, token_info.key_id, job_id)
        if job is None:
            raise NotFound(f"No job {job_id} for this API key.")
        content, media_type, filename = render_download(_completed_transcript(job), job.job_id, format)
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        response = Response(content, media_type=media_type, headers=disposition)
        if job.options.get("retention", {}).get("delete_after_retrieval"):
            await self._purge(job)
        return response

    async def _purge(self, job: Job) -> None:
        store, media = self.deployment.store, self.deployment.media
        try:
            await anyio.to_thread.run_sync(store.purge_job, job.key_id, job.job_id, media.remove)
        except ProblemError as exc:
            # The download itself succeeded; the job goes with the next purge instead of now.
            logger.warning("job %s: deletion after retrieval postponed to the next purge: %s", job.job_id, exc)
            await anyio.to_thread.run_sync(store.expire_job, job.key_id, job.job_id)
            return
        logger.info("job %s deleted after retrieval (retention.delete_after_retrieval)", job.job_id)


def _completed_transcript(job: Job) -> Transcript:
    if job.status == JobStatus.FAILED:
        raise JobNotCompleted(
            f"Job {job.job_id} failed; it has no transcript (see its error in /v1/status/{job.job_id})."
        )
    if job.status != JobStatus.COMPLETED or not job.result:
        raise JobNotCompleted(f"Job {job.job_id} is {job.status}; poll /v1/status/{job.job_id} until it is completed.")
    return Transcript.from_job_fields(job.result)


class ServiceApi:
    """Health and the webhook signing secret."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    async def get_health(self) -> Any:
        return {"status": "ok", "version": __version__}, 200, {"Content-Type": JSON}

    async def get_webhook_secret(self, token_info: Principal) -> Any:
        secret = await anyio.to_thread.run_sync(self.deployment.keys.webhook_secret, token_info.key_id)
        if secret is None:  # the key was deleted between authentication and now
            raise NotFound("This API key has no webhook secret.")
        return {"secret": secret, "algorithm": "HMAC-SHA256"}, 200, {"Content-Type": JSON}
