"""``POST /v1/transcribe``, ``GET /v1/status/{job_id}``, ``GET /v1/jobs`` and ``DELETE /v1/jobs/{job_id}``.

A job's transcript is computed when the job is created (the engine is deterministic and fast) and revealed by the
mock clock; its status is computed on every read (:mod:`mockserver.lifecycle`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import math
import re
from typing import Any

import anyio.to_thread

from mockserver.api.operations import current_request
from mockserver.engine import DeterministicTranscriber
from mockserver.languages import is_supported
from mockserver.lifecycle import JobStatus, Timeline
from mockserver.records import FileRecord, JobRecord
from mockserver.scenarios import Scenario
from mockserver.state import MockState
from voxcontract.auth import Principal
from voxcontract.errors import BadRequest, LanguageNotSupported, NotFound
from voxcontract.spec import load_spec
from voxcontract.transcription import Transcript, TranscriptionOptions, job_metadata, job_options

__all__ = ["JobsApi"]

logger = logging.getLogger(__name__)

JSON = "application/json"
_CURSOR = re.compile(r"\{\"o\":([0-9]{1,12})\}")
_DETECTED_PROBABILITY = 0.93
#: The contract's limit on one key's jobs running at once; the key's further jobs stay queued.
_MAX_RUNNING_JOBS_PER_KEY = int(load_spec()["x-voxscriber-limits"]["max_running_jobs_per_key"])


class JobsApi:
    """The job operations over one :class:`MockState` and engine."""

    def __init__(self, state: MockState, engine: DeterministicTranscriber) -> None:
        self.state = state
        self.engine = engine

    async def start_transcription(self, token_info: Principal, body: dict[str, Any]) -> Any:
        tenant = token_info.key_id
        job_metadata(body)  # what the schema cannot say, checked before the idempotency replay as the schema is
        key = current_request().headers.get("idempotency-key")
        if key is not None:
            earlier = self.state.idempotent_job(tenant, key, body)
            if earlier is not None:
                return self._accepted(earlier)
        job = await self._create(tenant, body)
        if key is not None:
            self.state.remember_idempotent(tenant, key, body, job)
        self.state.refresh()  # a job that ends at once (processing_time 0) announces its webhook now
        return self._accepted(job.to_dict(self.state.now()))

    async def get_job_status(self, token_info: Principal, job_id: str) -> Any:
        job = self.state.get_job(token_info.key_id, job_id)
        now = self.state.now()
        return job.to_dict(now), 200, {"Content-Type": JSON, **_retry_after(job.timeline.retry_after(now))}

    async def list_jobs(
        self, token_info: Principal, limit: int = 20, cursor: str | None = None, status: JobStatus | None = None
    ) -> Any:
        jobs, has_more = self.state.list_jobs(
            token_info.key_id, status=status, before_seq=_decode_cursor(cursor), limit=limit
        )
        now = self.state.now()
        page = {
            "data": [job.to_dict(now) for job in jobs],
            "has_more": has_more,
            "next_cursor": _encode_cursor(jobs[-1].seq) if has_more else None,
        }
        return page, 200, {"Content-Type": JSON}

    async def delete_job(self, token_info: Principal, job_id: str) -> Any:
        self.state.delete_job(token_info.key_id, job_id)
        return None, 204, {}

    def _accepted(self, job: dict[str, Any]) -> Any:
        headers = {"Content-Type": JSON, "Location": f"/v1/status/{job['job_id']}"}
        if job["status"] in ("queued", "processing"):
            record = self.state.jobs.get(job["job_id"])
            hint = record.timeline.retry_after(self.state.now()) if record else 1
            headers.update(_retry_after(hint))
        return job, 202, headers

    async def _create(self, tenant: str, body: dict[str, Any]) -> JobRecord:
        file = self.state.get_file(tenant, str(body["file_id"]))
        options = job_options(body)
        if not is_supported(options["language"]):
            raise LanguageNotSupported(
                f'The language {options["language"]!r} is not supported; ask for "auto" or one of Whisper\'s '
                "two-letter codes (en, fr, de, es, ...)."
            )
        scenario = current_request().job_scenario(file.scenario, self.state.default_scenario)
        transcript = await self._transcript(file, options, scenario)
        timeline = self._timeline(tenant, scenario)
        ttl = options["retention"]["ttl_seconds"]
        ends_at = timeline.ends_at
        job = JobRecord(
            job_id=self.state.ids.next("job"),
            tenant=tenant,
            seq=self.state.next_seq(),
            file_id=file.file_id,
            options=options,
            metadata=job_metadata(body),
            timeline=timeline,
            transcript=transcript,
            failure_message=_failure_message(file, scenario),
            scenario=scenario,
            expires_at=ends_at + ttl if ttl is not None and ends_at is not None else None,
        )
        self.state.add_job(job)
        logger.info("job %s on %s (scenario %s)", job.job_id, file.file_id, scenario.name if scenario else "none")
        return job

    def _timeline(self, tenant: str, scenario: Scenario | None) -> Timeline:
        processing_time = self.state.settings.processing_time
        factor = scenario.time_factor if scenario else 1.0
        timeline = Timeline(
            created=self.state.now(),
            # inf (stuck) stays inf even when the configured processing time is 0
            processing_time=math.inf if math.isinf(factor) else processing_time * factor,
            fails=bool(scenario and scenario.fails),
            stuck_time_scale=processing_time or 1.0,
        )
        delay = self.state.queue_delay(tenant, timeline.started, _MAX_RUNNING_JOBS_PER_KEY)
        return dataclasses.replace(timeline, queue_delay=delay)

    async def _transcript(
        self, file: FileRecord, options: dict[str, Any], scenario: Scenario | None
    ) -> Transcript | None:
        if scenario is not None and scenario.fails:
            return None
        asked = options["language"]
        detected = scenario.detected_language if scenario else None
        language = detected if detected and asked == "auto" else asked
        engine_options = TranscriptionOptions(
            language=language,
            timestamps=options["timestamps"],
            diarization=options["diarization"],
            speakers_expected=options["speakers_expected"],
        )
        try:
            transcript: Transcript = await anyio.to_thread.run_sync(self.engine.transcribe, file.path, engine_options)
        except FileNotFoundError:  # the file was deleted (or expired) while the engine read it
            raise NotFound(f"No file {file.file_id} for this API key.") from None
        if detected and asked == "auto":
            transcript = dataclasses.replace(transcript, language_probability=_DETECTED_PROBABILITY)
        if scenario is not None and scenario.empty_transcript:
            transcript = dataclasses.replace(transcript, text="", segments=())
        return transcript


def _failure_message(file: FileRecord, scenario: Scenario | None) -> str:
    named = f" (mock scenario {scenario.name})" if scenario else ""
    return f"The audio stream ended unexpectedly after {file.duration_seconds / 2:.1f} seconds{named}."


def _retry_after(seconds: int | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(seconds)}


def _encode_cursor(seq: int) -> str:
    # base64url of {"o":<seq>} without padding: the form of the contract's own example cursor.
    return base64.urlsafe_b64encode(f'{{"o":{seq}}}'.encode("ascii")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise BadRequest("The cursor is not one this server issued; pass next_cursor from the previous page.")
    return int(match.group(1))
