"""Jobs: start, lifecycle on the mock clock, idempotency, listing with cursors and filters, deletion, retention."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.mockserver.support import OTHER_KEY, Harness, assert_problem, auth, make_wav
from voxcontract.spec import load_spec

JOB_ID = re.compile(r"^job_[A-Za-z0-9]{8,64}$")
DEFAULT_OPTIONS = {
    "language": "auto",
    "timestamps": "segment",
    "diarization": False,
    "speakers_expected": None,
    "webhook_url": None,
    "retention": {"delete_after_retrieval": False, "ttl_seconds": None},
}


def test_start_answers_202_with_the_queued_job(vox: Harness) -> None:
    file_id = vox.file_id()

    response = vox.start(file_id)

    assert response.status_code == 202
    job = response.json()
    assert JOB_ID.match(job["job_id"])
    assert response.headers["location"] == f"/v1/status/{job['job_id']}"
    assert int(response.headers["retry-after"]) >= 1
    assert (job["status"], job["progress"], job["file_id"]) == ("queued", 0, file_id)
    assert job["created_at"] == job["updated_at"] == "2026-01-01T00:00:00Z"
    assert job["options"] == DEFAULT_OPTIONS
    assert job["metadata"] == {}
    assert "transcript" not in job
    assert "completed_at" not in job


def test_every_option_is_echoed(vox: Harness) -> None:
    options: dict[str, Any] = {
        "language": "de",
        "timestamps": "word",
        "diarization": True,
        "speakers_expected": 3,
        "webhook_url": "https://hooks.example.com/voxscriber",
        "retention": {"delete_after_retrieval": True, "ttl_seconds": 86400},
    }

    job = vox.start(vox.file_id(), metadata={"customer": "acme"}, **options).json()

    assert job["options"] == options
    assert job["metadata"] == {"customer": "acme"}


def test_lifecycle_follows_the_manual_clock(vox: Harness) -> None:
    job_id = vox.job_id(vox.file_id(make_wav(4.0)))
    seen: list[tuple[str, float, str | None]] = []

    for _ in range(12):
        response = vox.status(job_id)
        body = response.json()
        seen.append((body["status"], body["progress"], response.headers.get("retry-after")))
        vox.advance(0.1)

    statuses = [status for status, _, _ in seen]
    progress = [value for _, value, _ in seen]
    assert statuses[0] == "queued"
    assert "processing" in statuses
    assert statuses[-1] == "completed"
    assert statuses.index("processing") < statuses.index("completed")
    assert progress == sorted(progress)
    assert progress[-1] == 1
    assert all(retry is not None and int(retry) >= 1 for status, _, retry in seen if status != "completed")
    assert all(retry is None for status, _, retry in seen if status == "completed")


def test_completed_job_carries_its_transcript(vox: Harness) -> None:
    job_id = vox.job_id(vox.file_id(make_wav(4.0)))

    job = vox.completed(job_id)

    assert job["status"] == "completed"
    assert job["completed_at"] == job["updated_at"] == "2026-01-01T00:00:01Z"
    assert job["transcript"]
    assert job["language"] == "en"
    assert 0.8 <= job["language_probability"] < 1
    assert job["duration_seconds"] == pytest.approx(4.0)
    assert job["segments"]
    assert all("words" not in s and "speaker" not in s for s in job["segments"])


def test_terminal_states_never_change(vox: Harness) -> None:
    job_id = vox.job_id()
    first = vox.completed(job_id)

    vox.advance(86400)

    assert vox.status(job_id).json() == first


def test_processing_time_zero_completes_at_once(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(processing_time=0)

    response = vox.start(vox.file_id())

    assert response.status_code == 202
    assert response.json()["status"] == "completed"
    assert "retry-after" not in response.headers
    assert vox.transcript(response.json()["job_id"]).status_code == 200


def test_real_clock_moves_on_its_own(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(clock="real", processing_time=0.3)
    job_id = vox.job_id()

    deadline = 50
    while vox.status(job_id).json()["status"] != "completed" and deadline:
        deadline -= 1
        time.sleep(0.02)

    assert vox.status(job_id).json()["status"] == "completed"


@pytest.mark.parametrize("language", ["en", "fr", "ja", "zh"])
def test_supported_languages_are_echoed(vox: Harness, language: str) -> None:
    job = vox.completed(vox.job_id(language=language))

    assert (job["language"], job["language_probability"]) == (language, 1)


@pytest.mark.parametrize("language", ["xx", "qq"])
def test_unknown_language_is_422(vox: Harness, language: str) -> None:
    body = assert_problem(vox.start(vox.file_id(), language=language), 422, "language_not_supported")

    assert language in body["detail"]


@pytest.mark.parametrize(
    "options",
    [
        {"language": "english"},
        {"timestamps": "char"},
        {"speakers_expected": 0},
        {"webhook_url": "ftp://x"},
        {"retention": {"ttl_seconds": 5}},
        {"colour": "blue"},
    ],
)
def test_invalid_options_are_400(vox: Harness, options: dict[str, Any]) -> None:
    assert_problem(vox.start(vox.file_id(), **options), 400, "invalid_request")


def test_unknown_file_is_404(vox: Harness) -> None:
    assert_problem(vox.start("file_unknown0000"), 404, "not_found")


def test_idempotency_key_gives_the_same_job_back(vox: Harness) -> None:
    file_id = vox.file_id()
    key = {"Idempotency-Key": "5f0c1d9e-7a43-4b1e-9c5d-0a9b8e7f6d21"}

    first = vox.start(file_id, headers=key, language="en")
    vox.advance(3600)
    again = vox.start(file_id, headers=key, language="en")

    assert first.status_code == again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.json()["status"] == "completed"  # the job as it is now
    assert again.headers["location"] == first.headers["location"]
    assert len(vox.client.get("/v1/jobs", headers=auth()).json()["data"]) == 1


def test_idempotency_key_with_another_body_is_409(vox: Harness) -> None:
    file_id = vox.file_id()
    key = {"Idempotency-Key": "same-key"}
    vox.start(file_id, headers=key, language="en")

    assert_problem(vox.start(file_id, headers=key, language="fr"), 409, "idempotency_key_reused")


def test_idempotency_keys_are_per_tenant_and_expire(vox: Harness) -> None:
    key = {"Idempotency-Key": "shared"}
    mine = vox.start(vox.file_id(), headers=key).json()["job_id"]
    theirs = vox.start(vox.file_id(key=OTHER_KEY), key=OTHER_KEY, headers=key).json()["job_id"]
    assert mine != theirs

    vox.advance(24 * 3600)
    other_body = vox.start(vox.file_id(), headers=key, language="fr")
    assert other_body.status_code == 202


def test_idempotent_replay_after_the_job_was_deleted(vox: Harness) -> None:
    file_id = vox.file_id()
    key = {"Idempotency-Key": "k1"}
    first = vox.start(file_id, headers=key).json()
    vox.client.delete(f"/v1/jobs/{first['job_id']}", headers=auth())

    again = vox.start(file_id, headers=key)

    assert (again.status_code, again.json()) == (202, first)


def test_list_is_newest_first_with_cursor_pages(vox: Harness) -> None:
    file_id = vox.file_id()
    created = [vox.job_id(file_id) for _ in range(5)]

    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = vox.client.get("/v1/jobs", params=params, headers=auth()).json()
        pages.append([job["job_id"] for job in page["data"]])
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if cursor is None:
            break
        assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)

    assert pages == [created[4:2:-1], created[2:0:-1], created[:1]]


def test_list_filters_by_status(vox: Harness) -> None:
    file_id = vox.file_id()
    done = vox.job_id(file_id)
    vox.advance(3600)
    queued = vox.job_id(file_id)

    def listed(status: str) -> list[str]:
        page = vox.client.get("/v1/jobs", params={"status": status}, headers=auth()).json()
        return [job["job_id"] for job in page["data"]]

    assert listed("completed") == [done]
    assert listed("queued") == [queued]
    assert listed("failed") == []


def test_list_defaults_and_empty(vox: Harness) -> None:
    page = vox.client.get("/v1/jobs", headers=auth()).json()

    assert page == {"data": [], "has_more": False, "next_cursor": None}


def test_the_contracts_example_cursor_is_one_the_mock_issues(vox: Harness) -> None:
    example = load_spec()["components"]["parameters"]["Cursor"]["example"]
    response = vox.client.get("/v1/jobs", params={"cursor": example}, headers=auth())
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("cursor", ["garbage", "bzo", "b246eA", "x" * 300, "a b"])
def test_bad_cursor_is_400(vox: Harness, cursor: str) -> None:
    assert_problem(vox.client.get("/v1/jobs", params={"cursor": cursor}, headers=auth()), 400, "invalid_request")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"status": "waiting"}])
def test_bad_list_parameters_are_400(vox: Harness, params: dict[str, Any]) -> None:
    assert_problem(vox.client.get("/v1/jobs", params=params, headers=auth()), 400, "invalid_request")


def test_tenants_never_see_each_other(vox: Harness) -> None:
    mine = vox.job_id()
    theirs = vox.job_id(key=OTHER_KEY)

    assert [job["job_id"] for job in vox.client.get("/v1/jobs", headers=auth()).json()["data"]] == [mine]
    assert [job["job_id"] for job in vox.client.get("/v1/jobs", headers=auth(OTHER_KEY)).json()["data"]] == [theirs]
    assert_problem(vox.status(theirs), 404, "not_found")
    assert_problem(vox.transcript(theirs), 404, "not_found")
    assert_problem(vox.client.delete(f"/v1/jobs/{theirs}", headers=auth()), 404, "not_found")
    assert vox.status(theirs, OTHER_KEY).status_code == 200


def test_delete_cancels_and_removes_the_job(vox: Harness) -> None:
    file_id = vox.file_id()
    job_id = vox.job_id(file_id)

    response = vox.client.delete(f"/v1/jobs/{job_id}", headers=auth())

    assert (response.status_code, response.content) == (204, b"")
    assert_problem(vox.status(job_id), 404, "not_found")
    assert vox.client.get("/v1/jobs", headers=auth()).json()["data"] == []
    assert vox.client.get(f"/v1/files/{file_id}", headers=auth()).status_code == 200  # the file is kept
    assert_problem(vox.client.delete(f"/v1/jobs/{job_id}", headers=auth()), 404, "not_found")


def test_jobs_keep_their_transcript_when_the_file_is_deleted(vox: Harness) -> None:
    file_id = vox.file_id()
    job_id = vox.job_id(file_id)
    vox.client.delete(f"/v1/files/{file_id}", headers=auth())

    assert vox.completed(job_id)["transcript"]
    assert vox.transcript(job_id).status_code == 200


def test_ttl_expires_job_and_media_after_the_end(vox: Harness) -> None:
    file_id = vox.file_id()
    job_id = vox.job_id(file_id, retention={"ttl_seconds": 60})
    vox.advance(1)  # the job ends

    vox.advance(59.9)
    assert vox.status(job_id).status_code == 200
    vox.advance(0.1)
    assert_problem(vox.status(job_id), 404, "not_found")
    assert_problem(vox.client.get(f"/v1/files/{file_id}", headers=auth()), 404, "not_found")
    assert vox.client.get("/v1/jobs", headers=auth()).json()["data"] == []


@pytest.mark.parametrize("job_id", ["job_short", "not-a-job", "job_" + "a" * 65])
def test_malformed_job_ids_are_400(vox: Harness, job_id: str) -> None:
    for response in (
        vox.status(job_id),
        vox.transcript(job_id),
        vox.client.delete(f"/v1/jobs/{job_id}", headers=auth()),
    ):
        assert_problem(response, 400, "invalid_request")


def test_a_key_runs_at_most_the_contracts_limit_of_jobs_at_once(vox: Harness) -> None:
    limit = load_spec()["x-voxscriber-limits"]["max_running_jobs_per_key"]
    file_id = vox.file_id()
    job_ids = [vox.job_id(file_id) for _ in range(limit + 1)]

    vox.advance(0.5)  # half-way through the first jobs' processing time (1 s)
    running = [vox.status(job_id).json()["status"] for job_id in job_ids]
    vox.advance(0.6)  # the first jobs have ended, the last one took a freed slot
    later = [vox.status(job_id).json()["status"] for job_id in job_ids]

    assert running == ["processing"] * limit + ["queued"]
    assert later == ["completed"] * limit + ["processing"]
