"""TLS in the reference server, with throwaway CAs: ``voxcontract serve`` over HTTPS, and its outbound clients (URL
uploads and webhooks) verifying certificates against ``ca_bundle`` and the URL's host name.

``reference_impl.net`` connects to the IP it checked and names the host only in ``Host`` and SNI, so the host-name
check is the part most easily lost: a certificate for the IP alone, reached by name, must be refused, and one for
the name alone must be accepted. Every HTTPS site here listens on the address ``localhost`` resolves to and is
reached as ``https://localhost:<port>``; the SSRF rules let the tests through with ``allow_private``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from reference_impl.db import EventState, WebhookAttempt, WebhookEvent
from reference_impl.net import NetworkPolicy, post_json
from tests.certificates import LOCALHOST_IP, ThrowawayCA, https_receiver
from tests.reference_impl.speech import speak
from tests.reference_impl.support import (
    KEY_A,
    RunningReference,
    fetch_to_file,
    serve_reference,
    start_job,
    upload,
    wait_for_job,
)
from voxcontract.errors import UrlFetchFailed
from voxcontract.serving import BackgroundServer, free_port
from voxcontract.tls import ServerCertificate

SENTENCE = "The weather forecast predicts heavy rain for most of the coming week."
STARTUP_SECONDS = 60.0
SETTLE_SECONDS = 30.0
#: site → (the CA that issued its certificate, the identity the certificate is for).
SITES = {
    "by-name": ("trusted", "localhost"),
    "untrusted-ca": ("untrusted", "localhost"),
    "wrong-name": ("trusted", "wrong.example"),
    "ip-only": ("trusted", LOCALHOST_IP),
}
#: sites outbound clients must refuse → what the refusal says.
REFUSED = {
    "untrusted-ca": "CERTIFICATE_VERIFY_FAILED",
    "wrong-name": "Hostname mismatch",
    "ip-only": "Hostname mismatch",  # verified against the URL's host name, not the IP the request went to
}


class Site:
    """A real HTTPS server: ``/speech.wav`` serves the speech, ``/hook`` records POSTs."""

    def __init__(self, certificate: ServerCertificate, speech: Path) -> None:
        self.speech = speech
        self.posts: list[bytes] = []
        routes = [Route("/speech.wav", self._media), Route("/hook", self._hook, methods=["POST"])]
        self._server = BackgroundServer(Starlette(routes=routes), host=LOCALHOST_IP, certificate=certificate)

    def url(self, path: str) -> str:
        return f"https://localhost:{self._server.port}{path}"

    async def _media(self, request: Request) -> Response:
        return FileResponse(self.speech, media_type="audio/wav")

    async def _hook(self, request: Request) -> Response:
        self.posts.append(await request.body())
        return Response(status_code=204)

    def __enter__(self) -> Site:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ThrowawayCA]:
    directory = tmp_path_factory.mktemp("tls")
    return {name: ThrowawayCA(directory, name) for name in ("trusted", "untrusted")}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak("en-gb-x-rp", SENTENCE, tmp_path_factory.mktemp("tls-speech") / "speech.wav")


@pytest.fixture(scope="module")
def sites(cas: dict[str, ThrowawayCA], speech: Path) -> Iterator[dict[str, Site]]:
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(Site(cas[issuer].issue(identity), speech))
            for name, (issuer, identity) in SITES.items()
        }


@pytest.fixture(scope="module")
def trusting(cas: dict[str, ThrowawayCA]) -> NetworkPolicy:
    """The SSRF rules opened to loopback, and the trusted CA as the whole trust store."""
    return NetworkPolicy(allow_private=True, ca_bundle=str(cas["trusted"].bundle))


# --- reference_impl.net ----------------------------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_fetch_and_post_reach_a_site_the_ca_bundle_trusts_by_its_name(
    sites: dict[str, Site], trusting: NetworkPolicy, speech: Path, tmp_path: Path
) -> None:
    site = sites["by-name"]

    result = await fetch_to_file(site.url("/speech.wav"), tmp_path / "fetched", trusting)
    status = await post_json(site.url("/hook"), b'{"ok":true}', {}, trusting)

    assert (tmp_path / "fetched").read_bytes() == speech.read_bytes()
    assert result.size_bytes == speech.stat().st_size
    assert status == 204
    assert site.posts[-1] == b'{"ok":true}'


@pytest.mark.anyio
@pytest.mark.parametrize("name", REFUSED)
async def test_fetch_and_post_refuse_a_certificate_they_cannot_verify(
    sites: dict[str, Site], trusting: NetworkPolicy, tmp_path: Path, name: str
) -> None:
    site = sites[name]
    posts_before = len(site.posts)

    with pytest.raises(UrlFetchFailed, match=REFUSED[name]):
        await fetch_to_file(site.url("/speech.wav"), tmp_path / "fetched", trusting)
    with pytest.raises(UrlFetchFailed, match=REFUSED[name]):
        await post_json(site.url("/hook"), b"{}", {}, trusting)

    assert list(tmp_path.iterdir()) == []
    assert len(site.posts) == posts_before


@pytest.mark.anyio
async def test_without_a_ca_bundle_the_default_store_does_not_trust_a_private_ca(
    sites: dict[str, Site], tmp_path: Path
) -> None:
    default_store = NetworkPolicy(allow_private=True)

    with pytest.raises(UrlFetchFailed, match="CERTIFICATE_VERIFY_FAILED"):
        await fetch_to_file(sites["by-name"].url("/speech.wav"), tmp_path / "fetched", default_store)


# --- through the API -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, cas: dict[str, ThrowawayCA]) -> Iterator[RunningReference]:
    data_dir = tmp_path_factory.mktemp("tls-data")
    with serve_reference(data_dir, allow_private_urls=True, ca_bundle=str(cas["trusted"].bundle)) as server:
        yield server


@pytest.fixture(scope="module")
def client(reference: RunningReference) -> Iterator[httpx.Client]:
    with reference.client() as opened:
        yield opened


def test_url_upload_from_a_trusted_https_site(client: httpx.Client, sites: dict[str, Site], speech: Path) -> None:
    response = client.post("/v1/upload", json={"url": sites["by-name"].url("/speech.wav")})

    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == speech.stat().st_size


@pytest.mark.parametrize("name", REFUSED)
def test_url_upload_from_a_site_with_a_refused_certificate(
    client: httpx.Client, sites: dict[str, Site], name: str
) -> None:
    response = client.post("/v1/upload", json={"url": sites[name].url("/speech.wav")})

    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "url_fetch_failed"
    assert REFUSED[name] in problem["detail"]


def settled_event(
    reference: RunningReference, client: httpx.Client, file_id: str, webhook_url: str
) -> tuple[WebhookEvent, list[WebhookAttempt]]:
    """Run a job that reports to ``webhook_url``; its event once delivered or given up, and the attempts."""
    job = wait_for_job(client, start_job(client, file_id, webhook_url=webhook_url)["job_id"])
    assert job["status"] == "completed", job
    outbox = reference.app.deployment.store.outbox
    deadline = time.monotonic() + SETTLE_SECONDS
    while (event := outbox.event_for_job(job["job_id"])) is None or event.state == EventState.PENDING:
        assert time.monotonic() < deadline, f"the webhook of {job['job_id']} did not settle"
        time.sleep(0.1)
    return event, outbox.event_attempts(event.event_id)


@pytest.fixture(scope="module")
def file_id(client: httpx.Client, speech: Path) -> str:
    return str(upload(client, speech)["file_id"])


def test_webhook_to_a_trusted_https_receiver_is_delivered(
    reference: RunningReference, client: httpx.Client, file_id: str, cas: dict[str, ThrowawayCA]
) -> None:
    with https_receiver(cas["trusted"].issue("localhost")) as receiver:
        event, attempts = settled_event(reference, client, file_id, receiver.public_url)

        assert event.state == EventState.DELIVERED
        assert [attempt.status_code for attempt in attempts] == [500, 200]
        assert [delivery.answered for delivery in receiver.deliveries()] == [500, 200]


@pytest.mark.parametrize(
    ("issuer", "identity", "refusal"),
    [
        ("untrusted", "localhost", REFUSED["untrusted-ca"]),
        ("trusted", "wrong.example", REFUSED["wrong-name"]),
    ],
)
def test_webhook_to_a_receiver_with_a_refused_certificate_is_not_delivered(
    reference: RunningReference,
    client: httpx.Client,
    file_id: str,
    cas: dict[str, ThrowawayCA],
    issuer: str,
    identity: str,
    refusal: str,
) -> None:
    with https_receiver(cas[issuer].issue(identity)) as receiver:
        event, attempts = settled_event(reference, client, file_id, receiver.public_url)

        assert event.state == EventState.FAILED
        assert len(attempts) == 4  # the first and the schedule's three retries, each refused
        for attempt in attempts:
            assert attempt.status_code is None
            assert refusal in (attempt.error or "")
        assert receiver.deliveries() == []


# --- `voxcontract serve` over HTTPS ----------------------------------------------------------------------------------


def test_voxcontract_serve_serves_https(cas: dict[str, ThrowawayCA], tmp_path: Path) -> None:
    certificate = cas["trusted"].issue("127.0.0.1")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    args = [sys.executable, "-m", "voxcontract", "serve", "--data-dir", str(tmp_path / "data"), "--port", str(port)]
    args += ["--api-key", KEY_A, "--device", "cpu", "--cpu-threads", "2", "--workers", "0"]
    args += ["--ssl-certfile", certificate.certfile, "--ssl-keyfile", certificate.keyfile]
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        child = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        with httpx.Client(verify=cas["trusted"].context(), headers={"Authorization": f"Bearer {KEY_A}"}) as trusting:
            wait_healthy(url, trusting, child, log)
            assert trusting.get(url + "/v1/jobs").status_code == 200
            for verify in (cas["untrusted"].context(), True):
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    httpx.get(url + "/v1/health", verify=verify)
    finally:
        child.terminate()
        child.wait(timeout=30)
    banner = log.read_text()
    assert f"VoxScriber reference server on {url}" in banner
    assert f"{url}/v1/ui/" in banner


def wait_healthy(url: str, client: httpx.Client, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert child.poll() is None, f"the server exited with {child.returncode}:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.ConnectError):
            if client.get(url + "/v1/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"no healthy server at {url}:\n{log.read_text()[-3000:]}")
