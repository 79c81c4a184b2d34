"""Issue acceptance, through the API: "SSRF: 127.0.0.1, ::1, 10.0.0.1, 169.254.169.254, a name resolving to loopback,
and a redirect to any of them are all refused with a clear problem, for both upload URLs and webhook URLs."

Real servers on 127.0.0.1 throughout: the reference server with default SSRF settings (``reference``), and one that
allow-lists exactly three ``127.0.0.1:<port>`` entries (``guarded``): a redirector, a webhook receiver and a trap
receiver. Allow-listing is by host and port verbatim (``reference_impl/net.py``), so another port on 127.0.0.1 and
``localhost`` on an allowed port stay refused. The forbidden targets point at ``internal``, a live media server that
no test allows: had a check been skipped, the fetch would succeed and the test would see it.

Webhooks never follow redirects: the trap is allow-listed, so only not following (not a check on the next hop)
keeps it empty; 307 and 308 are the redirects that a following client would re-POST.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from conformance.receiver import Delivery, WebhookReceiver
from reference_impl.db import EventState, WebhookAttempt, WebhookEvent
from tests.reference_impl.speech import speak
from tests.reference_impl.support import RunningReference, serve_reference, start_job, upload, wait_for_job
from tests.reference_impl.wer import edit_distance, words
from voxcontract.serving import BackgroundServer
from voxcontract.webhooks import WebhookSigner, WebhookVerificationError

SENTENCE = "Please remember to bring your laptop and a copy of the budget to the meeting."
PROBLEM = "application/problem+json"
#: Bounded waits for what the server does in the background (webhook retries run at 0.2, 0.5 and 1 s, ±20 %).
SETTLE_TIMEOUT = 30.0
#: target → (URL on the internal server's port, what the problem's detail must say).
TARGETS: dict[str, Callable[[int], tuple[str, tuple[str, ...]]]] = {
    "ipv4-loopback": lambda port: (f"http://127.0.0.1:{port}/media/speech.wav", ("127.0.0.1", "loopback")),
    "ipv6-loopback": lambda port: (f"http://[::1]:{port}/media/speech.wav", ("::1", "loopback")),
    "private": lambda port: ("http://10.0.0.1/media/speech.wav", ("10.0.0.1", "private address")),
    "metadata": lambda port: ("http://169.254.169.254/latest/meta-data/", ("169.254.169.254", "metadata")),
    "name-to-loopback": lambda port: (f"http://localhost:{port}/media/speech.wav", ("localhost resolves", "loopback")),
}
OTHER_SCHEMES = ["file:///etc/passwd", "ftp://127.0.0.1/speech.wav", "gopher://127.0.0.1:70/_x"]


class Site:
    """A real HTTP server on 127.0.0.1 that records every request: ``/redirect/{status}?to=URL`` answers that
    redirect to GET and POST, ``/media/speech.wav`` serves the speech."""

    def __init__(self, media: Path) -> None:
        self.media = media
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        routes = [
            Route("/redirect/{status:int}", self._redirect, methods=["GET", "POST"]),
            Route("/media/speech.wav", self._media, methods=["GET"]),
        ]
        self._server = BackgroundServer(Starlette(routes=routes))
        self.port = self._server.port
        self.netloc = f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def redirect_url(self, status: int, to: str) -> str:
        return self.url(f"/redirect/{status}?{urlencode({'to': to})}")

    def posts(self) -> list[dict[str, str]]:
        return [headers for method, _, headers in self.requests if method == "POST"]

    async def _redirect(self, request: Request) -> Response:
        self._record(request)
        return RedirectResponse(request.query_params["to"], status_code=request.path_params["status"])

    async def _media(self, request: Request) -> Response:
        self._record(request)
        return FileResponse(self.media, media_type="audio/wav")

    def _record(self, request: Request) -> None:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append((request.method, request.url.path, headers))

    def __enter__(self) -> Site:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak("en-gb-x-rp", SENTENCE, tmp_path_factory.mktemp("ssrf-speech") / "speech.wav")


@pytest.fixture(scope="module")
def internal(speech: Path) -> Iterator[Site]:
    """A live server that no URL may reach: the target of every forbidden URL that has a port."""
    with Site(speech) as site:
        yield site


@pytest.fixture(scope="module")
def redirector(speech: Path) -> Iterator[Site]:
    with Site(speech) as site:
        yield site


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def trap() -> Iterator[WebhookReceiver]:
    """An allow-listed receiver that only a followed redirect could reach."""
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, redirector: Site, receiver: WebhookReceiver, trap: WebhookReceiver
) -> Iterator[RunningReference]:
    allowlist = (redirector.netloc, f"127.0.0.1:{receiver.port}", f"127.0.0.1:{trap.port}")
    with serve_reference(tmp_path_factory.mktemp("guarded-data"), url_allowlist=allowlist) as server:
        yield server


@pytest.fixture(scope="module")
def client(reference: RunningReference) -> Iterator[httpx.Client]:
    """A client of the server with default SSRF settings."""
    with reference.client() as opened:
        yield opened


@pytest.fixture(scope="module")
def guarded_client(guarded: RunningReference) -> Iterator[httpx.Client]:
    with guarded.client() as opened:
        yield opened


@pytest.fixture(scope="module")
def file_id(client: httpx.Client, speech: Path) -> str:
    return str(upload(client, speech)["file_id"])


@pytest.fixture(scope="module")
def guarded_file_id(guarded_client: httpx.Client, speech: Path) -> str:
    return str(upload(guarded_client, speech)["file_id"])


def assert_refused(response: httpx.Response, *detail_parts: str, code: str = "url_not_allowed") -> None:
    """A 400 problem with ``code`` whose detail names every one of ``detail_parts``."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == 400
    assert problem["code"] == code, problem
    assert problem["type"].endswith(f"/{code}")
    for part in detail_parts:
        assert part in problem["detail"], problem["detail"]


def job_count(client: httpx.Client) -> int:
    response = client.get("/v1/jobs", params={"limit": 100})
    assert response.status_code == 200, response.text
    return len(response.json()["data"])


def settled_event(server: RunningReference, job_id: str) -> tuple[WebhookEvent, list[WebhookAttempt]]:
    """The job's webhook event once it is delivered or given up (bounded), and its attempts."""
    outbox = server.app.deployment.store.outbox
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        event = outbox.event_for_job(job_id)
        if event is not None and event.state != EventState.PENDING:
            return event, outbox.event_attempts(event.event_id)
        assert time.monotonic() < deadline, f"the webhook of {job_id} is still {event and event.state}"
        time.sleep(0.1)


def run_job(client: httpx.Client, file_id: str, **options: Any) -> dict[str, Any]:
    job = wait_for_job(client, start_job(client, file_id, **options)["job_id"])
    assert job["status"] == "completed", job.get("error")
    return job


# --- Default settings: every forbidden address refused, directly -------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_upload_url_to_a_forbidden_address_is_refused(client: httpx.Client, internal: Site, target: str) -> None:
    url, reasons = TARGETS[target](internal.port)
    assert_refused(client.post("/v1/upload", json={"url": url}), *reasons)
    assert internal.requests == []


@pytest.mark.parametrize("target", TARGETS)
def test_webhook_url_to_a_forbidden_address_is_refused(
    client: httpx.Client, internal: Site, file_id: str, target: str
) -> None:
    url, reasons = TARGETS[target](internal.port)
    before = job_count(client)
    assert_refused(client.post("/v1/transcribe", json={"file_id": file_id, "webhook_url": url}), *reasons)
    assert job_count(client) == before, "a refused request must not queue a job"


@pytest.mark.parametrize("url", OTHER_SCHEMES)
def test_upload_url_with_another_scheme_is_refused(client: httpx.Client, url: str) -> None:
    # The contract's pattern (^https?://) refuses these before the SSRF rules would.
    assert_refused(client.post("/v1/upload", json={"url": url}), "https?://", code="invalid_request")


@pytest.mark.parametrize("url", OTHER_SCHEMES)
def test_webhook_url_with_another_scheme_is_refused(client: httpx.Client, file_id: str, url: str) -> None:
    response = client.post("/v1/transcribe", json={"file_id": file_id, "webhook_url": url})
    assert_refused(response, "https?://", code="invalid_request")


# --- Allow-listing is exact: the same address under another port or name stays refused --------------------------


def test_allowlist_does_not_open_another_port_or_name(guarded_client: httpx.Client, internal: Site) -> None:
    for url, reason in [
        (internal.url("/media/speech.wav"), "127.0.0.1 is a loopback address"),
        (f"http://localhost:{internal.port}/media/speech.wav", "localhost resolves to"),
    ]:
        assert_refused(guarded_client.post("/v1/upload", json={"url": url}), reason)
    assert internal.requests == []


def test_allowlisted_port_under_another_name_is_refused(guarded_client: httpx.Client, redirector: Site) -> None:
    url = redirector.url("/media/speech.wav").replace("127.0.0.1", "localhost")
    before = len(redirector.requests)
    assert_refused(guarded_client.post("/v1/upload", json={"url": url}), "localhost resolves to", "loopback")
    assert len(redirector.requests) == before


def test_forbidden_webhook_url_is_refused_beside_the_allowlist(
    guarded_client: httpx.Client, guarded_file_id: str, internal: Site, receiver: WebhookReceiver
) -> None:
    for url in (internal.url("/hook"), f"http://localhost:{receiver.port}/hook"):
        response = guarded_client.post("/v1/transcribe", json={"file_id": guarded_file_id, "webhook_url": url})
        assert_refused(response, "loopback")


# --- Redirects: every hop is checked again --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("target", TARGETS)
def test_upload_url_redirecting_to_a_forbidden_address_is_refused(
    guarded_client: httpx.Client, redirector: Site, internal: Site, target: str, status: int
) -> None:
    url, reasons = TARGETS[target](internal.port)
    before = len(redirector.requests)
    response = guarded_client.post("/v1/upload", json={"url": redirector.redirect_url(status, url)})
    assert_refused(response, *reasons)
    # The redirector was asked (so the refusal is the redirect's), the target never.
    assert [(method, path) for method, path, _ in redirector.requests[before:]] == [("GET", f"/redirect/{status}")]
    assert internal.requests == []


@pytest.mark.parametrize("status", [302, 307])
def test_upload_url_redirecting_within_the_allowlist_is_followed(
    guarded_client: httpx.Client, redirector: Site, speech: Path, status: int
) -> None:
    url = redirector.redirect_url(status, redirector.url("/media/speech.wav"))
    response = guarded_client.post("/v1/upload", json={"url": url})
    assert response.status_code == 201, response.text
    media = response.json()
    assert (media["content_type"], media["filename"]) == ("audio/wav", "speech.wav")
    assert media["size_bytes"] == speech.stat().st_size
    job = run_job(guarded_client, media["file_id"])
    assert edit_distance(words(SENTENCE), words(job["transcript"])) <= 0.15 * len(words(SENTENCE)), job["transcript"]


# --- Webhooks: signed, one id across retries, no redirects ----------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
def test_webhook_redirects_are_not_followed(
    guarded: RunningReference,
    guarded_client: httpx.Client,
    guarded_file_id: str,
    redirector: Site,
    trap: WebhookReceiver,
    status: int,
) -> None:
    webhook_url = redirector.redirect_url(status, trap.public_url)
    job = run_job(guarded_client, guarded_file_id, webhook_url=webhook_url)
    event, attempts = settled_event(guarded, job["job_id"])
    assert event.state == EventState.FAILED
    assert len(attempts) == 1 + len(guarded.app.settings.webhook_retry_schedule)
    assert [attempt.status_code for attempt in attempts] == [status] * len(attempts)
    posts = [headers for headers in redirector.posts() if headers.get("webhook-id") == event.event_id]
    assert len(posts) == len(attempts)
    assert trap.deliveries() == []


def test_webhook_to_an_allowlisted_receiver_arrives_signed_with_one_id(
    guarded: RunningReference, guarded_client: httpx.Client, guarded_file_id: str, receiver: WebhookReceiver
) -> None:
    secret = guarded_client.get("/v1/webhooks/secret").json()["secret"]
    job = run_job(guarded_client, guarded_file_id, webhook_url=receiver.public_url)
    event, attempts = settled_event(guarded, job["job_id"])

    def for_job(deliveries: list[Delivery]) -> list[Delivery]:
        return [item for item in deliveries if json.loads(item.body)["data"]["job_id"] == job["job_id"]]

    deliveries = for_job(receiver.wait_for(lambda seen: len(for_job(seen)) >= 2, SETTLE_TIMEOUT))
    # The receiver fails the first attempt of every id on purpose; the retry carries the same id.
    assert [item.answered for item in deliveries] == [500, 200]
    assert {item.webhook_id for item in deliveries} == {event.event_id}
    assert event.state == EventState.DELIVERED
    assert [attempt.status_code for attempt in attempts] == [500, 200]
    signer = WebhookSigner(secret)
    for item in deliveries:
        signer.verify(item.body, item.headers)
        payload = json.loads(item.body)
        assert payload["type"] == "transcription.completed"
        assert payload["data"]["status"] == "completed"
    with pytest.raises(WebhookVerificationError, match="signature"):
        WebhookSigner("whsec_" + "A" * 44).verify(deliveries[0].body, deliveries[0].headers)
