"""Crash safety, with real processes: ``kill -9`` the server (or a ``voxcontract worker``) in the middle of a job,
start it again, and the job completes and its webhook arrives (with one ``webhook-id``, however often it comes)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.receiver import WebhookReceiver
from reference_impl.db import make_engine, make_sessions
from reference_impl.settings import ReferenceSettings
from tests.reference_impl.support import KEY_A, upload, wait_for_job
from tests.reference_impl.test_accuracy import SENTENCES, speak
from voxcontract.serving import free_port

STARTUP_SECONDS = 60.0


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 25 s of speech: a job long enough to be killed in the middle of (several seconds on 2 cores)."""
    text = " ".join(sentence for sentences in SENTENCES.values() for sentence in sentences)
    return speak("en-us", f"{text} {text}", tmp_path_factory.mktemp("speech") / "long.wav")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "voxcontract", *args]


def _environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "VOXCONTRACT_POLL_INTERVAL": "0.1", "VOXCONTRACT_LOG_LEVEL": "info"}


@contextlib.contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process logging to ``log``; killed (SIGKILL) at the end if it still runs."""
    with log.open("ab") as output:
        child = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, env=_environment())
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)


def worker_args(data_dir: Path, receiver: WebhookReceiver) -> list[str]:
    """A worker with the server's settings (a worker sends webhooks too: it needs the same URL rules)."""
    return _command(
        "worker",
        "--data-dir",
        str(data_dir),
        "--device",
        "cpu",
        "--cpu-threads",
        "2",
        "--lease-seconds",
        "60",
        "--webhook-retry-schedule",
        "0.2,0.5,1",
        "--url-allowlist",
        f"127.0.0.1:{receiver.port}",
    )


def serve_args(data_dir: Path, port: int, receiver: WebhookReceiver, *extra: str) -> list[str]:
    return _command(
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--api-key",
        KEY_A,
        "--device",
        "cpu",
        "--cpu-threads",
        "2",
        "--lease-seconds",
        "60",  # longer than the test: recovery must come from noticing the dead process, not from the lease
        "--webhook-retry-schedule",
        "0.2,0.5,1",
        "--url-allowlist",
        f"127.0.0.1:{receiver.port}",
        "--rate-limit",
        "6000/minute",  # the test polls every 0.1 s
        *extra,
    )


def wait_healthy(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert child.poll() is None, f"the server exited with {child.returncode}:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"no healthy server at {url}:\n{log.read_text()[-3000:]}")


def wait_processing(client: httpx.Client, job_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/v1/status/{job_id}").json()["status"]
        assert status in ("queued", "processing"), f"the job ended ({status}) before it could be killed"
        if status == "processing":
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never started processing")


def client_for(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30)


def start_processing(client: httpx.Client, media: Path, webhook_url: str | None = None) -> str:
    """Upload ``media``, start a job (with a webhook) and wait until a worker has it; the job id."""
    file_id = upload(client, media)["file_id"]
    body = {"file_id": file_id} if webhook_url is None else {"file_id": file_id, "webhook_url": webhook_url}
    job_id: str = client.post("/v1/transcribe", json=body).json()["job_id"]
    wait_processing(client, job_id)
    return job_id


def job_row(data_dir: Path, job_id: str) -> Any:
    engine = make_engine(ReferenceSettings(data_dir=str(data_dir)).effective_database_url)
    try:
        with make_sessions(engine)() as session:
            from reference_impl.db import Job

            return session.get(Job, job_id)
    finally:
        engine.dispose()


def assert_one_event_delivered(receiver: WebhookReceiver, job_id: str) -> None:
    deliveries = receiver.wait_for(lambda items: any(item.answered == 200 for item in items), timeout=30)
    events = {item.webhook_id for item in deliveries}
    assert len(events) == 1, deliveries
    assert all(f'"job_id":"{job_id}"' in item.body.decode() for item in deliveries)
    assert all(b'"type":"transcription.completed"' in item.body for item in deliveries)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def test_a_job_survives_kill_9_of_the_server(tmp_path: Path, long_speech: Path, receiver: WebhookReceiver) -> None:
    data_dir, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    url, client = f"http://127.0.0.1:{port}", client_for(port)
    with process(serve_args(data_dir, port, receiver), log) as server:
        wait_healthy(url, server, log)
        job_id = start_processing(client, long_speech, receiver.public_url)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    killed = job_row(data_dir, job_id)
    assert (killed.status, killed.attempts) == ("processing", 1)
    assert receiver.deliveries() == []
    with process(serve_args(data_dir, port, receiver), log) as server:
        wait_healthy(url, server, log)
        job = wait_for_job(client, job_id, timeout=120)
        assert job["status"] == "completed", job
        assert "quarterly report" in job["transcript"].lower()
        assert_one_event_delivered(receiver, job_id)
    assert job_row(data_dir, job_id).attempts == 2


def test_a_job_survives_kill_9_of_a_worker(tmp_path: Path, long_speech: Path, receiver: WebhookReceiver) -> None:
    data_dir, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    url, client = f"http://127.0.0.1:{port}", client_for(port)
    worker = worker_args(data_dir, receiver)
    # The API only (--workers 0): the job can go to the worker process alone.
    with process(serve_args(data_dir, port, receiver, "--workers", "0"), log) as server:
        wait_healthy(url, server, log)
        with process(worker, tmp_path / "worker-1.log") as child:
            job_id = start_processing(client, long_speech, receiver.public_url)
            assert f":{child.pid}:" in job_row(data_dir, job_id).lease_owner
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        assert client.get(f"/v1/status/{job_id}").json()["status"] in ("processing", "queued")
        with process(worker, tmp_path / "worker-2.log") as child:
            job = wait_for_job(client, job_id, timeout=120)
            assert job["status"] == "completed", job
            assert f":{child.pid}:" not in (job_row(data_dir, job_id).lease_owner or "")
            # While the worker runs: it may be the process sending the webhook.
            assert_one_event_delivered(receiver, job_id)
    assert job_row(data_dir, job_id).attempts == 2


def test_a_stopped_worker_gives_its_job_back(tmp_path: Path, long_speech: Path, receiver: WebhookReceiver) -> None:
    """SIGTERM (a deploy, Ctrl-C): the running job goes back to the queue at once and completes elsewhere."""
    data_dir, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    url, client = f"http://127.0.0.1:{port}", client_for(port)
    worker = worker_args(data_dir, receiver)
    with process(serve_args(data_dir, port, receiver, "--workers", "0"), log) as server:
        wait_healthy(url, server, log)
        with process(worker, tmp_path / "worker-1.log") as child:
            job_id = start_processing(client, long_speech)
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=60) is not None
        assert job_row(data_dir, job_id).status == "queued"
        with process(worker, tmp_path / "worker-2.log"):
            assert wait_for_job(client, job_id, timeout=120)["status"] == "completed"


def test_a_stopped_server_waits_for_its_job_thread_and_exits_cleanly(
    tmp_path: Path, long_speech: Path, receiver: WebhookReceiver
) -> None:
    """SIGTERM to ``voxcontract serve`` mid-transcription: the job goes back to the queue, the engine's thread
    stops at its next stop check before the process exits (exiting under CTranslate2's thread aborts it: 134)."""
    data_dir, port, log = tmp_path / "data", free_port(), tmp_path / "server.log"
    url, client = f"http://127.0.0.1:{port}", client_for(port)
    with process(serve_args(data_dir, port, receiver), log) as server:
        wait_healthy(url, server, log)
        job_id = start_processing(client, long_speech)
        wait_progress(client, job_id)
        server.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down: -SIGTERM is a clean exit, SIGABRT (134) is not.
        assert server.wait(timeout=60) == -signal.SIGTERM, log.read_text()[-3000:]
    assert f"job {job_id}: stopped" in log.read_text(), log.read_text()[-3000:]
    assert job_row(data_dir, job_id).status == "queued"
    with process(serve_args(data_dir, port, receiver), log) as server:
        wait_healthy(url, server, log)
        assert wait_for_job(client, job_id, timeout=120)["status"] == "completed"


def wait_progress(client: httpx.Client, job_id: str, timeout: float = 60.0) -> None:
    """Until the engine reports progress: the model is loaded and transcribing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/status/{job_id}").json()
        assert job["status"] == "processing", f"the job is {job['status']}, not processing"
        if job["progress"] > 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} reported no progress")
