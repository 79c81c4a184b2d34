"""The public API's handlers (one class per resource) and the table that resolves operationIds to them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockserver.api.files import FilesApi
from mockserver.api.jobs import JobsApi
from mockserver.api.operations import Handler, OperationTable, RequestView, current_request
from mockserver.api.prefer import CannedAnswers, Preferences, parse_prefer
from mockserver.api.transcripts import ServiceApi, TranscriptsApi
from mockserver.engine import DeterministicTranscriber
from mockserver.state import MockState

__all__ = [
    "CannedAnswers",
    "OperationTable",
    "Preferences",
    "RequestView",
    "build_operations",
    "current_request",
    "parse_prefer",
]


def build_operations(state: MockState, engine: DeterministicTranscriber, document: Mapping[str, Any]) -> OperationTable:
    """Every operation of the contract, bound to ``state`` and ``engine``."""
    files, jobs = FilesApi(state), JobsApi(state, engine)
    transcripts, service = TranscriptsApi(state), ServiceApi(state)
    handlers: dict[str, Handler] = {
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
    return OperationTable(state, CannedAnswers(document), handlers)
