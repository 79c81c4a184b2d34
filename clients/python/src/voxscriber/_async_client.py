"""``AsyncClient``: the asyncio client. Every method runs one flow of :mod:`voxscriber._operations`; its
surface is ``Client``'s, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from voxscriber._core import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ClientCore
from voxscriber._flows import Flow, Outcome, Send, Sleep
from voxscriber._models import File, Health, Job, JobStatus, Retention, Transcript, WebhookEvent, WebhookSecret
from voxscriber._operations import JobRef, PollPolicy, TranscriptFormat, transcription_body
from voxscriber._uploads import ProgressCallback, Source
from voxscriber._webhooks import DEFAULT_TOLERANCE_SECONDS

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(ClientCore):
    """An asyncio VoxScriber client.

    >>> async with AsyncClient() as client:  # VOXSCRIBER_API_KEY, VOXSCRIBER_BASE_URL
    ...     job = await client.transcribe_file("talk.mp3", language="en")
    ...     print(job.transcript)

    ``sleep`` and ``clock`` replace ``asyncio.sleep`` and ``time.monotonic`` (for tests, or a scheduler of your own).
    A local file is read in the event loop's thread, a chunk (64 KiB) at a time.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        webhook_secret: str | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(api_key, base_url, max_retries=max_retries, webhook_secret=webhook_secret, clock=clock)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport
        )
        self._sleep = sleep or asyncio.sleep
        self.jobs = AsyncJobs(self)
        self.files = AsyncFiles(self)
        self.webhooks = AsyncWebhooks(self)

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def health(self) -> Health:
        """``GET /v1/health``."""
        return await self._run(self._ops.health())

    async def upload(
        self,
        source: Source,
        *,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
        compact: bool = False,
    ) -> File:
        """Upload a path, bytes, a binary file object, or an ``http(s)://`` URL the server fetches.

        ``progress(sent, total)`` is called as the file is read into the request. ``compact=True`` uploads the audio
        track as mono 16 kHz Opus (needs the ``compact`` extra, PyAV).
        """
        with self._upload_flow(source, filename, progress, compact) as flow:
            return await self._run(flow)

    async def transcribe(
        self,
        file_id: str,
        *,
        language: str | None = None,
        timestamps: str | None = None,
        diarization: bool | None = None,
        speakers_expected: int | None = None,
        webhook_url: str | None = None,
        retention: Retention | Mapping[str, Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Start a job on an uploaded file; options left out take the server's defaults.

        The ``Idempotency-Key`` (a new UUID unless given) is the same on every retry of this call.
        """
        body = transcription_body(
            file_id,
            language=language,
            timestamps=timestamps,
            diarization=diarization,
            speakers_expected=speakers_expected,
            webhook_url=webhook_url,
            retention=retention,
            metadata=metadata,
        )
        return await self._run(self._ops.transcribe(body, idempotency_key))

    async def wait(
        self,
        job: JobRef,
        *,
        timeout: float | None = None,
        max_interval: float = PollPolicy.max_interval,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll until the job is completed; raise :class:`JobFailed` or, past ``timeout`` s, :class:`WaitTimeout`."""
        return await self._run(self._ops.wait(job, timeout, PollPolicy(max_interval=max_interval), on_progress))

    async def transcribe_file(
        self,
        source: Source,
        *,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
        compact: bool = False,
        timeout: float | None = None,
        on_progress: Callable[[Job], None] | None = None,
        **options: Any,
    ) -> Job:
        """Upload, start (``options`` as :meth:`transcribe`'s) and wait: the completed job with its transcript."""
        with self._transcribe_file_flow(
            source,
            filename=filename,
            progress=progress,
            compact=compact,
            timeout=timeout,
            on_progress=on_progress,
            options=options,
        ) as flow:
            return await self._run(flow)

    async def transcript(self, job_id: str, format: TranscriptFormat = "json") -> Transcript | str:
        """The transcript: a :class:`Transcript` for ``json``, the text of a ``text``, ``srt`` or ``vtt`` download."""
        return await self._run(self._ops.transcript(job_id, format))

    async def _run(self, flow: Flow[T]) -> T:
        outcome: Outcome = None
        while True:
            try:
                effect = flow.send(outcome)
            except StopIteration as done:
                result: T = done.value
                return result
            outcome = await self._perform(effect)

    async def _perform(self, effect: Send | Sleep) -> Outcome:
        if isinstance(effect, Sleep):
            await self._sleep(effect.seconds)
            return None
        call = effect.call
        try:
            return await self._http.request(
                call.method, call.path, params=call.params, json=call.json, files=call.files, headers=call.headers
            )
        except httpx.TransportError as exc:
            return exc


class AsyncJobs:
    """``client.jobs``: list, read and delete jobs."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self, *, status: JobStatus | None = None, limit: int | None = None) -> AsyncIterator[Job]:
        """Every job of this key, newest first, fetched ``limit`` (the page size) at a time as you iterate."""
        cursor: str | None = None
        while True:
            page = await self._client._run(self._client._ops.list_page(status, limit, cursor))
            for job in page.data:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def get(self, job_id: str) -> Job:
        """``GET /v1/status/{job_id}``."""
        return await self._client._run(self._client._ops.get_job(job_id))

    async def delete(self, job_id: str) -> None:
        """Delete the job and its transcript (a running job is cancelled); the file stays."""
        await self._client._run(self._client._ops.delete_job(job_id))


class AsyncFiles:
    """``client.files``: read and delete uploaded files."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def get(self, file_id: str) -> File:
        """``GET /v1/files/{file_id}``."""
        return await self._client._run(self._client._ops.get_file(file_id))

    async def delete(self, file_id: str) -> None:
        """Delete the file's media and metadata (``FileInUse`` while a queued or processing job needs it)."""
        await self._client._run(self._client._ops.delete_file(file_id))


class AsyncWebhooks:
    """``client.webhooks``: the signing secret and the verification of deliveries."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def secret(self) -> WebhookSecret:
        """``GET /v1/webhooks/secret``: this key's ``whsec_`` secret."""
        return await self._client._run(self._client._ops.webhook_secret())

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secret: str | None = None,
        *,
        tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
        now: float | None = None,
    ) -> WebhookEvent:
        """The event of a delivery whose signature holds (``secret``: else the client's ``webhook_secret``)."""
        return self._client._verify(body, headers, secret, tolerance_seconds, now)
