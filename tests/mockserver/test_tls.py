"""The mock over HTTPS (a real ``voxcontract mock`` process with a throwaway CA's certificate), and its webhook
dispatcher verifying receivers' certificates: delivered to a receiver the CA bundle trusts, refused (a failed
attempt, recorded) when the receiver's certificate is from another CA or for another host name."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.receiver import WebhookReceiver
from tests.certificates import ThrowawayCA, https_receiver
from tests.mockserver.support import Harness, open_harness
from voxcontract.serving import free_port
from voxcontract.tls import ServerCertificate

STARTUP_SECONDS = 60.0
SETTLE_SECONDS = 10.0


# --- `voxcontract mock` over HTTPS -----------------------------------------------------------------------------------


@contextlib.contextmanager
def mock_process(port: int, certificate: ServerCertificate, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    args = [sys.executable, "-m", "voxcontract", "mock", "--port", str(port)]
    args += ["--ssl-certfile", certificate.certfile, "--ssl-keyfile", certificate.keyfile]
    with log.open("wb") as output:
        child = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        yield child
    finally:
        child.terminate()
        child.wait(timeout=30)


def wait_healthy(url: str, client: httpx.Client, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert child.poll() is None, f"the mock exited with {child.returncode}:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(httpx.ConnectError):
            if client.get(url + "/v1/health").status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"no healthy mock at {url}:\n{log.read_text()[-3000:]}")


def test_voxcontract_mock_serves_https(trusted: ThrowawayCA, untrusted: ThrowawayCA, tmp_path: Path) -> None:
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    log = tmp_path / "mock.log"
    with mock_process(port, trusted.issue("127.0.0.1"), log) as child, httpx.Client(verify=trusted.context()) as client:
        wait_healthy(url, client, child, log)

        headers = {"Authorization": "Bearer vox_test_key"}
        assert client.get(url + "/v1/webhooks/secret", headers=headers).status_code == 200
        for verify in (untrusted.context(), True):
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                httpx.get(url + "/v1/health", verify=verify)
    banner = log.read_text()
    assert f"VoxScriber mock server on https://127.0.0.1:{port}" in banner
    assert f"https://127.0.0.1:{port}/v1/ui/" in banner


# --- webhooks to HTTPS receivers -------------------------------------------------------------------------------------


@pytest.fixture
def vox(trusted: ThrowawayCA) -> Iterator[Harness]:
    with open_harness("in-process", ca_bundle=str(trusted.bundle)) as harness:
        yield harness


def settled_delivery(vox: Harness, receiver: WebhookReceiver) -> dict[str, Any]:
    """Start a job that reports to ``receiver``, end it, and wait for its one delivery to settle."""
    vox.job_id(webhook_url=receiver.public_url)
    vox.advance(1)
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        (delivery,) = vox.client.get("/__mock/webhooks").json()["deliveries"] or [{"state": "pending"}]
        if delivery["state"] != "pending":
            return dict(delivery)
        time.sleep(0.02)
    raise AssertionError("the delivery did not settle")


def test_webhook_to_a_receiver_the_ca_bundle_trusts_is_delivered(vox: Harness, trusted: ThrowawayCA) -> None:
    with https_receiver(trusted.issue("localhost")) as receiver:
        delivery = settled_delivery(vox, receiver)

        assert delivery["state"] == "delivered", delivery
        # The conformance receiver answers 500 to an event's first attempt, 200 to the next.
        assert [attempt["status_code"] for attempt in delivery["attempts"]] == [500, 200]
        assert [d.answered for d in receiver.deliveries()] == [500, 200]


@pytest.mark.parametrize(
    ("issuer", "identity", "refusal"),
    [
        ("untrusted", "localhost", "CERTIFICATE_VERIFY_FAILED"),
        ("trusted", "wrong.example", "Hostname mismatch"),
    ],
)
def test_webhook_to_a_receiver_with_a_refused_certificate_fails(
    vox: Harness, request: pytest.FixtureRequest, issuer: str, identity: str, refusal: str
) -> None:
    ca: ThrowawayCA = request.getfixturevalue(issuer)
    with https_receiver(ca.issue(identity)) as receiver:
        delivery = settled_delivery(vox, receiver)

        assert delivery["state"] == "failed", delivery
        assert len(delivery["attempts"]) == 4  # every attempt of the schedule, each refused
        for attempt in delivery["attempts"]:
            assert attempt["status_code"] is None
            assert refusal in attempt["error"]
        assert receiver.deliveries() == []  # no request got past the handshake
