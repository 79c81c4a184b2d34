"""Uploads (multipart and URL), file metadata, deletion and tenant isolation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.media_factory import write_tone
from tests.mockserver.support import OTHER_KEY, Harness, assert_problem, auth, make_wav

FILE_ID = re.compile(r"^file_[A-Za-z0-9]{8,64}$")


def test_multipart_upload_is_probed_and_stored(vox: Harness) -> None:
    response = vox.upload(make_wav(3.0), "meeting.wav")

    assert response.status_code == 201
    body = response.json()
    assert FILE_ID.match(body["file_id"])
    assert response.headers["location"] == f"/v1/files/{body['file_id']}"
    assert body["filename"] == "meeting.wav"
    assert body["content_type"] == "audio/wav"
    assert body["size_bytes"] == len(make_wav(3.0))
    assert body["duration_seconds"] == pytest.approx(3.0)
    assert body["created_at"] == "2026-01-01T00:00:00Z"
    assert body["expires_at"] == "2026-01-08T00:00:00Z"


@pytest.mark.parametrize(
    ("name", "content_type"), [("a.mp3", "audio/mpeg"), ("a.ogg", "audio/ogg"), ("v.mp4", "video/mp4")]
)
def test_other_containers_are_probed(vox: Harness, tmp_path: Path, name: str, content_type: str) -> None:
    media = write_tone(tmp_path / name, 1.0, video=name.startswith("v"))

    response = vox.upload(media.read_bytes(), name)

    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == content_type
    assert response.json()["duration_seconds"] == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("data", [b"not audio at all", b"RIFF\x00\x00\x00\x00WAVE", b""])
def test_undecodable_upload_is_400_unsupported_media(vox: Harness, data: bytes) -> None:
    response = vox.upload(data, "broken.wav")

    assert_problem(response, 400, "unsupported_media")
    assert vox.state.files == {}
    assert list(vox.state.media.root.iterdir()) == []  # nothing left behind


@pytest.mark.parametrize(
    ("sent", "kept"), [("../../etc/passwd.wav", "passwd.wav"), ("C:\\Users\\me\\talk.wav", "talk.wav"), ("...", "...")]
)
def test_filenames_are_cleaned(vox: Harness, sent: str, kept: str) -> None:
    response = vox.upload(make_wav(1.0), sent)

    assert response.json()["filename"] == kept


def test_file_part_without_a_filename_is_400(vox: Harness) -> None:
    response = vox.client.post("/v1/upload", headers=auth(), files={"file": ("", make_wav(1.0), "audio/wav")})

    assert_problem(response, 400, "invalid_request")


def test_url_upload_is_synthesised_deterministically(vox: Harness) -> None:
    first = vox.upload_url("https://media.example.com/shows/episode-12.mp3").json()
    second = vox.upload_url("https://media.example.com/shows/episode-12.mp3").json()
    other = vox.upload_url("https://media.example.com/shows/episode-13.mp3").json()

    assert first["filename"] == "episode-12.mp3"
    assert first["content_type"] == "audio/wav"
    assert 2.0 <= first["duration_seconds"] <= 20.0
    assert (first["duration_seconds"], first["size_bytes"]) == (second["duration_seconds"], second["size_bytes"])
    assert first["file_id"] != second["file_id"]
    assert (other["duration_seconds"], other["size_bytes"]) != (first["duration_seconds"], first["size_bytes"])


def test_url_upload_with_a_name_and_without_a_path(vox: Harness) -> None:
    named = vox.upload_url("https://media.example.com/raw/7f3a9c", filename="board-meeting.m4a")
    bare = vox.upload_url("https://media.example.com")

    assert named.status_code == bare.status_code == 201
    assert named.json()["filename"] == "board-meeting.m4a"
    assert bare.json()["filename"] == "download"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/a.mp3",
        "http://127.0.0.1:8080/a.mp3",
        "http://10.1.2.3/a.mp3",
        "http://[::1]/a.mp3",
        "http://169.254.169.254/latest",
        "http://192.168.0.1/a.wav",
    ],
)
def test_private_urls_are_refused(vox: Harness, url: str) -> None:
    assert_problem(vox.upload_url(url), 400, "url_not_allowed")


@pytest.mark.parametrize("url", ["ftp://example.com/a.mp3", "not a url", "https://" + "a" * 2100])
def test_invalid_urls_are_400(vox: Harness, url: str) -> None:
    assert_problem(vox.upload_url(url), 400, "invalid_request")


def test_get_and_delete_a_file(vox: Harness) -> None:
    uploaded = vox.upload().json()
    file_id = uploaded["file_id"]

    fetched = vox.client.get(f"/v1/files/{file_id}", headers=auth())
    assert (fetched.status_code, fetched.json()) == (200, uploaded)

    deleted = vox.client.delete(f"/v1/files/{file_id}", headers=auth())
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_problem(vox.client.get(f"/v1/files/{file_id}", headers=auth()), 404, "not_found")
    assert_problem(vox.client.delete(f"/v1/files/{file_id}", headers=auth()), 404, "not_found")
    assert not vox.state.media.path(file_id).exists()


def test_files_of_another_key_are_404(vox: Harness) -> None:
    file_id = vox.file_id()

    assert_problem(vox.client.get(f"/v1/files/{file_id}", headers=auth(OTHER_KEY)), 404, "not_found")
    assert_problem(vox.client.delete(f"/v1/files/{file_id}", headers=auth(OTHER_KEY)), 404, "not_found")
    assert_problem(vox.start(file_id, OTHER_KEY), 404, "not_found")
    assert vox.client.get(f"/v1/files/{file_id}", headers=auth()).status_code == 200


def test_unknown_and_malformed_file_ids(vox: Harness) -> None:
    assert_problem(vox.client.get("/v1/files/file_unknown0000", headers=auth()), 404, "not_found")
    assert_problem(vox.client.get("/v1/files/not-a-file", headers=auth()), 400, "invalid_request")


def test_files_expire_after_a_week_of_mock_time(vox: Harness) -> None:
    file_id = vox.file_id()

    vox.advance(7 * 24 * 3600 - 1)
    assert vox.client.get(f"/v1/files/{file_id}", headers=auth()).status_code == 200
    vox.advance(1)
    assert_problem(vox.client.get(f"/v1/files/{file_id}", headers=auth()), 404, "not_found")


def test_upload_needs_a_key(vox: Harness) -> None:
    response = vox.client.post("/v1/upload", files={"file": ("a.wav", make_wav(1.0), "audio/wav")})

    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
