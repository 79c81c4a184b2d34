"""The mock as a :class:`voxcontract.api.Backend`: files and jobs in :class:`MockState`, a clock, scenarios.

Multipart uploads are stored and probed with the core's PyAV probe (undecodable media is a 400
``unsupported_media``). URL uploads are never fetched: the mock synthesises a WAV from the URL (see
:func:`mockserver.media.synthesize_wav`), after refusing the addresses the real service refuses. A job's transcript
is computed when the job is created (the engine is deterministic and fast) and revealed by the mock clock; its
status is computed on every read (:mod:`mockserver.lifecycle`). Scenarios named for a request come from
:func:`mockserver.operations.current_request`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import anyio.to_thread

from mockserver.engine import DeterministicTranscriber
from mockserver.languages import is_supported
from mockserver.lifecycle import Timeline
from mockserver.media import check_url_allowed, synthesize_wav
from mockserver.operations import current_request
from mockserver.records import StoredFile, StoredJob
from mockserver.scenarios import Scenario, find_magic_scenario, scenario_error
from mockserver.state import FILE_LIFETIME_SECONDS, MockState
from voxcontract.api import (
    CursorPosition,
    FileRecord,
    Idempotency,
    JobPage,
    JobQuery,
    JobRecord,
    JobRequest,
    Upload,
    invalid_cursor,
    not_found,
)
from voxcontract.errors import LanguageNotSupported
from voxcontract.media import MediaInfo, clean_filename, filename_from_url, probe
from voxcontract.spec import load_spec
from voxcontract.transcription import JobOptions, Transcript

__all__ = ["MockBackend"]

logger = logging.getLogger(__name__)

_DETECTED_PROBABILITY = 0.93
#: The contract's limit on one key's jobs running at once; the key's further jobs stay queued.
_MAX_RUNNING_JOBS_PER_KEY = int(load_spec()["x-voxscriber-limits"]["max_running_jobs_per_key"])
#: The cursor's one field: the creation order (``seq``) of the last job of the page, as in the contract's example.
_CURSOR_FIELD = "o"
_MAX_CURSOR = 10**12


class MockBackend:
    """The contract's operations over one :class:`MockState` and the deterministic engine."""

    def __init__(self, state: MockState, engine: DeterministicTranscriber) -> None:
        self.state = state
        self.engine = engine

    # --- files -------------------------------------------------------------------------------------------------

    async def store_upload(self, key_id: str, upload: Upload) -> FileRecord:
        scenario = self._upload_scenario(find_magic_scenario(upload.filename), url=None)
        pending = f"pending-{self.state.next_seq()}"
        path, size = await self.state.media.write_stream(pending, upload.chunks)
        return await self._stored(key_id, pending, path, size, upload.filename, scenario)

    async def store_url(self, key_id: str, url: str, filename: str | None) -> FileRecord:
        check_url_allowed(url)
        name = clean_filename(filename) or filename_from_url(url)
        scenario = self._upload_scenario(find_magic_scenario(url) or find_magic_scenario(name), url=url)
        data = synthesize_wav(url)
        pending = f"pending-{self.state.next_seq()}"
        path = self.state.media.write_bytes(pending, data)
        return await self._stored(key_id, pending, path, len(data), name, scenario)

    async def get_file(self, key_id: str, file_id: str) -> FileRecord | None:
        record = self.state.find_file(key_id, file_id)
        return None if record is None else record.record()

    async def delete_file(self, key_id: str, file_id: str) -> bool:
        if self.state.find_file(key_id, file_id) is None:
            return False
        self.state.delete_file(key_id, file_id)
        return True

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
        now = self.state.now()
        record = StoredFile(
            file_id=file_id,
            tenant=tenant,
            filename=filename,
            content_type=info.content_type,
            size_bytes=size,
            duration_seconds=info.duration_seconds,
            created_at=now,
            expires_at=now + FILE_LIFETIME_SECONDS,
            path=path.rename(self.state.media.path(file_id)),
            scenario=scenario,
        )
        self.state.add_file(record)
        logger.info("file %s stored (%s, %.3f s)", record.file_id, record.content_type, record.duration_seconds)
        return record.record()

    # --- jobs --------------------------------------------------------------------------------------------------

    async def replay_job(self, key_id: str, idempotency: Idempotency) -> JobRecord | None:
        return self.state.idempotent_job(key_id, idempotency)

    async def create_job(self, key_id: str, request: JobRequest, idempotency: Idempotency | None) -> JobRecord:
        job = await self._create(key_id, request)
        if idempotency is not None:
            self.state.remember_idempotent(key_id, idempotency, job)
        self.state.refresh()  # a job that ends at once (processing_time 0) announces its webhook now
        return job.record(self.state.now())

    async def get_job(self, key_id: str, job_id: str) -> JobRecord | None:
        job = self.state.find_job(key_id, job_id)
        return None if job is None else job.record(self.state.now())

    async def list_jobs(self, key_id: str, query: JobQuery) -> JobPage:
        before = None if query.after is None else _cursor_seq(query.after)
        jobs, has_more = self.state.list_jobs(key_id, status=query.status, before_seq=before, limit=query.limit)
        now = self.state.now()
        position = {_CURSOR_FIELD: jobs[-1].seq} if has_more else None
        return JobPage(tuple(job.record(now) for job in jobs), position)

    async def delete_job(self, key_id: str, job_id: str) -> bool:
        if self.state.find_job(key_id, job_id) is None:
            return False
        self.state.delete_job(key_id, job_id)
        return True

    async def transcript_retrieved(self, key_id: str, job: JobRecord) -> None:
        stored = self.state.find_job(key_id, job.job_id)
        if stored is not None:
            logger.info("job %s deleted after retrieval (retention.delete_after_retrieval)", job.job_id)
            self.state.purge_job(stored)

    async def _create(self, tenant: str, request: JobRequest) -> StoredJob:
        file = self.state.get_file(tenant, request.file_id)
        options = request.options
        if not is_supported(options.language):
            raise LanguageNotSupported(
                f'The language {options.language!r} is not supported; ask for "auto" or one of Whisper\'s '
                "two-letter codes (en, fr, de, es, ...)."
            )
        scenario = current_request().job_scenario(file.scenario, self.state.default_scenario)
        transcript = await self._transcript(file, options, scenario)
        timeline = self._timeline(tenant, scenario)
        ttl, ends_at = options.retention.ttl_seconds, timeline.ends_at
        job = StoredJob(
            job_id=self.state.ids.next("job"),
            tenant=tenant,
            seq=self.state.next_seq(),
            file_id=file.file_id,
            options=options,
            metadata=dict(request.metadata),
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

    async def _transcript(self, file: StoredFile, options: JobOptions, scenario: Scenario | None) -> Transcript | None:
        if scenario is not None and scenario.fails:
            return None
        detected = scenario.detected_language if scenario and options.language == "auto" else None
        engine_options = options.transcription(language=detected)
        try:
            transcript: Transcript = await anyio.to_thread.run_sync(
                self.engine.transcribe, file.path, engine_options, file.duration_seconds
            )
        except FileNotFoundError:  # the file was deleted (or expired) while the engine read it
            raise not_found("file", file.file_id) from None
        if detected:
            transcript = dataclasses.replace(transcript, language_probability=_DETECTED_PROBABILITY)
        if scenario is not None and scenario.empty_transcript:
            transcript = dataclasses.replace(transcript, text="", segments=())
        return transcript

    # --- the tenant's secret, health ---------------------------------------------------------------------------

    async def webhook_secret(self, key_id: str) -> str | None:
        return self.state.webhook_secret(key_id)

    async def check_health(self) -> None:
        """The mock is always healthy (``Prefer: code=503`` answers otherwise)."""


def _cursor_seq(position: CursorPosition) -> int:
    seq = position.get(_CURSOR_FIELD)
    if not isinstance(seq, int) or not 0 <= seq < _MAX_CURSOR or len(position) != 1:
        raise invalid_cursor()
    return seq


def _failure_message(file: StoredFile, scenario: Scenario | None) -> str:
    named = f" (mock scenario {scenario.name})" if scenario else ""
    return f"The audio stream ended unexpectedly after {file.duration_seconds / 2:.1f} seconds{named}."
