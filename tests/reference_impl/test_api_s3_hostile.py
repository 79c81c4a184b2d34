"""Hostile clients, origins and stores against the reference server with its media in a real S3 server (SeaweedFS):
uploads at and around the multipart part size, empty and cut-off bodies, clients that stall and go away, URL
uploads that redirect, break off or run past the limit, an object deleted behind the server's back, and a store
that is gone (a SeaweedFS of the test's own, killed). Whatever happens, the answer is a 4xx or a 503 problem, a job
ends with an error code, and nothing is left in the bucket."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from reference_impl.media_store.s3 import PART_BYTES
from tests.reference_impl import test_api_s3
from tests.reference_impl.seaweedfs import SeaweedFS
from tests.reference_impl.support import KEY_A, RunningReference, serve_reference, start_job, upload, wait_for_job
from tests.reference_impl.test_api import HELLO, problem
from tests.reference_impl.test_api_s3 import PREFIX, Bucket
from voxcontract.serving import BackgroundServer

#: The module's server: media in s3://<bucket>/media, uploads limited to three parts, private URLs allowed.
s3_reference = test_api_s3.s3_reference
LIMIT = 3 * PART_BYTES
BOUNDARY = "hostile"
#: How long a test waits for something that happens at once on a right server (bounded, not a timing claim).
PATIENCE = 20.0


def u8_wav(size: int) -> bytes:
    """A valid WAV (8-bit mono PCM, 16 kHz) of exactly ``size`` bytes (``size >= 44``): any byte count is a
    whole number of samples."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(1)
        writer.setframerate(16_000)
        writer.writeframes(b"\x80" * (size - 44))
    data = buffer.getvalue()
    assert len(data) == size
    return data


def part_head(filename: str = "hostile.wav") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()


CLOSING = f"\r\n--{BOUNDARY}--\r\n".encode()
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def object_digest(bucket: Bucket, key: str) -> str:
    body = bucket.server.client().get_object(Bucket=bucket.name, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def raw_connection(server: RunningReference) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=PATIENCE)


def request_head(content_length: int) -> bytes:
    return (
        f"POST /v1/upload HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {KEY_A}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


def status_line(connection: socket.socket) -> bytes:
    answer = b""
    while b"\r\n" not in answer:
        chunk = connection.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer.split(b"\r\n", 1)[0]


# --- uploads --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [PART_BYTES - 1, PART_BYTES, PART_BYTES + 1, 2 * PART_BYTES],
    ids=["part-minus-1", "exactly-a-part", "part-plus-1", "exactly-two-parts"],
)
def test_uploads_at_the_part_size_are_stored_byte_for_byte(
    s3_reference: tuple[RunningReference, Bucket], size: int
) -> None:
    server, bucket = s3_reference
    media = u8_wav(size)
    with server.client() as client:
        before = set(bucket.media())
        response = client.post("/v1/upload", files={"file": ("edge.wav", media, "audio/wav")})
        assert response.status_code == 201, response.text
        assert response.json()["size_bytes"] == size
        (key,) = set(bucket.media()) - before
        assert object_digest(bucket, key) == hashlib.sha256(media).hexdigest()
        assert bucket.leftovers() == []
        assert client.delete(f"/v1/files/{response.json()['file_id']}").status_code == 204
        assert key not in bucket.media()


def test_an_empty_upload_is_refused_and_leaves_nothing(s3_reference: tuple[RunningReference, Bucket]) -> None:
    server, bucket = s3_reference
    with server.client() as client:
        before = bucket.media()
        problem(client.post("/v1/upload", files={"file": ("empty.wav", b"", "audio/wav")}), 400, "unsupported_media")
        assert bucket.media() == before
        bucket.wait_for("nothing incoming left", lambda: bucket.leftovers() == [], PATIENCE)


def test_concurrent_multipart_uploads_do_not_mix(s3_reference: tuple[RunningReference, Bucket]) -> None:
    server, bucket = s3_reference
    bodies = [u8_wav(PART_BYTES + 4096 * (index + 1)) for index in range(3)]

    def send(media: bytes) -> dict[str, Any]:
        with server.client() as client:
            response = client.post("/v1/upload", files={"file": ("together.wav", media, "audio/wav")})
            assert response.status_code == 201, response.text
            body: dict[str, Any] = response.json()
            return body

    before = set(bucket.media())
    with ThreadPoolExecutor(len(bodies)) as pool:
        files = list(pool.map(send, bodies))
    assert sorted(file["size_bytes"] for file in files) == sorted(len(media) for media in bodies)
    stored = {object_digest(bucket, key) for key in set(bucket.media()) - before}
    assert stored == {hashlib.sha256(media).hexdigest() for media in bodies}
    assert bucket.leftovers() == []
    with server.client() as client:
        for file in files:
            assert client.delete(f"/v1/files/{file['file_id']}").status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        part_head() + b"\0" * 1000,
        part_head() + b"\0" * (PART_BYTES + 65_536),
        part_head() + u8_wav(PART_BYTES + 65_536) + f"\r\n--{BOUNDARY}\r\n".encode(),
    ],
    ids=["small-cut-in-its-data", "cut-after-a-part-was-sent", "cut-after-the-file-part-ended"],
)
def test_a_body_cut_before_its_closing_boundary_is_refused_and_leaves_nothing(
    s3_reference: tuple[RunningReference, Bucket], body: bytes
) -> None:
    server, bucket = s3_reference
    with server.client() as client:
        before = bucket.media()
        problem(client.post("/v1/upload", content=body, headers=MULTIPART), 400, "malformed_body")
        assert bucket.media() == before
        bucket.wait_for("nothing incoming left", lambda: bucket.leftovers() == [], PATIENCE)


def test_a_second_file_part_after_a_stored_first_is_refused_and_the_first_goes(
    s3_reference: tuple[RunningReference, Bucket],
) -> None:
    """The first part is a completed multipart upload by the time the second begins: it must be deleted."""
    server, bucket = s3_reference
    body = part_head("one.wav") + u8_wav(PART_BYTES + 4096) + b"\r\n" + part_head("two.wav") + b"\0" * 100 + CLOSING
    with server.client() as client:
        before = bucket.media()
        problem(client.post("/v1/upload", content=body, headers=MULTIPART), 400, "invalid_request")
        assert bucket.media() == before
        bucket.wait_for("nothing incoming left", lambda: bucket.leftovers() == [], PATIENCE)


@pytest.mark.parametrize("sent", [1000, PART_BYTES + 65_536], ids=["before-any-part", "after-a-part"])
def test_a_client_that_stalls_then_goes_away_leaves_nothing(
    s3_reference: tuple[RunningReference, Bucket], sent: int
) -> None:
    server, bucket = s3_reference
    before = bucket.media()
    with raw_connection(server) as connection:
        connection.sendall(request_head(2 * PART_BYTES) + part_head())
        for offset in range(0, sent, 65_536):
            connection.sendall(b"\0" * min(65_536, sent - offset))
        if sent > PART_BYTES:
            bucket.wait_for("a multipart upload under way", lambda: bucket.server.pending_uploads(bucket.name))
        time.sleep(0.3)  # the stall: the server waits for the rest, holding what it has
    bucket.wait_for("nothing left after the client went away", lambda: bucket.leftovers() == [], PATIENCE)
    assert bucket.media() == before


def test_a_declared_length_over_the_limit_is_refused_unread(s3_reference: tuple[RunningReference, Bucket]) -> None:
    server, bucket = s3_reference
    with raw_connection(server) as connection:
        connection.sendall(request_head(LIMIT + 1) + part_head() + b"\0" * 1000)
        assert status_line(connection).startswith(b"HTTP/1.1 413")
    assert bucket.leftovers() == []


def test_a_chunked_body_over_the_limit_is_refused_and_its_parts_go(
    s3_reference: tuple[RunningReference, Bucket],
) -> None:
    server, bucket = s3_reference

    def chunks() -> Iterator[bytes]:
        yield part_head()
        for _ in range(LIMIT // 65_536 + 2):
            yield b"\0" * 65_536
        yield CLOSING

    with server.client() as client:
        before = bucket.media()
        problem(client.post("/v1/upload", content=chunks(), headers=MULTIPART), 413, "payload_too_large")
        assert bucket.media() == before
        bucket.wait_for("nothing incoming left", lambda: bucket.leftovers() == [], PATIENCE)


# --- URL uploads ----------------------------------------------------------------------------------------------


def hostile_origin() -> Starlette:
    """An origin that redirects, breaks off mid-body, streams past the limit, declares too much, or fails."""
    media = u8_wav(PART_BYTES + 65_536)

    async def whole(_: Request) -> Response:
        return Response(media, media_type="audio/wav")

    async def hop(request: Request) -> Response:
        left = int(request.path_params["left"])
        return RedirectResponse(f"/hop/{left - 1}" if left > 1 else "/whole.wav", status_code=302)

    async def cut(_: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for offset in range(0, PART_BYTES + 65_536, 65_536):
                yield media[offset : offset + 65_536]
            raise ConnectionError("the origin goes away mid-body")

        return StreamingResponse(body(), media_type="audio/wav", headers={"Content-Length": str(len(media) * 2)})

    async def endless(_: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(LIMIT // 65_536 + 2):
                yield b"\0" * 65_536

        return StreamingResponse(body(), media_type="audio/wav")

    async def declared(_: Request) -> Response:
        return Response(b"", media_type="audio/wav", headers={"Content-Length": str(LIMIT + 1)})

    async def broken(_: Request) -> Response:
        return Response("no", status_code=500)

    routes = [("/whole.wav", whole), ("/hop/{left}", hop), ("/cut.wav", cut), ("/endless.wav", endless)]
    routes += [("/declared.wav", declared), ("/broken.wav", broken)]
    return Starlette(routes=[Route(path, endpoint) for path, endpoint in routes])


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with BackgroundServer(hostile_origin()) as site:
        yield site.base_url


def test_a_url_upload_through_redirects_stores_the_final_body_once(
    s3_reference: tuple[RunningReference, Bucket], origin: str
) -> None:
    server, bucket = s3_reference
    with server.client() as client:
        before = set(bucket.media())
        response = client.post("/v1/upload", json={"url": f"{origin}/hop/3"})
        assert response.status_code == 201, response.text
        (key,) = set(bucket.media()) - before
        assert object_digest(bucket, key) == hashlib.sha256(u8_wav(PART_BYTES + 65_536)).hexdigest()
        assert bucket.leftovers() == []
        assert client.delete(f"/v1/files/{response.json()['file_id']}").status_code == 204


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/cut.wav", 400, "url_fetch_failed"),
        ("/endless.wav", 413, "payload_too_large"),
        ("/declared.wav", 413, "payload_too_large"),
        ("/broken.wav", 400, "url_fetch_failed"),
        ("/hop/9", 400, "url_fetch_failed"),
    ],
    ids=["cut-after-a-part", "chunked-past-the-limit", "declared-past-the-limit", "origin-500", "too-many-redirects"],
)
def test_a_failed_url_upload_is_a_4xx_and_leaves_nothing(
    s3_reference: tuple[RunningReference, Bucket], origin: str, path: str, status: int, code: str
) -> None:
    server, bucket = s3_reference
    with server.client() as client:
        before = bucket.media()
        problem(client.post("/v1/upload", json={"url": f"{origin}{path}"}), status, code)
        assert bucket.media() == before
        bucket.wait_for("nothing incoming left", lambda: bucket.leftovers() == [], PATIENCE)


# --- deleting, and objects that vanish ------------------------------------------------------------------------


def test_a_job_whose_object_was_deleted_behind_the_server_fails_not_found(
    s3_reference: tuple[RunningReference, Bucket],
) -> None:
    server, bucket = s3_reference
    with server.client() as client:
        before = set(bucket.media())
        file_id = upload(client, HELLO, "audio/wav")["file_id"]
        (key,) = set(bucket.media()) - before
        bucket.server.client().delete_object(Bucket=bucket.name, Key=key)
        job = wait_for_job(client, start_job(client, file_id)["job_id"], timeout=60)
        assert job["status"] == "failed", job
        assert job["error"]["code"] == "not_found", job
        assert client.delete(f"/v1/files/{file_id}").status_code == 204  # deleting a missing object succeeds


def test_a_file_deleted_twice_at_once_is_deleted_once(
    s3_reference: tuple[RunningReference, Bucket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first DELETE is held in the store (its row deleted, its transaction open) while the second comes in:
    the second must find no file (404), not delete it again (204)."""
    server, bucket = s3_reference
    with server.client() as client:
        before = set(bucket.media())
        file_id = upload(client, HELLO, "audio/wav")["file_id"]
        (key,) = set(bucket.media()) - before
    store = server.app.deployment.media
    delete_object: Callable[..., Any] = store.client.delete_object  # type: ignore[attr-defined]
    deleting, go_on = threading.Event(), threading.Event()

    def held_delete(**arguments: Any) -> Any:
        if not deleting.is_set():
            deleting.set()
            go_on.wait(PATIENCE)
        return delete_object(**arguments)

    monkeypatch.setattr(store.client, "delete_object", held_delete)  # type: ignore[attr-defined]

    def delete() -> int:
        with server.client() as client:
            return client.delete(f"/v1/files/{file_id}").status_code

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(delete)
        assert deleting.wait(PATIENCE)
        second = pool.submit(delete)
        time.sleep(0.5)  # lets the second DELETE read the file and wait for the first's transaction
        go_on.set()
        statuses = sorted([first.result(), second.result()])
    assert statuses == [204, 404], "one DELETE deletes; the other finds no file"
    assert key not in bucket.media()


def test_a_slow_delete_in_the_store_does_not_stall_other_requests(
    s3_reference: tuple[RunningReference, Bucket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused upload's incoming object is deleted while the refusal is answered; a store slow to delete (a
    congested or unreachable S3: botocore retries for seconds) must hold up that request only, not the server."""
    server, bucket = s3_reference
    store = server.app.deployment.media
    delete_object: Callable[..., Any] = store.client.delete_object  # type: ignore[attr-defined]
    deleting, go_on = threading.Event(), threading.Event()

    def slow_delete(**arguments: Any) -> Any:
        deleting.set()
        go_on.wait(PATIENCE)
        return delete_object(**arguments)

    monkeypatch.setattr(store.client, "delete_object", slow_delete)  # type: ignore[attr-defined]

    def refused_upload() -> int:
        with server.client() as client:
            return client.post("/v1/upload", files={"file": ("x.wav", b"\x01" * 5000, "audio/wav")}).status_code

    with ThreadPoolExecutor(1) as pool:
        refused = pool.submit(refused_upload)
        try:
            assert deleting.wait(PATIENCE), "the refused upload's incoming object was never deleted"
            with server.client(timeout=5) as client:
                answered = client.get("/v1/files/file_doesnotexist0000000")
            problem(answered, 404, "not_found")
        except httpx.TimeoutException:
            pytest.fail("the server answered nothing while the store was deleting: the event loop was blocked")
        finally:
            go_on.set()
        assert refused.result() == 400
    bucket.wait_for("nothing incoming left", lambda: bucket.leftovers() == [], PATIENCE)


# --- the store gone -------------------------------------------------------------------------------------------


@pytest.fixture
def doomed_store(tmp_path: Path) -> Iterator[tuple[RunningReference, SeaweedFS]]:
    """A server whose media is in a SeaweedFS of its own (the test kills it); one attempt per job, short leases."""
    with pytest.MonkeyPatch.context() as environment:
        # weed takes AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from its environment as an identity of its own: the
        # session store's, set for this module's server, would replace this store's key (SignatureDoesNotMatch)
        for name in SeaweedFS().env():
            environment.delenv(name, raising=False)
        store = SeaweedFS().start()
    try:
        with pytest.MonkeyPatch.context() as environment:
            for name, value in store.env().items():
                environment.setenv(name, value)
            bucket = store.new_bucket()
            settings = {"media_url": f"s3://{bucket}/{PREFIX}", "allow_private_urls": True}
            with serve_reference(tmp_path / "data", lease_seconds=2.0, max_attempts=1, **settings) as server:
                yield server, store
    finally:
        store.stop()


def test_a_store_that_is_gone_is_a_503_never_a_500_and_its_jobs_wait_for_it(
    doomed_store: tuple[RunningReference, SeaweedFS], origin: str
) -> None:
    server, store = doomed_store
    with server.client() as client:
        file_id, spare_id = (upload(client, HELLO, "audio/wav")["file_id"] for _ in range(2))
    store.kill()  # kill -9: every request to the store is refused until it is back

    def attempt(action: str) -> httpx.Response:
        with server.client() as client:
            if action == "small upload":
                return client.post("/v1/upload", files={"file": ("hello.wav", HELLO.read_bytes(), "audio/wav")})
            if action == "multipart upload":
                return client.post("/v1/upload", files={"file": ("big.wav", u8_wav(PART_BYTES + 1), "audio/wav")})
            if action == "URL upload":
                return client.post("/v1/upload", json={"url": f"{origin}/whole.wav"})
            return client.delete(f"/v1/files/{spare_id}")

    with server.client() as client:
        job_id = start_job(client, file_id)["job_id"]  # the job table is not the store: accepted
        actions = ["small upload", "multipart upload", "URL upload", "delete"]
        with ThreadPoolExecutor(len(actions)) as pool:
            answers = dict(zip(actions, pool.map(attempt, actions), strict=True))
        for action, response in answers.items():
            assert response.status_code == 503, f"{action}: {response.status_code} {response.text}"
            problem(response, 503, "service_unavailable")
            assert response.headers["Retry-After"].isdigit(), action
        assert client.get(f"/v1/files/{spare_id}").status_code == 200  # the failed delete kept the file
        # An outage is not the media's fault: the job goes back to the queue, attempt after attempt (past
        # max_attempts=1), and never fails while the store is away
        deadline = time.monotonic() + 3 * server.app.settings.lease_seconds
        while time.monotonic() < deadline:
            assert client.get(f"/v1/status/{job_id}").json()["status"] in ("queued", "processing")
            time.sleep(0.2)
        store.start()  # back, with its data
        job = wait_for_job(client, job_id, timeout=90)
        assert job["status"] == "completed", job
        assert "welcome" in job["transcript"].lower()
        assert client.delete(f"/v1/files/{spare_id}").status_code == 204  # the retry completes
