"""Running the reference server for real in tests: uvicorn on 127.0.0.1, the bundled model, a temporary data dir."""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from reference_impl.app import ReferenceApp, create_app
from reference_impl.net import FetchResult, NetworkPolicy, fetch_into
from reference_impl.settings import ReferenceSettings
from voxcontract.serving import BackgroundServer

KEY_A = "vox_test_key_a"
KEY_B = "vox_test_key_b"
#: The server as tests run it: CPU int8 on the machine's 2 cores, quick maintenance and webhook retries, two keys
#: (imported into the key ring), a rate limit tests do not hit by accident. The webhook timeout stays the default,
#: the contract's 10 s: a shorter one fails the suite's webhooks/slow-acknowledgement.
SETTINGS: dict[str, Any] = {
    "device": "cpu",
    "compute_type": "int8",
    "cpu_threads": 2,
    "poll_interval": 0.1,
    "lease_seconds": 6.0,
    "webhook_retry_schedule": (0.2, 0.5, 1.0),
    "rate_limit": "6000/minute",
    "api_keys": (KEY_A, KEY_B),
}
TERMINAL = ("completed", "failed")


@dataclass
class RunningReference:
    """A reference server on a real port: its URL, the app (deployment, runtime) and clients per key."""

    url: str
    app: ReferenceApp

    @property
    def data_dir(self) -> Path:
        return self.app.settings.data_path

    def client(self, key: str = KEY_A, **options: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=options.pop("timeout", 60), **options)


def reference_settings(data_dir: Path, **overrides: Any) -> ReferenceSettings:
    return ReferenceSettings(**{**SETTINGS, "data_dir": str(data_dir), **overrides})


@contextlib.contextmanager
def serve_reference(data_dir: Path, **overrides: Any) -> Iterator[RunningReference]:
    """The reference server with :data:`SETTINGS` (and ``overrides``) on 127.0.0.1, its keys imported."""
    settings = reference_settings(data_dir, **overrides)
    app = create_app(settings)
    for key in settings.api_keys:
        app.deployment.keys.ensure(key, "test")
    try:
        with BackgroundServer(app) as server:
            yield RunningReference(server.base_url, app)
    finally:
        app.deployment.close()


def upload(client: httpx.Client, path: Path, content_type: str = "application/octet-stream") -> dict[str, Any]:
    """Upload a media file (multipart); the File document."""
    with path.open("rb") as media:
        response = client.post("/v1/upload", files={"file": (path.name, media, content_type)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def upload_traced(client: httpx.Client, path: Path, content_type: str = "audio/wav") -> tuple[httpx.Response, int]:
    """Upload ``path`` (multipart) while tracing Python's allocations (the server runs in this process too); the
    answer and the peak of allocated bytes."""
    tracemalloc.start()
    try:
        with path.open("rb") as media:
            response = client.post("/v1/upload", files={"file": (path.name, media, content_type)})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, peak


def start_job(client: httpx.Client, file_id: str, **options: Any) -> dict[str, Any]:
    response = client.post("/v1/transcribe", json={"file_id": file_id, **options})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll until the job is completed or failed (bounded); the Job document."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/status/{job_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in TERMINAL:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
        time.sleep(0.1)


def transcribe(client: httpx.Client, path: Path, **options: Any) -> dict[str, Any]:
    """Upload, start and wait: the ended Job document."""
    media = upload(client, path)
    job = start_job(client, media["file_id"], **options)
    return wait_for_job(client, job["job_id"])


async def fetch_to_file(
    url: str, dest: Path, policy: NetworkPolicy, *, transport: httpx.AsyncBaseTransport | None = None
) -> FetchResult:
    """:func:`reference_impl.net.fetch_into` a file, which is removed on failure (as a media store's writer aborts)."""
    try:
        with dest.open("wb") as file:
            return await fetch_into(url, _FileSink(file), policy, transport=transport)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


@dataclass
class _FileSink:
    file: BinaryIO

    async def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
