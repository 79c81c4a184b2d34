"""The Python SDK's scenario matrix against a real mock on 127.0.0.1, once with ``Client``, once with ``AsyncClient``.

The mock runs a manual clock; the SDK's ``sleep`` hook advances it by exactly the seconds the SDK decided to wait,
and its ``clock`` hook reads the same virtual time. So every pause the SDK takes is recorded, waits cost no real
time, and a timeout is reached deterministically. A recording transport (real HTTP underneath) sees every request,
and can make one answer a 429 (``Prefer: code=429``) or lose one answer after the server handled its request.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import voxscriber

from mockserver.app import create_app
from mockserver.settings import MockSettings
from tests.mockserver.support import WebhookReceiver
from voxcontract.serving import BackgroundServer
from voxcontract.webhooks import WebhookSigner

KEY = "sdk-test-key"
FIXTURES = Path(__file__).resolve().parents[2] / "mockserver" / "fixtures"
HELLO = FIXTURES / "hello.wav"
HELLO_TEXT = next(e["text"] for e in json.loads((FIXTURES / "manifest.json").read_text()) if e["file"] == "hello.wav")


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    settings = MockSettings(
        api_keys=(KEY,), clock="manual", processing_time=1.0, webhook_retry_schedule=(0.05, 0.1), webhook_timeout=2.0
    )
    with BackgroundServer(create_app(settings)) as server:
        yield server.base_url


@pytest.fixture
def admin(mock_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock_url, timeout=10) as client:
        assert client.post("/__mock/reset").status_code == 204
        yield client


@dataclass
class VirtualTime:
    """The SDK's sleep and clock: each sleep advances the mock's manual clock by the same seconds."""

    admin: httpx.Client
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        response = self.admin.post("/__mock/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def clock(self) -> float:
        return self.now


@dataclass
class Exchange:
    method: str
    path: str
    headers: httpx.Headers  # the request's
    status: int
    answer_headers: httpx.Headers


class RecordingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Real HTTP that records every exchange; ``faults`` are one-shot tamperings of the next matching request."""

    def __init__(self) -> None:
        self._sync = httpx.HTTPTransport()
        self._async = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []
        self.faults: list[tuple[str, str, str]] = []  # (method, path prefix, "rate-limit" | "lose-answer")

    def calls(self, method: str, path_prefix: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == method and e.path.startswith(path_prefix)]

    def _fault(self, request: httpx.Request) -> str | None:
        for fault in self.faults:
            method, prefix, kind = fault
            if request.method == method and request.url.path.startswith(prefix):
                self.faults.remove(fault)
                if kind == "rate-limit":
                    request.headers["Prefer"] = "code=429"
                return kind
        return None

    def _after(self, request: httpx.Request, response: httpx.Response, fault: str | None) -> httpx.Response:
        exchange = Exchange(request.method, request.url.path, request.headers, response.status_code, response.headers)
        self.exchanges.append(exchange)
        if fault == "lose-answer":
            raise httpx.ReadError("connection lost after the server handled the request", request=request)
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._fault(request)
        response = self._sync.handle_request(request)
        response.read()
        return self._after(request, response, fault)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._fault(request)
        response = await self._async.handle_async_request(request)
        await response.aread()
        return self._after(request, response, fault)


class Portal:
    """One event loop on a thread, so that a scenario written once drives the AsyncClient too."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        async def wrapper() -> Any:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Blocking:
    """An AsyncClient (or one of its resources) called like a Client: coroutines awaited, async iterators listed."""

    def __init__(self, target: Any, portal: Portal) -> None:
        self._target = target
        self._portal = portal

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if isinstance(attribute, (voxscriber.AsyncJobs, voxscriber.AsyncFiles, voxscriber.AsyncWebhooks)):
            return Blocking(attribute, self._portal)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.isawaitable(result):
                return self._portal.run(result)
            if isinstance(result, AsyncIterator):
                return self._portal.run(_collect(result))
            return result

        return call


async def _collect(iterator: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in iterator]


@dataclass
class World:
    sdk: Any  # a voxscriber.Client, or an AsyncClient behind Blocking
    time: VirtualTime
    transport: RecordingTransport
    admin: httpx.Client
    flavour: str


@pytest.fixture(params=["Client", "AsyncClient"])
def world(request: pytest.FixtureRequest, mock_url: str, admin: httpx.Client) -> Iterator[World]:
    time, transport = VirtualTime(admin), RecordingTransport()
    if request.param == "Client":
        with voxscriber.Client(KEY, mock_url, transport=transport, sleep=time.sleep, clock=time.clock) as client:
            yield World(client, time, transport, admin, request.param)
        return
    portal = Portal()
    client = voxscriber.AsyncClient(KEY, mock_url, transport=transport, sleep=time.async_sleep, clock=time.clock)
    try:
        yield World(Blocking(client, portal), time, transport, admin, request.param)
    finally:
        portal.run(client.aclose())
        portal.close()


def upload_hello(world: World, filename: str = "hello.wav") -> voxscriber.File:
    file: voxscriber.File = world.sdk.upload(HELLO, filename=filename)
    return file


# --- success ---------------------------------------------------------------------------------------------------


def test_upload_transcribe_wait_and_every_transcript_format(world: World) -> None:
    reported: list[tuple[int, int | None]] = []
    file = world.sdk.upload(HELLO, progress=lambda sent, total: reported.append((sent, total)))
    size = HELLO.stat().st_size
    assert (file.filename, file.size_bytes) == ("hello.wav", size)
    assert reported[-1] == (size, size)
    assert [sent for sent, _ in reported] == sorted(sent for sent, _ in reported)

    job = world.sdk.transcribe(file.file_id, language="en", timestamps="word", metadata={"case": "success"})
    assert (job.status, job.options.timestamps, job.metadata) == ("queued", "word", {"case": "success"})
    seen: list[str] = []
    done = world.sdk.wait(job, on_progress=lambda j: seen.append(j.status))

    assert done.status == "completed"
    assert done.transcript == HELLO_TEXT
    assert seen[-1] == "completed"
    assert "queued" in seen or "processing" in seen
    # Every pause was the Retry-After of the answer before it (the mock sends one while the job runs).
    polls = world.transport.calls("GET", "/v1/status/")
    assert world.time.sleeps == [float(e.answer_headers["retry-after"]) for e in polls[:-1]]
    assert world.time.sleeps, "the job was not completed at once, so the SDK must have paused"

    transcript = world.sdk.transcript(job.job_id)
    assert isinstance(transcript, voxscriber.Transcript)
    assert (transcript.job_id, transcript.text, transcript.language) == (job.job_id, HELLO_TEXT, "en")
    assert transcript.segments[0].words, "word timestamps were asked"
    text = world.sdk.transcript(job.job_id, format="text")
    assert text.strip() == HELLO_TEXT
    srt = world.sdk.transcript(job.job_id, format="srt")
    assert srt.startswith("1\n00:00:00,")
    assert "-->" in srt
    vtt = world.sdk.transcript(job.job_id, format="vtt")
    assert vtt.startswith("WEBVTT")
    assert "-->" in vtt


def test_transcribe_file_in_one_call(world: World) -> None:
    job = world.sdk.transcribe_file(HELLO, language="auto")
    assert (job.status, job.transcript, job.language) == ("completed", HELLO_TEXT, "en")
    assert [e.method for e in world.transport.exchanges][:2] == ["POST", "POST"]


def test_upload_by_url(world: World) -> None:
    file = world.sdk.upload("https://media.example.com/episode-12.mp3", filename="episode.mp3")
    assert file.filename == "episode.mp3"
    assert file.duration_seconds > 0
    assert world.sdk.files.get(file.file_id) == file


# --- 429 then success; a lost answer ---------------------------------------------------------------------------


def test_rate_limited_submit_is_retried_after_retry_after_with_the_same_idempotency_key(world: World) -> None:
    file = upload_hello(world)
    world.transport.faults.append(("POST", "/v1/transcribe", "rate-limit"))

    job = world.sdk.transcribe(file.file_id)

    submits = world.transport.calls("POST", "/v1/transcribe")
    assert [e.status for e in submits] == [429, 202]
    assert submits[0].headers["prefer"] == "code=429"
    keys = {e.headers["idempotency-key"] for e in submits}
    assert len(keys) == 1, keys
    assert world.time.sleeps == [1.0], "the mock's 429 says Retry-After: 1"
    assert [j.job_id for j in world.sdk.jobs.list()] == [job.job_id]


def test_a_submit_whose_answer_was_lost_is_retried_and_gets_the_same_job(world: World) -> None:
    file = upload_hello(world)
    world.transport.faults.append(("POST", "/v1/transcribe", "lose-answer"))

    job = world.sdk.transcribe(file.file_id)

    submits = world.transport.calls("POST", "/v1/transcribe")
    assert [e.status for e in submits] == [202, 202], "the server handled both"
    assert len({e.headers["idempotency-key"] for e in submits}) == 1
    assert [j.job_id for j in world.sdk.jobs.list()] == [job.job_id], "one job, not two"


def test_rate_limit_past_max_retries_raises_rate_limited_with_retry_after(world: World) -> None:
    world.transport.faults.extend([("GET", "/v1/jobs", "rate-limit")] * 4)
    with pytest.raises(voxscriber.RateLimited) as caught:
        list(world.sdk.jobs.list())
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (429, "rate_limited", 1.0)
    assert caught.value.request_id
    assert len(world.transport.calls("GET", "/v1/jobs")) == 4, "the first try and max_retries=3 retries"


def test_an_upload_is_not_retried_after_its_bytes_were_sent(world: World) -> None:
    world.transport.faults.append(("POST", "/v1/upload", "lose-answer"))
    with pytest.raises(voxscriber.APIConnectionError):
        upload_hello(world)
    assert len(world.transport.calls("POST", "/v1/upload")) == 1


# --- failure, timeout and resume -------------------------------------------------------------------------------


def test_a_failed_job_raises_job_failed_with_its_code(world: World) -> None:
    file = upload_hello(world, "call.scenario-job-fails.wav")
    job = world.sdk.transcribe(file.file_id)
    with pytest.raises(voxscriber.JobFailed) as caught:
        world.sdk.wait(job.job_id)
    assert (caught.value.job_id, caught.value.code) == (job.job_id, "transcription_failed")
    assert caught.value.job.status == "failed"
    with pytest.raises(voxscriber.JobNotCompleted) as not_completed:
        world.sdk.transcript(job.job_id)
    assert not_completed.value.code == "job_not_completed"


def test_a_slow_job_times_out_with_its_id_and_a_second_wait_resumes_it(world: World) -> None:
    file = upload_hello(world, "talk.scenario-slow.wav")
    job = world.sdk.transcribe(file.file_id)

    with pytest.raises(voxscriber.WaitTimeout) as caught:
        world.sdk.wait(job, timeout=3)
    assert caught.value.job_id == job.job_id
    assert caught.value.job.status in ("queued", "processing")
    assert world.time.now == pytest.approx(3.0), "the last pause was cut to the deadline"

    done = world.sdk.wait(caught.value.job_id)
    assert (done.job_id, done.status, done.transcript) == (job.job_id, "completed", HELLO_TEXT)
    assert world.time.now >= 10.0, "slow takes ten times the processing time"


# --- webhooks --------------------------------------------------------------------------------------------------


def test_a_real_webhook_verifies_and_a_tampered_or_old_one_does_not(world: World) -> None:
    with WebhookReceiver() as receiver:
        file = upload_hello(world)
        job = world.sdk.transcribe(file.file_id, webhook_url=receiver.url)
        world.sdk.wait(job)
        (delivery,) = receiver.wait_for(1)
    secret = world.sdk.webhooks.secret()
    assert secret.algorithm == "HMAC-SHA256"

    event = world.sdk.webhooks.verify(delivery.body, delivery.headers, secret.secret)
    assert (event.type, event.data.job_id, event.data.transcript) == ("transcription.completed", job.job_id, HELLO_TEXT)

    tampered = delivery.body.replace(b"completed", b"c0mpleted", 1)
    with pytest.raises(voxscriber.WebhookVerificationError, match="signature"):
        world.sdk.webhooks.verify(tampered, delivery.headers, secret.secret)
    with pytest.raises(voxscriber.WebhookVerificationError, match="signature"):
        world.sdk.webhooks.verify(delivery.body, delivery.headers, secret.secret[:-4] + "AAA=")

    # Signed by the server's own signer six minutes ago: the signature holds, the timestamp does not.
    sent_at = int(delivery.headers["webhook-timestamp"])
    replay = WebhookSigner(secret.secret).sign(delivery.headers["webhook-id"], delivery.body, sent_at - 360)
    with pytest.raises(voxscriber.WebhookVerificationError, match="old"):
        world.sdk.webhooks.verify(delivery.body, replay.as_dict(), secret.secret, now=sent_at)
    assert world.sdk.webhooks.verify(delivery.body, replay.as_dict(), secret.secret, now=sent_at - 300) == event


# --- pagination and deletion -----------------------------------------------------------------------------------


def test_jobs_list_follows_the_cursor_over_several_pages(world: World) -> None:
    file = upload_hello(world)
    started = [world.sdk.transcribe(file.file_id, metadata={"n": str(n)}).job_id for n in range(5)]

    listed = [job.job_id for job in world.sdk.jobs.list(limit=2)]

    assert listed == started[::-1], "newest first, every job once"
    pages = world.transport.calls("GET", "/v1/jobs")
    assert len(pages) == 3, "2 + 2 + 1"
    assert [job.job_id for job in world.sdk.jobs.list(status="queued", limit=100)] == listed


def test_deleting_a_job_and_its_file_then_reading_them_is_not_found(world: World) -> None:
    file = upload_hello(world)
    job = world.sdk.transcribe(file.file_id)
    with pytest.raises(voxscriber.FileInUse):
        world.sdk.files.delete(file.file_id)

    world.sdk.jobs.delete(job.job_id)
    with pytest.raises(voxscriber.NotFound) as job_gone:
        world.sdk.jobs.get(job.job_id)
    world.sdk.files.delete(file.file_id)
    with pytest.raises(voxscriber.NotFound) as file_gone:
        world.sdk.files.get(file.file_id)

    for caught in (job_gone.value, file_gone.value):
        assert (caught.status, caught.code) == (404, "not_found")
        assert caught.request_id
        assert caught.problem["request_id"] == caught.request_id


def test_an_unknown_key_is_unauthorized(mock_url: str) -> None:
    with voxscriber.Client("not-a-key", mock_url) as stranger, pytest.raises(voxscriber.Unauthorized) as caught:
        stranger.jobs.get("job_3kTq9WmZpL2vX8aB")
    assert caught.value.code == "unauthorized"
    assert isinstance(caught.value, voxscriber.APIError)


def test_a_compacted_upload_is_ogg_opus_and_transcribes(world: World) -> None:
    file = world.sdk.upload(HELLO, compact=True)
    assert (file.filename, file.content_type) == ("hello.ogg", "audio/ogg")
    assert file.size_bytes < HELLO.stat().st_size / 4
    assert file.duration_seconds == pytest.approx(4.253, abs=0.1)
    job = world.sdk.wait(world.sdk.transcribe(file.file_id))
    assert job.status == "completed"
