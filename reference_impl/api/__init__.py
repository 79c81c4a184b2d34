"""The public API's handlers (one class per resource) and the table that resolves operationIds to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from reference_impl.api.files import FilesApi
from reference_impl.api.jobs import JobsApi
from reference_impl.api.transcripts import ServiceApi, TranscriptsApi
from reference_impl.deployment import Deployment
from reference_impl.pipeline import TranscriptionPipeline

__all__ = ["FilesApi", "JobsApi", "build_operations"]

Handler = Callable[..., Any]


def build_operations(
    deployment: Deployment, pipeline: TranscriptionPipeline, announce: Callable[[str], Awaitable[None]], files: FilesApi
) -> dict[str, Handler]:
    """Every operation of the contract, bound to one deployment."""
    jobs = JobsApi(deployment, pipeline, announce)
    transcripts, service = TranscriptsApi(deployment), ServiceApi(deployment)
    return {
        "getHealth": service.get_health,
        "uploadFile": files.upload_file,
        "getFile": files.get_file,
        "deleteFile": files.delete_file,
        "startTranscription": jobs.start_transcription,
        "getJobStatus": jobs.get_job_status,
        "getTranscript": transcripts.get_transcript,
        "listJobs": jobs.list_jobs,
        "deleteJob": jobs.delete_job,
        "getWebhookSecret": service.get_webhook_secret,
    }
