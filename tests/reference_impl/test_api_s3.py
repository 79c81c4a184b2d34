"""The reference server with its media in a real S3 server (SeaweedFS, ``media_url = s3://bucket/media``), over real
HTTP: uploads streamed into multipart uploads, interrupted and refused uploads that leave nothing in the bucket, URL
uploads, jobs whose workers read the media by ranges, deletion and retention removing the objects."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route

from reference_impl.db import utcnow
from reference_impl.media_store.s3 import PART_BYTES
from tests.reference_impl.seaweedfs import SeaweedFS
from tests.reference_impl.support import (
    RunningReference,
    serve_reference,
    start_job,
    upload,
    upload_traced,
    wait_for_job,
)
from tests.reference_impl.test_api import HELLO, problem, silent_wav
from voxcontract.serving import BackgroundServer

PREFIX = "media/"


class Bucket:
    """The bucket the server under test keeps its media in, seen from outside."""

    def __init__(self, server: SeaweedFS, name: str) -> None:
        self.server, self.name = server, name

    def media(self) -> list[str]:
        return [key for key in self.server.objects(self.name, PREFIX) if "/.incoming/" not in key]

    def leftovers(self) -> list[str]:
        """Incoming objects and multipart uploads: what a finished or refused upload must not leave."""
        return self.server.objects(self.name, PREFIX + ".incoming/") + self.server.pending_uploads(self.name)

    def wait_for(self, condition: str, check: object, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():  # type: ignore[operator]
            assert time.monotonic() < deadline, f"{condition}: not after {timeout} s ({self.leftovers()})"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def s3_reference(
    seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningReference, Bucket]]:
    bucket = seaweedfs.new_bucket()
    with pytest.MonkeyPatch.context() as environment:
        for name, value in seaweedfs.env().items():
            environment.setenv(name, value)
        data = tmp_path_factory.mktemp("s3-reference")
        settings = {"media_url": f"s3://{bucket}/media", "max_upload_bytes": 3 * PART_BYTES, "allow_private_urls": True}
        with serve_reference(data, **settings) as server:
            yield server, Bucket(seaweedfs, bucket)


def test_an_upload_is_an_object_and_its_job_reads_it_from_the_bucket(
    s3_reference: tuple[RunningReference, Bucket],
) -> None:
    server, bucket = s3_reference
    with server.client() as client:
        before = set(bucket.media())
        file = upload(client, HELLO, "audio/wav")
        (key,) = set(bucket.media()) - before
        assert key.endswith(".wav")
        assert bucket.leftovers() == []
        assert not list((server.data_dir / "media").rglob("*.wav")), "the media went to the data dir"
        job = wait_for_job(client, start_job(client, file["file_id"], timestamps="word")["job_id"])
        assert job["status"] == "completed", job
        assert "welcome" in job["transcript"].lower()
        assert client.delete(f"/v1/jobs/{job['job_id']}").status_code == 204
        assert client.delete(f"/v1/files/{file['file_id']}").status_code == 204
        assert key not in bucket.media()


def test_a_large_upload_is_sent_in_parts_and_never_held_whole(
    s3_reference: tuple[RunningReference, Bucket], tmp_path: Path
) -> None:
    server, bucket = s3_reference
    big = silent_wav(tmp_path / "long.wav", seconds=2 * PART_BYTES / 32_000 + 10)  # 2 parts and a bit
    with server.client() as client:
        response, peak = upload_traced(client, big)
        assert response.status_code == 201, response.text
        assert response.json()["size_bytes"] == big.stat().st_size
        assert response.json()["duration_seconds"] == pytest.approx(2 * PART_BYTES / 32_000 + 10, abs=0.01)
        assert bucket.leftovers() == []
        assert client.delete(f"/v1/files/{response.json()['file_id']}").status_code == 204
    # client and server share this process: one part buffered, the client's own reads
    assert peak < 3.5 * PART_BYTES, f"peak {peak / 1e6:.1f} MB of Python allocations for {big.stat().st_size} bytes"


def test_an_upload_cut_off_midway_leaves_no_object_and_no_pending_upload(
    s3_reference: tuple[RunningReference, Bucket],
) -> None:
    server, bucket = s3_reference
    before = bucket.media()
    host, port = server.url.removeprefix("http://").split(":")
    body_head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="cut.wav"\r\n\r\n'
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/upload HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer vox_test_key_a\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            + f"Content-Length: {2 * PART_BYTES}\r\n\r\n".encode()
            + body_head
        )
        sent = 0
        while sent < PART_BYTES + 1024 * 1024:  # more than one part: a multipart upload is under way
            connection.sendall(b"\0" * 65536)
            sent += 65536
        bucket.wait_for("a multipart upload under way", lambda: bucket.server.pending_uploads(bucket.name))
    bucket.wait_for("nothing left after the client went away", lambda: bucket.leftovers() == [])
    assert bucket.media() == before


def test_refused_uploads_leave_nothing_in_the_bucket(s3_reference: tuple[RunningReference, Bucket]) -> None:
    server, bucket = s3_reference
    with server.client() as client:
        before = bucket.media()
        not_media = client.post("/v1/upload", files={"file": ("x.wav", b"\x01" * 70_000, "audio/wav")})
        problem(not_media, 400, "unsupported_media")
        head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        chunks = iter([head, *(b"\0" * 65536 for _ in range(3 * PART_BYTES // 65536 + 1)), b"\r\n--b--\r\n"])
        too_large = client.post(
            "/v1/upload", content=chunks, headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
        problem(too_large, 413, "payload_too_large")
        assert bucket.media() == before
        bucket.wait_for("nothing incoming left", lambda: bucket.leftovers() == [])


def test_a_url_upload_is_written_into_the_bucket(s3_reference: tuple[RunningReference, Bucket]) -> None:
    server, bucket = s3_reference
    site = Starlette(routes=[Route("/talk.wav", lambda _: FileResponse(HELLO, media_type="audio/wav"))])
    with BackgroundServer(site) as origin, server.client() as client:
        before = set(bucket.media())
        response = client.post("/v1/upload", json={"url": f"{origin.base_url}/talk.wav"})
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "talk.wav"
        (key,) = set(bucket.media()) - before
        assert bucket.server.client().get_object(Bucket=bucket.name, Key=key)["Body"].read() == HELLO.read_bytes()
        assert bucket.leftovers() == []
        missing = client.post("/v1/upload", json={"url": f"{origin.base_url}/missing.wav"})
        problem(missing, 400, "url_fetch_failed")
        assert set(bucket.media()) == {key} | before


def test_retention_removes_the_object(s3_reference: tuple[RunningReference, Bucket]) -> None:
    server, bucket = s3_reference
    with server.client() as client:
        before = set(bucket.media())
        file_id = upload(client, HELLO, "audio/wav")["file_id"]
        (key,) = set(bucket.media()) - before
        job_id = start_job(client, file_id, retention={"ttl_seconds": 60})["job_id"]
        assert wait_for_job(client, job_id)["status"] == "completed"
        assert server.app.runtime.maintenance.purge(now=utcnow() + timedelta(seconds=61)) >= 1
        assert key not in bucket.media()
        problem(client.get(f"/v1/files/{file_id}"), 404, "not_found")
