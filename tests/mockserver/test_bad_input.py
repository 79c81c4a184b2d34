"""Bad input is a 4xx problem, never a 500: broken bodies, wrong types, oversize uploads, odd path bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.mockserver.support import Harness, auth, make_wav

JSON = {"Content-Type": "application/json"}


def assert_client_error(response: httpx.Response, *statuses: int) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text}"
    if statuses:
        assert response.status_code in statuses, response.text
    if response.request.method != "HEAD":
        assert response.headers["content-type"].startswith("application/problem+json"), response.headers
        assert response.json()["status"] == response.status_code


@pytest.mark.parametrize(
    "content",
    [
        b'{"url": "\xff\xfe"}',  # not UTF-8
        b'{"url": ',
        b"[1, 2",
        b"\x00\x01\x02",
        b'{"url": "https://x.test/a.mp3", "url": 5}',
        b'"just a string"',
        b"null",
    ],
)
def test_broken_json_uploads(vox: Harness, content: bytes) -> None:
    assert_client_error(vox.client.post("/v1/upload", headers=auth(**JSON), content=content), 400)


@pytest.mark.parametrize(
    "content",
    [b'{"file_id": "file_8Yq2Lw5ZtB3nK7cD"', b"\xff", b"[]", b"{}", b'{"file_id": 5}', b'{"file_id": null}'],
)
def test_broken_transcription_requests(vox: Harness, content: bytes) -> None:
    assert_client_error(vox.client.post("/v1/transcribe", headers=auth(**JSON), content=content), 400)


@pytest.mark.parametrize(
    "content",
    [
        b"--XX\r\nContent-Disposition: form-data; name=file; filename=a.wav\r\n\r\nabc",
        b"garbage without any boundary",
        b"--XX\r\nno-colon-header\r\n\r\nabc\r\n--XX--\r\n",
        b"--XX--\r\n",
        b"--XX\r\nContent-Disposition: form-data; name=other\r\n\r\nabc\r\n--XX--\r\n",
        b"--XX\r\nContent-Disposition: form-data; name=file\r\n\r\nno filename\r\n--XX--\r\n",
        b"--XX\r\nContent-Disposition: form-data; name=file; filename=a.wav\r\n\r\nnot audio\r\n--XX--\r\n",
    ],
)
def test_malformed_multipart(vox: Harness, content: bytes) -> None:
    headers = auth(**{"Content-Type": "multipart/form-data; boundary=XX"})
    assert_client_error(vox.client.post("/v1/upload", headers=headers, content=content), 400)


def test_multipart_without_boundary(vox: Harness) -> None:
    headers = auth(**{"Content-Type": "multipart/form-data"})
    assert_client_error(vox.client.post("/v1/upload", headers=headers, content=b"abc"), 400)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/upload", "text/plain"),
        ("/v1/upload", "application/xml"),
        ("/v1/transcribe", "multipart/form-data; boundary=X"),
        ("/v1/transcribe", "text/plain"),
        ("/v1/upload", "application/x-www-form-urlencoded"),
    ],
)
def test_wrong_content_types_are_415(vox: Harness, path: str, content_type: str) -> None:
    response = vox.client.post(path, headers=auth(**{"Content-Type": content_type}), content=b"hello")
    assert_client_error(response, 415)
    assert response.json()["code"] == "unsupported_content_type"


def test_missing_body_is_400(vox: Harness) -> None:
    assert_client_error(vox.client.post("/v1/transcribe", headers=auth()), 400, 415)


def test_declared_oversize_upload_is_413(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(max_upload_bytes=4096)

    response = vox.upload(make_wav(2.0))

    assert_client_error(response, 413)
    assert response.json()["code"] == "payload_too_large"
    assert vox.state.files == {}


def test_streamed_oversize_upload_is_413(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(max_upload_bytes=4096)

    def chunks() -> Iterator[bytes]:
        yield b"--XX\r\nContent-Disposition: form-data; name=file; filename=a.wav\r\n\r\n"
        yield make_wav(2.0)
        yield b"\r\n--XX--\r\n"

    headers = auth(**{"Content-Type": "multipart/form-data; boundary=XX"})
    assert_client_error(vox.client.post("/v1/upload", headers=headers, content=chunks()), 413)


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/v1/status/%00",
        b"/v1/status/job_%00aaaaaaaa",
        b"/v1/status/job_%0Aaaaaaaaa",
        b"/v1/status/%0A",
        b"/v1/status/%ff%fe",
        b"/v1/status/job_%ffaaaaaaaa",
        b"/v1/files/file_" + b"a" * 5000,
        b"/v1/transcripts/job_" + b"b" * 300 + b"?format=srt",
        b"/v1/jobs/%2e%2e%2f%2e%2e",
        b"/v1/files/..%2F..%2Fetc%2Fpasswd",
        b"/v1/jobs?limit=%00",
        b"/v1/jobs?cursor=%ff",
        b"/v1/jobs?status=%0A",
        b"/v1/status/job_aaaaaaaa%20",
        b"/v1/%00",
    ],
)
def test_odd_path_bytes_are_4xx(vox: Harness, raw_path: bytes) -> None:
    # The client's own URL class: Starlette's TestClient is built on httpx2 when that is installed.
    url = type(vox.client.base_url)(str(vox.client.base_url)).copy_with(raw_path=raw_path)
    for method in ("GET", "DELETE"):
        response = vox.client.request(method, url, headers=auth())
        assert_client_error(response)


def test_odd_admin_input(vox: Harness) -> None:
    assert_client_error(vox.client.post("/__mock/clock/advance", json={"seconds": -1}), 400)
    assert_client_error(vox.client.post("/__mock/clock/advance", json={"seconds": "soon"}), 400)
    assert_client_error(vox.client.post("/__mock/clock/advance", content=b"\xff", headers=JSON), 400)
    assert_client_error(vox.client.put("/__mock/scenario", json={"scenario": 5}), 400)
    assert_client_error(vox.client.put("/__mock/scenario", json={}), 400)
    assert_client_error(vox.client.get("/__mock/%00"), 404)
    assert_client_error(vox.client.delete("/__mock/reset"), 405)


def test_odd_headers(vox: Harness) -> None:
    file_id = vox.file_id()
    bad_key = {"Idempotency-Key": "has spaces"}
    assert_client_error(vox.start(file_id, headers=bad_key), 400)
    assert_client_error(vox.client.get("/v1/jobs", headers={"Authorization": "Bearer " + "k" * 600}), 401)
    latin1_key = [(b"Authorization", "Bearer \u00ff".encode("latin-1"))]
    assert_client_error(vox.client.get("/v1/jobs", headers=latin1_key), 401)
    weird_prefer = vox.client.get("/v1/jobs", headers=auth(Prefer=";;;,,=,code==,example=,scenario="))
    assert weird_prefer.status_code == 200
