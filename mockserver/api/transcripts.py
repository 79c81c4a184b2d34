"""``GET /v1/transcripts/{job_id}`` (JSON, text, SRT, WebVTT), ``GET /v1/webhooks/secret`` and ``GET /v1/health``."""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import Response

from mockserver.records import JobRecord
from mockserver.state import MockState
from voxcontract import __version__
from voxcontract.auth import Principal
from voxcontract.errors import JobNotCompleted
from voxcontract.subtitles import render_download
from voxcontract.transcription import Transcript

__all__ = ["ServiceApi", "TranscriptsApi"]

logger = logging.getLogger(__name__)

JSON = "application/json"


class TranscriptsApi:
    """Transcript downloads over one :class:`MockState`."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def get_transcript(self, token_info: Principal, job_id: str, format: str = "json") -> Any:
        job = self.state.get_job(token_info.key_id, job_id)
        content, media_type, filename = render_download(self._completed_transcript(job), job.job_id, format)
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        response = Response(content, media_type=media_type, headers=disposition)
        if job.options["retention"]["delete_after_retrieval"]:
            self._delete_after_retrieval(job)
        return response

    def _completed_transcript(self, job: JobRecord) -> Transcript:
        status = job.status(self.state.now())
        if status == "failed":
            raise JobNotCompleted(
                f"Job {job.job_id} failed; it has no transcript (see its error in /v1/status/{job.job_id})."
            )
        if status != "completed" or job.transcript is None:
            raise JobNotCompleted(f"Job {job.job_id} is {status}; poll /v1/status/{job.job_id} until it is completed.")
        return job.transcript

    def _delete_after_retrieval(self, job: JobRecord) -> None:
        logger.info("job %s deleted after retrieval (retention.delete_after_retrieval)", job.job_id)
        self.state.purge_job(job)


class ServiceApi:
    """Health and the webhook signing secret."""

    def __init__(self, state: MockState) -> None:
        self.state = state

    async def get_health(self) -> Any:
        return {"status": "ok", "version": __version__}, 200, {"Content-Type": JSON}

    async def get_webhook_secret(self, token_info: Principal) -> Any:
        body = {"secret": self.state.webhook_secret(token_info.key_id), "algorithm": "HMAC-SHA256"}
        return body, 200, {"Content-Type": JSON}
