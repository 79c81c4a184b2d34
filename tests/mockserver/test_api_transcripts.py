"""Transcript downloads in every format, 409 before completion, delete-after-retrieval; secret and health."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mockserver.engine import FIXTURES_DIR, load_manifest
from mockserver.settings import MockSettings
from mockserver.state import MockState
from tests.mockserver.support import OTHER_KEY, Harness, assert_problem, auth, make_wav
from voxcontract.auth import key_fingerprint
from voxcontract.webhooks import WebhookSigner


def completed_job(vox: Harness, **options: Any) -> str:
    job_id = vox.job_id(vox.file_id(make_wav(6.0)), **options)
    vox.advance(3600)
    return job_id


def test_json_transcript(vox: Harness) -> None:
    job_id = completed_job(vox, timestamps="word")

    response = vox.transcript(job_id)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == f'attachment; filename="{job_id}.json"'
    body = response.json()
    job = vox.status(job_id).json()
    assert body["job_id"] == job_id
    assert (body["text"], body["segments"]) == (job["transcript"], job["segments"])
    assert all(segment["words"] for segment in body["segments"])


@pytest.mark.parametrize(
    ("fmt", "media_type", "extension", "start"),
    [
        ("text", "text/plain", "txt", ""),
        ("srt", "application/x-subrip", "srt", "1\n00:00:"),
        ("vtt", "text/vtt", "vtt", "WEBVTT\n\n00:00:"),
    ],
)
def test_text_formats(vox: Harness, fmt: str, media_type: str, extension: str, start: str) -> None:
    job_id = completed_job(vox, diarization=True)

    response = vox.transcript(job_id, fmt)

    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["content-disposition"] == f'attachment; filename="{job_id}.{extension}"'
    assert response.text.startswith(start)
    if fmt != "text":
        assert "[SPEAKER_1]" in response.text
        assert "[SPEAKER_2]" in response.text
    else:
        assert response.text == vox.status(job_id).json()["transcript"] + "\n"


def test_timestamps_none_still_downloads_subtitles(vox: Harness) -> None:
    job_id = completed_job(vox, timestamps="none")

    assert vox.status(job_id).json()["segments"] == []
    srt = vox.transcript(job_id, "srt").text
    assert srt.startswith("1\n00:00:00,000 --> 00:00:06,000\n")


def test_transcript_before_completion_is_409(vox: Harness) -> None:
    job_id = vox.job_id()

    body = assert_problem(vox.transcript(job_id), 409, "job_not_completed")

    assert "queued" in body["detail"]
    vox.advance(0.5)
    assert "processing" in assert_problem(vox.transcript(job_id), 409, "job_not_completed")["detail"]


def test_unknown_transcript_is_404(vox: Harness) -> None:
    assert_problem(vox.transcript("job_unknown0000"), 404, "not_found")


def test_bad_format_is_400(vox: Harness) -> None:
    job_id = completed_job(vox)

    assert_problem(vox.transcript(job_id, "docx"), 400, "invalid_request")


def test_delete_after_retrieval(vox: Harness) -> None:
    file_id = vox.file_id()
    job_id = vox.job_id(file_id, retention={"delete_after_retrieval": True})
    vox.advance(3600)
    assert vox.status(job_id).status_code == 200  # reading the status does not count

    assert vox.transcript(job_id, "srt").status_code == 200

    assert_problem(vox.transcript(job_id), 404, "not_found")
    assert_problem(vox.status(job_id), 404, "not_found")
    assert_problem(vox.client.get(f"/v1/files/{file_id}", headers=auth()), 404, "not_found")


def test_delete_after_retrieval_keeps_the_job_while_not_completed(vox: Harness) -> None:
    job_id = vox.job_id(retention={"delete_after_retrieval": True})

    assert_problem(vox.transcript(job_id), 409, "job_not_completed")

    assert vox.status(job_id).status_code == 200


def test_manifest_fixtures_get_their_known_text(vox: Harness) -> None:
    manifest = load_manifest()
    assert manifest, "mockserver/fixtures/manifest.json ships with the mock and lists its recordings"
    for entry in manifest.values():
        job_id = vox.job_id(vox.file_id((FIXTURES_DIR / entry.file).read_bytes(), entry.file))
        vox.advance(3600)
        assert vox.transcript(job_id, "text").text == entry.text.strip() + "\n"


def test_webhook_secret_is_per_key_and_seed(vox: Harness) -> None:
    mine = vox.client.get("/v1/webhooks/secret", headers=auth()).json()
    again = vox.client.get("/v1/webhooks/secret", headers=auth()).json()
    theirs = vox.client.get("/v1/webhooks/secret", headers=auth(OTHER_KEY)).json()

    assert mine == again
    assert mine["algorithm"] == "HMAC-SHA256"
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{24,}", mine["secret"])
    assert mine["secret"] != theirs["secret"]
    WebhookSigner(mine["secret"])  # a usable secret
    other_seed = MockState(MockSettings(seed=99))
    assert other_seed.webhook_secret(key_fingerprint("test-key-alpha")) != mine["secret"]


def test_webhook_secret_needs_a_key(vox: Harness) -> None:
    assert_problem(vox.client.get("/v1/webhooks/secret"), 401, "unauthorized")


def test_health(vox: Harness) -> None:
    response = vox.client.get("/v1/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "ratelimit" not in response.headers
