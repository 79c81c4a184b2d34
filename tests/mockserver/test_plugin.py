"""The pytest plugin: as an integrator's test suite sees it (pytester) and used directly here (entry point)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mockserver.fixtures import speech_fixture
from mockserver.pytest_plugin import MockHandle
from mockserver.settings import DEFAULT_TEST_KEY
from voxcontract.webhooks import WebhookSigner

pytest_plugins = ["pytester"]

HELLO = speech_fixture("hello.wav")

INTEGRATOR_TEST = """
import time

import httpx
from mockserver.fixtures import speech_fixture


def wait_until_done(client, job_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/status/{job_id}").json()
        if job["status"] in ("completed", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_transcribes_the_recording(voxscriber_mock):
    hello = speech_fixture("hello.wav")
    with httpx.Client(base_url=voxscriber_mock.base_url, headers=voxscriber_mock.headers) as client:
        upload = client.post("/v1/upload", files={"file": (hello.file, hello.read_bytes(), hello.content_type)})
        assert upload.status_code == 201, upload.text
        started = client.post("/v1/transcribe", json={"file_id": upload.json()["file_id"]})
        assert started.status_code == 202, started.text
        job = wait_until_done(client, started.json()["job_id"])
        transcript = client.get(f"/v1/transcripts/{job['job_id']}", params={"format": "json"})
    assert job["status"] == "completed"
    assert job["transcript"] == hello.text
    assert transcript.json()["text"] == hello.text
"""


def start_and_wait(mock: MockHandle, *, webhook_url: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    upload = mock.client.post("/v1/upload", files={"file": (HELLO.file, HELLO.read_bytes(), HELLO.content_type)})
    assert upload.status_code == 201, upload.text
    body: dict[str, Any] = {"file_id": upload.json()["file_id"]}
    if webhook_url:
        body["webhook_url"] = webhook_url
    job_id = mock.client.post("/v1/transcribe", json=body).json()["job_id"]
    deadline = time.monotonic() + timeout
    while (job := mock.client.get(f"/v1/status/{job_id}").json())["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
    return dict(job)


# --- as integrators use it: a separate test run --------------------------------------------------------------


def test_integrator_suite_transcribes_a_fixture(pytester: pytest.Pytester) -> None:
    """A fresh pytest process: the entry point alone makes ``voxscriber_mock`` available."""
    pytester.makepyfile(test_integration=INTEGRATOR_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)


def test_session_scope_shares_one_server_and_resets_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvoxscriber_mock_scope = session\n")
    pytester.makepyfile(
        test_shared="""
        SEEN = []

        def test_first(voxscriber_mock):
            assert voxscriber_mock.client.get("/v1/jobs").status_code == 200
            SEEN.append(voxscriber_mock.base_url)

        def test_second(voxscriber_mock):
            assert voxscriber_mock.base_url == SEEN[0]
            assert voxscriber_mock.journal() == []
        """
    )

    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_function_scope_gives_each_test_its_own_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_own="""
        SEEN = set()

        def test_a(voxscriber_mock):
            SEEN.add(voxscriber_mock.base_url)

        def test_b(voxscriber_mock):
            SEEN.add(voxscriber_mock.base_url)
            assert len(SEEN) == 2
        """
    )

    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("ini", "args", "seed"),
    [("", ["--voxscriber-mock-seed=7"], 7), ("voxscriber_mock_seed = 11", [], 11), ("", [], 0)],
)
def test_seed_from_the_command_line_or_the_ini_file(
    pytester: pytest.Pytester, ini: str, args: list[str], seed: int
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(
        f"def test_seed(voxscriber_mock_settings):\n    assert voxscriber_mock_settings.seed == {seed}\n"
    )

    pytester.runpytest("-p", "no:cacheprovider", *args).assert_outcomes(passed=1)


def test_a_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvoxscriber_mock_scope = module\n")
    pytester.makepyfile("def test_x(voxscriber_mock):\n    pass\n")

    result = pytester.runpytest("-p", "no:cacheprovider")

    result.stderr.fnmatch_lines(["*voxscriber_mock_scope must be one of function, session*"])


def test_settings_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from mockserver.pytest_plugin import default_mock_settings

        @pytest.fixture(scope="session")
        def voxscriber_mock_settings(pytestconfig):
            return default_mock_settings(pytestconfig).replace(api_keys=("my-key",), processing_time=30.0)
        """
    )
    pytester.makepyfile(
        """
        def test_uses_them(voxscriber_mock):
            assert voxscriber_mock.api_key == "my-key"
            assert voxscriber_mock.settings.processing_time == 30.0
            assert voxscriber_mock.client.get("/v1/jobs").status_code == 200
        """
    )

    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_options_are_documented_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")

    result.stdout.fnmatch_lines(["*--voxscriber-mock-seed*", "*--voxscriber-mock-scope*", "*voxscriber_mock_seed*"])


# --- used directly (the plugin is active through its entry point) ---------------------------------------------


def test_handle_describes_the_running_mock(voxscriber_mock: MockHandle) -> None:
    assert voxscriber_mock.api_key == DEFAULT_TEST_KEY
    assert voxscriber_mock.headers == {"Authorization": f"Bearer {DEFAULT_TEST_KEY}"}
    assert voxscriber_mock.base_url.startswith("http://127.0.0.1:")
    assert voxscriber_mock.webhook_secret.startswith("whsec_")
    assert httpx.get(voxscriber_mock.url("/v1/health")).status_code == 200


def test_a_job_on_a_fixture_completes_with_its_true_text(voxscriber_mock: MockHandle) -> None:
    job = start_and_wait(voxscriber_mock)

    assert job["status"] == "completed"
    assert job["transcript"] == HELLO.text


def test_journal_records_requests_and_reset_forgets_them(voxscriber_mock: MockHandle) -> None:
    voxscriber_mock.client.get("/v1/jobs")

    assert [(e["method"], e["path"], e["status"]) for e in voxscriber_mock.journal()] == [("GET", "/v1/jobs", 200)]
    voxscriber_mock.reset()
    assert voxscriber_mock.journal() == []


def test_advance_moves_the_mock_clock_past_a_slow_job(voxscriber_mock: MockHandle) -> None:
    voxscriber_mock.set_scenario("slow")  # 10 x the plugin's 0.2 s
    upload = voxscriber_mock.client.post("/v1/upload", files={"file": (HELLO.file, HELLO.read_bytes())})
    job_id = voxscriber_mock.client.post("/v1/transcribe", json={"file_id": upload.json()["file_id"]}).json()["job_id"]
    before = voxscriber_mock.now()

    after = voxscriber_mock.advance(60)

    assert datetime.fromisoformat(after) - datetime.fromisoformat(before) >= timedelta(seconds=60)
    assert voxscriber_mock.client.get(f"/v1/status/{job_id}").json()["status"] == "completed"


def test_scenario_makes_jobs_fail(voxscriber_mock: MockHandle) -> None:
    assert "job-fails" in voxscriber_mock.scenarios()
    voxscriber_mock.set_scenario("job-fails")

    assert start_and_wait(voxscriber_mock)["status"] == "failed"
    voxscriber_mock.set_scenario(None)
    assert start_and_wait(voxscriber_mock)["status"] == "completed"


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A local HTTP endpoint that records every POST and answers 204."""
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()
    server.server_close()


def test_wait_for_webhooks_returns_signed_deliveries(
    voxscriber_mock: MockHandle, webhook_receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = webhook_receiver
    job = start_and_wait(voxscriber_mock, webhook_url=url)

    [delivery] = voxscriber_mock.wait_for_webhooks(1, timeout=10)

    assert (delivery["job_id"], delivery["state"], delivery["event_type"]) == (
        job["job_id"],
        "delivered",
        "transcription.completed",
    )
    headers, body = received[0]
    WebhookSigner(voxscriber_mock.webhook_secret).verify(body, headers)
    assert json.loads(body)["data"]["transcript"] == HELLO.text


def test_wait_for_webhooks_times_out_with_what_it_saw(voxscriber_mock: MockHandle) -> None:
    with pytest.raises(TimeoutError, match="expected 1 webhook deliveries"):
        voxscriber_mock.wait_for_webhooks(1, timeout=0.2)
