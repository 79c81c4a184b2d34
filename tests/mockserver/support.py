"""Test support for the mock server: a client harness, WAV makers, contract checks and a webhook receiver.

Every answer a harness client gets is checked twice against the contract: by the app itself (Connexion's response
validation is on) and independently by openapi-core here, headers included. A 5xx fails the test unless it
declared that it expects one.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import struct
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from mockserver.app import MockApp, create_app
from mockserver.settings import MockSettings
from voxcontract.serving import BackgroundServer
from voxcontract.spec import load_spec, openapi_core_spec

KEY = "test-key-alpha"
OTHER_KEY = "test-key-beta"
TRANSPORTS = ["in-process", "uvicorn"]
DOCUMENT = load_spec()
HOST_URL = DOCUMENT["servers"][0]["url"]
FAST_SCHEDULE = (0.05, 0.1, 0.2)

#: Settings of the harness unless a test asks for others: deterministic, two tenants, a fast retry schedule.
TEST_SETTINGS: dict[str, Any] = {
    "api_keys": (KEY, OTHER_KEY),
    "clock": "manual",
    "processing_time": 1.0,
    "webhook_retry_schedule": FAST_SCHEDULE,
    "webhook_timeout": 2.0,
    "validate_responses": True,
}


def auth(key: str = KEY, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


def make_wav(seconds: float = 2.0, *, frequency: float = 440.0, rate: int = 8000, silent: bool = False) -> bytes:
    """A mono 16-bit WAV: a tone (different frequencies give different bytes, so different transcripts)."""
    frames = round(seconds * rate)
    amplitude = 0 if silent else 8000
    samples = (round(amplitude * math.sin(2 * math.pi * frequency * n / rate)) for n in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(struct.pack(f"<{frames}h", *samples))
    return buffer.getvalue()


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"].endswith("/" + code)
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def check_against_contract(response: httpx.Response) -> None:
    """openapi-core's own verdict on a public API answer (body, media type and documented headers)."""
    request = response.request
    if not request.url.path.startswith("/v1/") or request.url.path.startswith("/v1/ui"):
        return
    if request.url.path == "/v1/openapi.json":
        return
    response.read()
    mock_request = MockRequest(
        HOST_URL,
        request.method.lower(),
        request.url.path,
        args=dict(request.url.params),
        headers=dict(request.headers),
        content_type=request.headers.get("content-type", "application/json"),
    )
    content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0]
    mock_response = MockResponse(
        response.content, status_code=response.status_code, headers=dict(response.headers), content_type=content_type
    )
    try:
        result = openapi_core_spec().unmarshal_response(mock_request, mock_response)
    except PathError:
        return  # a path or method the contract does not have (the bad-input tests): nothing to check against
    if any(isinstance(error, PathError) for error in result.errors):
        return
    assert not result.errors, f"{request.method} {request.url.path} -> {response.status_code}: {result.errors}"


def validate_webhook_event(payload: Any) -> None:
    """The contract's ``WebhookEvent`` schema, checked by openapi-schema-validator (formats included)."""
    schema = {"$ref": "#/components/schemas/WebhookEvent", "components": DOCUMENT["components"]}
    OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER).validate(payload)


@dataclass
class Harness:
    """A client of one mock app, with the calls tests repeat."""

    app: MockApp
    client: httpx.Client
    transport: str
    allowed_server_errors: int = 0
    server_errors: list[str] = field(default_factory=list)

    @property
    def state(self) -> Any:
        return self.app.state

    def expect_server_error(self, count: int = 1) -> None:
        self.allowed_server_errors += count

    def upload(self, data: bytes | None = None, filename: str = "talk.wav", key: str = KEY, **headers: str) -> Any:
        files = {"file": (filename, make_wav() if data is None else data, "audio/wav")}
        return self.client.post("/v1/upload", headers=auth(key, **headers), files=files)

    def upload_url(self, url: str, key: str = KEY, **body: Any) -> httpx.Response:
        return self.client.post("/v1/upload", headers=auth(key), json={"url": url, **body})

    def file_id(self, data: bytes | None = None, filename: str = "talk.wav", key: str = KEY) -> str:
        response = self.upload(data, filename, key)
        assert response.status_code == 201, response.text
        return str(response.json()["file_id"])

    def start(self, file_id: str, key: str = KEY, headers: dict[str, str] | None = None, **options: Any) -> Any:
        return self.client.post(
            "/v1/transcribe", headers=auth(key, **(headers or {})), json={"file_id": file_id, **options}
        )

    def job_id(self, file_id: str | None = None, key: str = KEY, **options: Any) -> str:
        response = self.start(file_id or self.file_id(key=key), key, **options)
        assert response.status_code == 202, response.text
        return str(response.json()["job_id"])

    def status(self, job_id: str, key: str = KEY, **headers: str) -> httpx.Response:
        return self.client.get(f"/v1/status/{job_id}", headers=auth(key, **headers))

    def transcript(self, job_id: str, fmt: str = "json", key: str = KEY) -> httpx.Response:
        return self.client.get(f"/v1/transcripts/{job_id}", params={"format": fmt}, headers=auth(key))

    def advance(self, seconds: float) -> str:
        response = self.client.post("/__mock/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        return str(response.json()["now"])

    def completed(self, job_id: str, key: str = KEY) -> dict[str, Any]:
        self.advance(3600)
        response = self.status(job_id, key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def reset(self) -> None:
        assert self.client.post("/__mock/reset").status_code == 204
        self.allowed_server_errors = 0
        self.server_errors.clear()

    def _on_response(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.server_errors.append(f"{response.request.method} {response.request.url.path}")
        check_against_contract(response)

    def assert_no_unexpected_server_errors(self) -> None:
        assert len(self.server_errors) <= self.allowed_server_errors, f"unexpected 5xx: {self.server_errors}"


@contextlib.contextmanager
def open_harness(transport: str, **settings: Any) -> Iterator[Harness]:
    """A fresh mock with ``settings`` (over :data:`TEST_SETTINGS`), in-process or on a real uvicorn server."""
    app = create_app(MockSettings(**{**TEST_SETTINGS, **settings}))
    harness_box: list[Harness] = []
    hooks: dict[str, list[Callable[..., Any]]] = {"response": [lambda r: harness_box[0]._on_response(r)]}
    with contextlib.ExitStack() as stack:
        if transport == "in-process":
            client: httpx.Client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            client.event_hooks = hooks
        else:
            server = stack.enter_context(BackgroundServer(app))
            client = stack.enter_context(httpx.Client(base_url=server.base_url, event_hooks=hooks, timeout=10))
        harness_box.append(Harness(app, client, transport))
        yield harness_box[0]


# --- a webhook receiver ---------------------------------------------------------------------------------------


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float


class WebhookReceiver:
    """A real HTTP receiver on 127.0.0.1: records every POST and answers the planned statuses (then 200)."""

    def __init__(self, plan: list[int] | None = None, delay: float = 0.0) -> None:
        self.plan = list(plan or [])
        self.delay = delay
        self.received: list[Received] = []
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/hook", self._receive, methods=["POST"])])
        self._server = BackgroundServer(app)

    @property
    def url(self) -> str:
        return self._server.base_url + "/hook"

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.received.append(Received(body, dict(request.headers), time.monotonic()))
            status = self.plan.pop(0) if self.plan else 200
        if self.delay:
            await asyncio.sleep(self.delay)
        return Response(status_code=status)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.received) >= count, f"got {len(self.received)} webhook(s), expected {count}"
        return self.received

    def __enter__(self) -> WebhookReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


def payload(received: Received) -> Any:
    return json.loads(received.body)
