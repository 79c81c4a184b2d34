"""The same contract tests against both implementations, the mock and the reference server, through one parametrised
fixture: the guide's own client, answers validated by openapi-core, the same problem for the same mistake.

(The conformance suite runs against both too: tests/conformance/test_suite_mock.py and
tests/reference_impl/test_conformance.py.)
"""

from __future__ import annotations

import shutil
import tempfile
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core.testing import MockRequest, MockResponse

from mockserver.fixtures import speech_fixture
from mockserver.pytest_plugin import default_mock_settings, running_mock
from tests.media_factory import write_tone
from tests.mockserver.test_guide_flow import GUIDE_EXAMPLE, adapt
from tests.reference_impl.support import KEY_A, KEY_B, serve_reference
from tests.reference_impl.wer import edit_distance, words
from voxcontract.spec import load_spec, openapi_core_spec

CONTRACT = openapi_core_spec()
HOST_URL = load_spec()["servers"][0]["url"]
WEATHER = speech_fixture("weather.mp3")
#: Both servers run with a one-minute media limit, so that "too long" needs only a small file.
MAX_MEDIA_SECONDS = 60.0


def _media_bytes(name: str, write: Callable[[Path], Path]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return write(Path(folder) / name).read_bytes()


def _wav_header_claiming(rate: int) -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(b"\x00\x01" * 68_000)
        return path

    return write


@dataclass(frozen=True)
class Server:
    kind: str
    url: str
    key: str
    other_key: str

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=60)


@pytest.fixture(scope="module", params=["mock", "reference"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if request.param == "mock":
        settings = default_mock_settings().replace(
            api_keys=(KEY_A, KEY_B), processing_time=0.3, max_media_seconds=MAX_MEDIA_SECONDS
        )
        with running_mock(settings) as mock:
            yield Server("mock", mock.base_url, KEY_A, KEY_B)
    else:
        with serve_reference(tmp_path_factory.mktemp("reference"), max_media_seconds=MAX_MEDIA_SECONDS) as reference:
            yield Server("reference", reference.url, KEY_A, KEY_B)


def conforms(response: httpx.Response) -> httpx.Response:
    """Validate one answer against the contract (status, headers, body) with openapi-core; return it."""
    request = MockRequest(HOST_URL, response.request.method.lower(), response.request.url.path)
    content_type = response.headers.get("content-type", "").split(";")[0]
    mock = MockResponse(
        response.content, status_code=response.status_code, headers=dict(response.headers), content_type=content_type
    )
    CONTRACT.validate_response(request, mock)
    return response


def wait(client: httpx.Client, job_id: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, object] = conforms(client.get(f"/v1/status/{job_id}")).json()
        if job["status"] in ("completed", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_the_guides_client_works_unchanged(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(WEATHER.path, tmp_path / "audio.mp3")
    monkeypatch.chdir(tmp_path)
    exec(compile(adapt(GUIDE_EXAMPLE, server.url, server.key), "guide.py", "exec"), {"__name__": "__main__"})
    printed = words(capsys.readouterr().out)
    truth = words(WEATHER.text)
    # The mock prints the fixture's true text; the reference what Whisper hears (4.8 % WER when measured).
    assert edit_distance(truth, printed) / len(truth) <= (0.0 if server.kind == "mock" else 0.15)


def test_a_whole_lifecycle_conforms(server: Server) -> None:
    with server.client() as client:
        with WEATHER.path.open("rb") as media:
            file = conforms(client.post("/v1/upload", files={"file": ("weather.mp3", media, "audio/mpeg")})).json()
        assert file["content_type"] == "audio/mpeg"
        conforms(client.get(f"/v1/files/{file['file_id']}"))
        started = conforms(client.post("/v1/transcribe", json={"file_id": file["file_id"], "timestamps": "word"}))
        assert started.status_code == 202
        job = wait(client, started.json()["job_id"])
        assert job["status"] == "completed"
        for fmt in ("json", "text", "srt", "vtt"):
            conforms(client.get(f"/v1/transcripts/{job['job_id']}", params={"format": fmt}))
        listed = conforms(client.get("/v1/jobs", params={"limit": 1})).json()
        assert listed["data"][0]["job_id"] == job["job_id"]
        conforms(client.get("/v1/webhooks/secret"))
        assert conforms(client.delete(f"/v1/jobs/{job['job_id']}")).status_code == 204
        assert conforms(client.delete(f"/v1/files/{file['file_id']}")).status_code == 204


JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Mistake:
    name: str
    method: str
    path: str
    options: dict[str, Any]
    status: int
    code: str
    authenticated: bool = True


MISTAKES = [
    Mistake("no key", "GET", "/v1/jobs", {}, 401, "unauthorized", authenticated=False),
    Mistake("unknown job", "GET", "/v1/status/job_doesnotexist0000000", {}, 404, "not_found"),
    Mistake("broken JSON", "POST", "/v1/transcribe", {"content": b"{", "headers": JSON}, 400, "malformed_body"),
    Mistake(
        "not UTF-8", "POST", "/v1/transcribe", {"content": b'{"a": "\xff"}', "headers": JSON}, 400, "malformed_body"
    ),
    Mistake(
        "wrong type",
        "POST",
        "/v1/transcribe",
        {"content": b"file_id=x", "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported_content_type",
    ),
    Mistake("extra field", "POST", "/v1/transcribe", {"json": {"file_id": "f", "x": 1}}, 400, "invalid_request"),
    Mistake(
        "bad language",
        "POST",
        "/v1/transcribe",
        {"json": {"file_id": "f", "language": "english"}},
        400,
        "invalid_request",
    ),
    Mistake(
        "undecodable",
        "POST",
        "/v1/upload",
        {"files": {"file": ("x.wav", b"no", "audio/wav")}},
        400,
        "unsupported_media",
    ),
    Mistake(
        "8 Hz header",
        "POST",
        "/v1/upload",
        {"files": {"file": ("claim.wav", _media_bytes("c.wav", _wav_header_claiming(8)), "audio/wav")}},
        400,
        "unsupported_media",
    ),
    Mistake(
        "too long",
        "POST",
        "/v1/upload",
        {"files": {"file": ("long.ogg", _media_bytes("l.ogg", lambda p: write_tone(p, 61.0)), "audio/ogg")}},
        400,
        "media_too_long",
    ),
    Mistake("private URL", "POST", "/v1/upload", {"json": {"url": "http://10.0.0.1/a.wav"}}, 400, "url_not_allowed"),
    Mistake("bad cursor", "GET", "/v1/jobs?cursor=bm9wZQ", {}, 400, "invalid_request"),
    Mistake(
        "long metadata key",
        "POST",
        "/v1/transcribe",
        {"json": {"file_id": "file_doesnotexist0000", "metadata": {"k" * 65: "v"}}},
        400,
        "invalid_request",
    ),
    Mistake(
        "long metadata value",
        "POST",
        "/v1/transcribe",
        {"json": {"file_id": "file_doesnotexist0000", "metadata": {"k": "v" * 513}}},
        400,
        "invalid_request",
    ),
    Mistake(
        "17 metadata keys",
        "POST",
        "/v1/transcribe",
        {"json": {"file_id": "file_doesnotexist0000", "metadata": {f"k{i}": "v" for i in range(17)}}},
        400,
        "invalid_request",
    ),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[mistake.name for mistake in MISTAKES])
def test_the_same_mistake_gets_the_same_problem(server: Server, mistake: Mistake) -> None:
    client = server.client() if mistake.authenticated else httpx.Client(base_url=server.url, timeout=30)
    with client:
        response = conforms(client.request(mistake.method, mistake.path, **mistake.options))
    assert response.status_code == mistake.status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == mistake.code
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_keys_see_only_their_own_jobs(server: Server) -> None:
    with server.client() as owner, server.client(server.other_key) as other:
        with WEATHER.path.open("rb") as media:
            file_id = owner.post("/v1/upload", files={"file": ("w.mp3", media, "audio/mpeg")}).json()["file_id"]
        job_id = owner.post("/v1/transcribe", json={"file_id": file_id}).json()["job_id"]
        assert conforms(other.get(f"/v1/status/{job_id}")).status_code == 404
        assert conforms(other.get(f"/v1/files/{file_id}")).status_code == 404
        assert job_id not in {job["job_id"] for job in other.get("/v1/jobs").json()["data"]}
        wait(owner, job_id)


# Where the contract was silent, both servers now answer alike (issue 9): a file a job needs, an idempotency key
# reused with an invalid body, retention of a shared file.


def _upload_weather(client: httpx.Client) -> str:
    with WEATHER.path.open("rb") as media:
        file_id: str = conforms(client.post("/v1/upload", files={"file": ("w.mp3", media, "audio/mpeg")})).json()[
            "file_id"
        ]
    return file_id


def test_a_file_that_a_queued_job_needs_cannot_be_deleted(server: Server) -> None:
    with server.client() as client:
        file_id = _upload_weather(client)
        job_id = conforms(client.post("/v1/transcribe", json={"file_id": file_id})).json()["job_id"]
        refused = conforms(client.delete(f"/v1/files/{file_id}"))
        assert (refused.status_code, refused.json()["code"]) == (409, "file_in_use"), refused.text
        assert job_id in refused.json()["detail"]
        assert wait(client, job_id)["status"] == "completed"
        assert conforms(client.delete(f"/v1/files/{file_id}")).status_code == 204
        # A job that ended keeps its transcript after its file is gone.
        assert conforms(client.get(f"/v1/transcripts/{job_id}", params={"format": "text"})).status_code == 200


def test_an_idempotency_key_reused_with_an_invalid_body_is_a_conflict(server: Server) -> None:
    headers = {"Idempotency-Key": f"reuse-{server.kind}"}
    with server.client() as client:
        file_id = _upload_weather(client)
        first = conforms(client.post("/v1/transcribe", json={"file_id": file_id}, headers=headers)).json()
        for invalid in ({"file_id": file_id, "language": "fr"}, {"file_id": "file_doesnotexist0000"}):
            reused = conforms(client.post("/v1/transcribe", json=invalid, headers=headers))
            assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused"), reused.text
        wait(client, first["job_id"])
        assert client.delete(f"/v1/files/{file_id}").status_code == 204
        # The same body again: the earlier job, although its file is gone since.
        replayed = conforms(client.post("/v1/transcribe", json={"file_id": file_id}, headers=headers))
        assert (replayed.status_code, replayed.json()["job_id"]) == (202, first["job_id"])


def test_delete_after_retrieval_keeps_a_file_that_another_job_needs(server: Server) -> None:
    once = {"retention": {"delete_after_retrieval": True}}
    with server.client() as client:
        file_id = _upload_weather(client)
        first = conforms(client.post("/v1/transcribe", json={"file_id": file_id, **once})).json()["job_id"]
        wait(client, first)
        # The mock's "slow" scenario keeps the second job running; the reference needs longer than the download.
        second = client.post("/v1/transcribe", json={"file_id": file_id}, headers={"Prefer": "scenario=slow"})
        assert conforms(client.get(f"/v1/transcripts/{first}")).status_code == 200
        assert conforms(client.get(f"/v1/status/{first}")).status_code == 404
        assert conforms(client.get(f"/v1/files/{file_id}")).status_code == 200, "the second job's file was deleted"
        assert wait(client, second.json()["job_id"])["status"] == "completed"
        # Once no other job needs it, the file goes with the job that asked.
        third = conforms(client.post("/v1/transcribe", json={"file_id": file_id, **once})).json()["job_id"]
        wait(client, third)
        assert conforms(client.get(f"/v1/transcripts/{third}")).status_code == 200
        assert conforms(client.get(f"/v1/files/{file_id}")).status_code == 404
