"""The reference server's API over real HTTP: uploads streamed to disk, jobs, listing, idempotency, deletion and
retention (media gone from disk), tenants, and the clear 4xx problems for what it cannot do."""

from __future__ import annotations

import contextlib
import wave
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_impl.app import create_app
from reference_impl.db import utcnow
from reference_impl.pipeline import TranscriptionPipeline, build_pipeline
from tests.reference_impl.support import (
    KEY_A,
    KEY_B,
    RunningReference,
    reference_settings,
    serve_reference,
    start_job,
    transcribe,
    upload,
    upload_traced,
    wait_for_job,
)
from tests.reference_impl.test_media_store import unwritable
from voxcontract.serving import BackgroundServer

HELLO = Path("mockserver/fixtures/hello.wav")
PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


def media_files(server: RunningReference) -> set[Path]:
    """The media files on disk (incoming ones included)."""
    root = server.data_dir / "media"
    return {path for path in root.rglob("*") if path.is_file() and path.name != ".lock"}


def silent_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\0\0" * int(seconds * rate))
    return path


# Uploads


def test_a_multipart_upload_is_stored_probed_and_readable(reference: RunningReference) -> None:
    with reference.client() as client:
        before = media_files(reference)
        file = upload(client, HELLO, "audio/wav")
        assert file["filename"] == "hello.wav"
        assert file["content_type"] == "audio/wav"
        assert file["size_bytes"] == HELLO.stat().st_size
        assert 4.0 < file["duration_seconds"] < 4.5
        stored = media_files(reference) - before
        assert len(stored) == 1
        assert next(iter(stored)).read_bytes() == HELLO.read_bytes()
        again = client.get(f"/v1/files/{file['file_id']}")
        assert again.status_code == 200
        assert again.json() == file


def test_a_chunked_upload_without_content_length_is_streamed(reference: RunningReference) -> None:
    boundary = "vox-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="hello.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    data = HELLO.read_bytes()

    def body() -> Iterator[bytes]:
        yield head
        for offset in range(0, len(data), 10_000):
            yield data[offset : offset + 10_000]
        yield f"\r\n--{boundary}--\r\n".encode()

    with reference.client() as client:
        response = client.post(
            "/v1/upload", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == len(data)


@pytest.mark.parametrize(
    ("files", "code", "words"),
    [
        ({"file": ("noise.wav", b"this is not audio", "audio/wav")}, "unsupported_media", "decodable"),
        ({"file": ("empty.wav", b"", "audio/wav")}, "unsupported_media", "decodable"),
        ({"other": ("x.wav", HELLO.read_bytes(), "audio/wav")}, "invalid_request", "'other'"),
        ({"file": (None, b"plain field")}, "invalid_request", "filename"),
    ],
)
def test_bad_multipart_uploads_are_problems_and_leave_nothing(
    reference: RunningReference, files: dict[str, Any], code: str, words: str
) -> None:
    before = media_files(reference)
    with reference.client() as client:
        body = problem(client.post("/v1/upload", files=files), 400, code)
    assert words in body["detail"]
    assert media_files(reference) == before


def test_two_file_parts_and_broken_multipart_are_refused(reference: RunningReference) -> None:
    before = media_files(reference)
    with reference.client() as client:
        two = [("file", ("a.wav", HELLO.read_bytes(), "audio/wav")), ("file", ("b.wav", b"x", "audio/wav"))]
        problem(client.post("/v1/upload", files=two), 400, "invalid_request")
        truncated = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF'
        headers = {"Content-Type": "multipart/form-data; boundary=b"}
        problem(client.post("/v1/upload", content=truncated, headers=headers), 400, "malformed_body")
        no_boundary = {"Content-Type": "multipart/form-data"}
        problem(client.post("/v1/upload", content=b"--x--", headers=no_boundary), 400, "malformed_body")
        problem(client.post("/v1/upload", content=b"--b--\r\n", headers=headers), 400, "invalid_request")
    assert media_files(reference) == before


def test_uploads_over_the_limit_are_413_declared_or_streamed(tmp_path: Path) -> None:
    big = silent_wav(tmp_path / "big.wav", seconds=40)  # 1.28 MB
    with serve_reference(tmp_path / "data", max_upload_bytes=1_000_000, workers=0) as server, server.client() as client:
        before = media_files(server)
        with big.open("rb") as media:
            declared = client.post("/v1/upload", files={"file": ("big.wav", media, "audio/wav")})
        problem(declared, 413, "payload_too_large")
        data = big.read_bytes()
        head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
        chunks = iter([head, *(data[i : i + 65536] for i in range(0, len(data), 65536)), b"\r\n--b--\r\n"])
        streamed = client.post(
            "/v1/upload", content=chunks, headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
        problem(streamed, 413, "payload_too_large")
        assert media_files(server) == before


def test_a_large_upload_is_not_held_in_memory(tmp_path: Path) -> None:
    """40 MB through the real server in this process: the peak of Python allocations stays far below the body."""
    big = silent_wav(tmp_path / "long.wav", seconds=1250)  # 40 MB
    with serve_reference(tmp_path / "data", workers=0) as server, server.client() as client:
        response, peak = upload_traced(client, big)
    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == big.stat().st_size
    assert peak < 12_000_000, f"peak {peak / 1e6:.1f} MB of Python allocations for a 40 MB upload"


# Jobs


def test_a_job_is_queued_then_completed_with_the_transcript(reference: RunningReference) -> None:
    with reference.client() as client:
        file = upload(client, HELLO)
        response = client.post(
            "/v1/transcribe", json={"file_id": file["file_id"], "timestamps": "word", "metadata": {"ticket": "T-1"}}
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert response.headers["location"] == f"/v1/status/{accepted['job_id']}"
        assert accepted["status"] in ("queued", "processing")
        assert response.headers["retry-after"]
        job = wait_for_job(client, accepted["job_id"])
        assert job["status"] == "completed", job
        assert job["metadata"] == {"ticket": "T-1"}
        assert job["progress"] == 1.0
        assert "welcome" in job["transcript"].lower()
        assert job["language"] == "en"
        assert job["segments"]
        assert all(segment["words"] for segment in job["segments"])
        transcript = client.get(f"/v1/transcripts/{job['job_id']}")
        assert transcript.status_code == 200
        assert transcript.json()["text"] == job["transcript"]
        assert transcript.json()["segments"] == job["segments"]
        for fmt, marker in (("text", "welcome"), ("srt", "-->"), ("vtt", "WEBVTT")):
            rendered = client.get(f"/v1/transcripts/{job['job_id']}", params={"format": fmt})
            assert rendered.status_code == 200, rendered.text
            assert marker in (rendered.text.lower() if fmt == "text" else rendered.text)


def test_timestamps_none_gives_no_segments(reference: RunningReference) -> None:
    with reference.client() as client:
        job = transcribe(client, HELLO, timestamps="none")
    assert job["status"] == "completed"
    assert job["transcript"]
    assert job["segments"] == []


def test_what_the_deployment_cannot_do_is_a_422(reference: RunningReference, tmp_path: Path) -> None:
    with reference.client() as client:
        file = upload(client, HELLO)
        body = problem(
            client.post("/v1/transcribe", json={"file_id": file["file_id"], "language": "de"}),
            422,
            "language_not_supported",
        )
        assert "English-only" in body["detail"]
        problem(client.post("/v1/transcribe", json={"file_id": "file_doesnotexist0000000"}), 404, "not_found")
    settings = reference_settings(tmp_path, workers=0)
    without_diarization = TranscriptionPipeline(build_pipeline(settings).transcriber, None)
    app = create_app(settings, pipeline=without_diarization)
    app.deployment.keys.ensure(KEY_A, "test")
    with BackgroundServer(app) as server:
        client = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY_A}"})
        file_id = client.post("/v1/upload", files={"file": ("h.wav", HELLO.read_bytes())}).json()["file_id"]
        response = client.post("/v1/transcribe", json={"file_id": file_id, "diarization": True})
        body = problem(response, 422, "diarization_unavailable")
        assert "voxcontract[diarization]" in body["detail"]
    app.deployment.close()


def test_idempotency_key_replays_the_job_and_refuses_another_body(reference: RunningReference) -> None:
    with reference.client() as client:
        file_id = upload(client, HELLO)["file_id"]
        headers = {"Idempotency-Key": "order-77"}
        first = client.post("/v1/transcribe", json={"file_id": file_id}, headers=headers)
        again = client.post("/v1/transcribe", json={"file_id": file_id}, headers=headers)
        assert first.status_code == again.status_code == 202
        assert first.json()["job_id"] == again.json()["job_id"]
        other = client.post("/v1/transcribe", json={"file_id": file_id, "language": "en"}, headers=headers)
        problem(other, 409, "idempotency_key_reused")
        wait_for_job(client, first.json()["job_id"])


def test_jobs_are_listed_newest_first_by_pages_and_per_key(tmp_path: Path) -> None:
    with serve_reference(tmp_path, workers=0) as server, server.client() as client:
        file_id = upload(client, HELLO)["file_id"]
        made = [start_job(client, file_id)["job_id"] for _ in range(3)]
        first = client.get("/v1/jobs", params={"limit": 2}).json()
        assert [job["job_id"] for job in first["data"]] == made[::-1][:2]
        assert first["has_more"] is True
        second = client.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [job["job_id"] for job in second["data"]] == made[:1]
        assert second["has_more"] is False
        assert second["next_cursor"] is None
        assert client.get("/v1/jobs", params={"status": "completed"}).json()["data"] == []
        problem(client.get("/v1/jobs", params={"cursor": "bm90LW91cnM"}), 400, "invalid_request")
        # A queued job has no transcript yet.
        problem(client.get(f"/v1/transcripts/{made[0]}"), 409, "job_not_completed")
        with server.client(KEY_B) as other:
            assert other.get("/v1/jobs").json()["data"] == []
            problem(other.get(f"/v1/status/{made[0]}"), 404, "not_found")
            problem(other.get(f"/v1/files/{file_id}"), 404, "not_found")
            problem(other.delete(f"/v1/jobs/{made[0]}"), 404, "not_found")


def test_a_job_whose_media_vanished_from_disk_fails_with_a_code(tmp_path: Path) -> None:
    with serve_reference(tmp_path, workers=0) as server, server.client() as client:
        before = media_files(server)
        file_id = upload(client, HELLO)["file_id"]
        job_id = start_job(client, file_id)["job_id"]
        problem(client.delete(f"/v1/files/{file_id}"), 409, "file_in_use")
        (stored,) = media_files(server) - before
        stored.unlink()  # an operator's mistake (the API refuses to delete a file a job needs)
        server.app.runtime.runner(job_id)  # what a consumer thread does with the announcement
        job = client.get(f"/v1/status/{job_id}").json()
        assert job["status"] == "failed"
        assert job["error"]["code"] == "not_found"
        assert file_id in job["error"]["message"]
        problem(client.get(f"/v1/transcripts/{job_id}"), 409, "job_not_completed")


# Deletion and retention: the media is gone from disk


def test_delete_file_removes_the_media_from_disk(reference: RunningReference) -> None:
    with reference.client() as client:
        before = media_files(reference)
        file_id = upload(client, HELLO)["file_id"]
        (stored,) = media_files(reference) - before
        assert client.delete(f"/v1/files/{file_id}").status_code == 204
        assert not stored.exists()
        problem(client.get(f"/v1/files/{file_id}"), 404, "not_found")
        problem(client.delete(f"/v1/files/{file_id}"), 404, "not_found")


def test_an_unwritable_media_store_answers_503_and_keeps_nothing_half_done(reference: RunningReference) -> None:
    media = reference.data_dir / "media"
    with reference.client() as client:
        before = media_files(reference)
        file_id = upload(client, HELLO)["file_id"]
        (stored,) = media_files(reference) - before
        kept = media_files(reference)
        with contextlib.ExitStack() as read_only:
            for folder in [media, *(path for path in media.rglob("*") if path.is_dir())]:
                read_only.enter_context(unwritable(folder))
            refused = problem(client.delete(f"/v1/files/{file_id}"), 503, "service_unavailable")
            assert "nothing was deleted" in refused["detail"]
            assert client.get(f"/v1/files/{file_id}").status_code == 200, "the row went without its media"
            with HELLO.open("rb") as audio:
                response = client.post("/v1/upload", files={"file": ("hello.wav", audio, "audio/wav")})
            problem(response, 503, "service_unavailable")
            assert response.headers["Retry-After"].isdigit()
            assert media_files(reference) == kept
        assert client.delete(f"/v1/files/{file_id}").status_code == 204  # the retry completes
        assert not stored.exists()


def test_delete_job_forgets_it_and_keeps_the_file(reference: RunningReference) -> None:
    with reference.client() as client:
        file_id = upload(client, HELLO)["file_id"]
        job = transcribe(client, HELLO)
        assert client.delete(f"/v1/jobs/{job['job_id']}").status_code == 204
        problem(client.get(f"/v1/status/{job['job_id']}"), 404, "not_found")
        assert job["job_id"] not in {item["job_id"] for item in client.get("/v1/jobs").json()["data"]}
        assert client.get(f"/v1/files/{file_id}").status_code == 200


def test_delete_after_retrieval_removes_job_and_media(reference: RunningReference) -> None:
    with reference.client() as client:
        before = media_files(reference)
        file_id = upload(client, HELLO)["file_id"]
        (stored,) = media_files(reference) - before
        job_id = start_job(client, file_id, retention={"delete_after_retrieval": True})["job_id"]
        assert wait_for_job(client, job_id)["status"] == "completed"
        assert stored.exists()
        assert client.get(f"/v1/transcripts/{job_id}").status_code == 200
        assert not stored.exists()
        problem(client.get(f"/v1/status/{job_id}"), 404, "not_found")
        problem(client.get(f"/v1/files/{file_id}"), 404, "not_found")


def test_ttl_retention_purges_job_and_media(reference: RunningReference) -> None:
    with reference.client() as client:
        before = media_files(reference)
        file_id = upload(client, HELLO)["file_id"]
        (stored,) = media_files(reference) - before
        job_id = start_job(client, file_id, retention={"ttl_seconds": 60})["job_id"]
        assert wait_for_job(client, job_id)["status"] == "completed"
        maintenance = reference.app.runtime.maintenance
        assert maintenance.purge(now=utcnow() + timedelta(seconds=30)) == 0
        assert stored.exists()
        assert maintenance.purge(now=utcnow() + timedelta(seconds=61)) >= 1
        assert not stored.exists()
        problem(client.get(f"/v1/status/{job_id}"), 404, "not_found")
        problem(client.get(f"/v1/files/{file_id}"), 404, "not_found")


def test_the_basics_of_the_contract(reference: RunningReference) -> None:
    with httpx.Client(base_url=reference.url) as anonymous:
        assert anonymous.get("/v1/health").json()["status"] == "ok"
        response = anonymous.get("/v1/jobs")
        problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        problem(anonymous.get("/v1/jobs", headers={"Authorization": "Bearer vox_unknown"}), 401, "unauthorized")
        assert anonymous.get("/v1/ui/").status_code == 200
    with reference.client() as client:
        secret = client.get("/v1/webhooks/secret").json()
        assert secret["secret"].startswith("whsec_")
        assert secret["algorithm"] == "HMAC-SHA256"
        with reference.client(KEY_B) as other:
            assert other.get("/v1/webhooks/secret").json()["secret"] != secret["secret"]


# Fair work across keys


def test_one_keys_backlog_does_not_starve_another_keys_job(tmp_path: Path) -> None:
    with (
        serve_reference(tmp_path, workers=1) as server,
        server.client(KEY_A) as owner_a,
        server.client(KEY_B) as owner_b,
    ):
        backlog_file, short_file = upload(owner_a, HELLO)["file_id"], upload(owner_b, HELLO)["file_id"]
        backlog = [start_job(owner_a, backlog_file)["job_id"] for _ in range(6)]
        short = wait_for_job(owner_b, start_job(owner_b, short_file)["job_id"])
        finished = [wait_for_job(owner_a, job_id) for job_id in backlog]
    assert short["status"] == "completed"
    ended = datetime.fromisoformat(short["completed_at"])
    before = [job["job_id"] for job in finished if datetime.fromisoformat(job["completed_at"]) < ended]
    # One job thread: the backlog's first job may be running when key B asks; B's job is next, not seventh.
    assert len(before) <= 2, before
