"""Every scenario through every way to name it: ``Prefer``, a magic filename, a magic URL, the admin default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mockserver.scenarios import SCENARIOS
from tests.mockserver.support import Harness, assert_problem, auth, make_wav

JOB_SCENARIOS = sorted(name for name, scenario in SCENARIOS.items() if scenario.stage == "job")


def job_via_prefer(vox: Harness, name: str) -> str:
    return vox.job_id(vox.file_id(), headers={"Prefer": f"scenario={name}"})


def job_via_filename(vox: Harness, name: str) -> str:
    return vox.job_id(vox.file_id(make_wav(2.0), f"call.scenario-{name}.wav"))


def job_via_url_query(vox: Harness, name: str) -> str:
    response = vox.upload_url(f"https://x.test/a.mp3?scenario={name}")
    return vox.job_id(response.json()["file_id"])


def job_via_url_path(vox: Harness, name: str) -> str:
    response = vox.upload_url(f"https://x.test/scenario-{name}/a.mp3")
    return vox.job_id(response.json()["file_id"])


def job_via_prefer_at_upload(vox: Harness, name: str) -> str:
    response = vox.upload(make_wav(2.0), "plain.wav", Prefer=f"scenario={name}")
    return vox.job_id(response.json()["file_id"])


def job_via_default(vox: Harness, name: str) -> str:
    assert vox.client.put("/__mock/scenario", json={"scenario": name}).status_code == 200
    return vox.job_id(vox.file_id())


WAYS: dict[str, Callable[[Harness, str], str]] = {
    "prefer": job_via_prefer,
    "filename": job_via_filename,
    "url-query": job_via_url_query,
    "url-path": job_via_url_path,
    "prefer-at-upload": job_via_prefer_at_upload,
    "admin-default": job_via_default,
}


@pytest.fixture(params=sorted(WAYS))
def start_job(request: pytest.FixtureRequest) -> Callable[[Harness, str], str]:
    return WAYS[request.param]


def test_job_fails(vox: Harness, start_job: Callable[[Harness, str], str]) -> None:
    job_id = start_job(vox, "job-fails")

    vox.advance(0.49)
    assert vox.status(job_id).json()["status"] == "processing"
    vox.advance(0.01)
    job = vox.status(job_id).json()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "transcription_failed"
    assert 0 < job["progress"] < 1
    assert "transcript" not in job
    assert "completed_at" not in job
    assert "retry-after" not in vox.status(job_id).headers
    assert_problem(vox.transcript(job_id), 409, "job_not_completed")
    vox.advance(3600)
    assert vox.status(job_id).json() == job


def test_slow(vox: Harness, start_job: Callable[[Harness, str], str]) -> None:
    job_id = start_job(vox, "slow")

    vox.advance(9.9)
    assert vox.status(job_id).json()["status"] == "processing"
    vox.advance(0.1)
    assert vox.status(job_id).json()["status"] == "completed"


def test_stuck(vox: Harness, start_job: Callable[[Harness, str], str]) -> None:
    job_id = start_job(vox, "stuck")

    vox.advance(365 * 24 * 3600)
    response = vox.status(job_id)
    assert response.json()["status"] == "processing"
    assert response.json()["progress"] == 0.5
    assert int(response.headers["retry-after"]) >= 1
    assert_problem(vox.transcript(job_id), 409, "job_not_completed")


def test_empty_transcript(vox: Harness, start_job: Callable[[Harness, str], str]) -> None:
    job = vox.completed(start_job(vox, "empty-transcript"))

    assert (job["status"], job["transcript"], job["segments"]) == ("completed", "", [])
    assert vox.transcript(job["job_id"], "text").text == "\n"


def test_language_detected_fr(vox: Harness, start_job: Callable[[Harness, str], str]) -> None:
    job = vox.completed(start_job(vox, "language-detected-fr"))

    assert job["language"] == "fr"
    assert 0 < job["language_probability"] < 1
    assert job["options"]["language"] == "auto"


def test_language_detected_fr_leaves_an_explicit_language_alone(vox: Harness) -> None:
    job_id = vox.job_id(vox.file_id(), headers={"Prefer": "scenario=language-detected-fr"}, language="de")

    assert vox.completed(job_id)["language"] == "de"


@pytest.mark.parametrize("name", ["unsupported-media"])
def test_unsupported_media_at_upload(vox: Harness, name: str) -> None:
    assert_problem(vox.upload(make_wav(1.0), Prefer=f"scenario={name}"), 400, "unsupported_media")
    assert_problem(vox.upload(make_wav(1.0), f"a.scenario-{name}.wav"), 400, "unsupported_media")
    assert_problem(vox.upload_url(f"https://x.test/a.mp3?scenario={name}"), 400, "unsupported_media")
    vox.client.put("/__mock/scenario", json={"scenario": name})
    assert_problem(vox.upload(make_wav(1.0)), 400, "unsupported_media")
    assert vox.state.files == {}


def test_url_fetch_fails(vox: Harness) -> None:
    assert_problem(vox.upload_url("https://x.test/scenario-url-fetch-fails.mp3"), 400, "url_fetch_failed")
    response = vox.client.post(
        "/v1/upload", headers=auth(Prefer="scenario=url-fetch-fails"), json={"url": "https://x.test/a.mp3"}
    )
    assert_problem(response, 400, "url_fetch_failed")
    # a multipart upload fetches nothing: the scenario does not apply
    assert vox.upload(make_wav(1.0), Prefer="scenario=url-fetch-fails").status_code == 201


REQUESTS: dict[str, Callable[[Harness, dict[str, str]], httpx.Response]] = {
    "getHealth": lambda vox, h: vox.client.get("/v1/health", headers=h),
    "uploadFile": lambda vox, h: vox.client.post("/v1/upload", headers=auth(**h), json={"url": "https://x.test/a"}),
    "getFile": lambda vox, h: vox.client.get("/v1/files/file_8Yq2Lw5ZtB3nK7cD", headers=auth(**h)),
    "startTranscription": lambda vox, h: vox.start("file_8Yq2Lw5ZtB3nK7cD", headers=h),
    "getJobStatus": lambda vox, h: vox.status("job_3kTq9WmZpL2vX8aB", **h),
    "listJobs": lambda vox, h: vox.client.get("/v1/jobs", headers=auth(**h)),
    "deleteJob": lambda vox, h: vox.client.delete("/v1/jobs/job_3kTq9WmZpL2vX8aB", headers=auth(**h)),
    "getWebhookSecret": lambda vox, h: vox.client.get("/v1/webhooks/secret", headers=auth(**h)),
}


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_rate_limited_and_server_error_on_every_operation(vox: Harness, operation: str) -> None:
    send = REQUESTS[operation]
    limited = send(vox, {"Prefer": "scenario=rate-limited"})
    assert_problem(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == "1"
    if operation != "getHealth":
        assert limited.headers["ratelimit"].endswith(";r=0;t=1")

    vox.expect_server_error()
    assert_problem(send(vox, {"Prefer": "scenario=server-error"}), 500, "internal_error")


def test_request_scenarios_by_magic_filename_and_url(vox: Harness) -> None:
    assert_problem(vox.upload(make_wav(1.0), "a.scenario-rate-limited.wav"), 429, "rate_limited")
    vox.expect_server_error()
    assert_problem(vox.upload_url("https://x.test/a.mp3?scenario=server-error"), 500, "internal_error")


def test_default_request_scenario_applies_to_every_request_until_cleared(vox: Harness) -> None:
    vox.client.put("/__mock/scenario", json={"scenario": "server-error"})
    vox.expect_server_error(2)

    assert_problem(vox.client.get("/v1/jobs", headers=auth()), 500, "internal_error")
    assert_problem(vox.client.get("/v1/health"), 500, "internal_error")
    assert vox.client.get("/v1/jobs", headers=auth(Prefer="scenario=slow")).status_code == 200  # its own scenario wins
    assert vox.client.get("/__mock/clock").status_code == 200  # the admin API is never affected

    vox.client.put("/__mock/scenario", json={"scenario": None})
    assert vox.client.get("/v1/jobs", headers=auth()).status_code == 200


def test_prefer_beats_the_file_which_beats_the_default(vox: Harness) -> None:
    vox.client.put("/__mock/scenario", json={"scenario": "slow"})
    file_id = vox.file_id(make_wav(2.0), "a.scenario-job-fails.wav")

    from_file = vox.job_id(file_id)
    from_prefer = vox.job_id(file_id, headers={"Prefer": "scenario=stuck"})
    from_default = vox.job_id(vox.file_id())
    vox.advance(5)

    assert vox.status(from_file).json()["status"] == "failed"
    assert vox.status(from_prefer).json()["status"] == "processing"
    assert vox.status(from_default).json()["status"] == "processing"
    vox.advance(5)
    assert vox.status(from_default).json()["status"] == "completed"


@pytest.mark.parametrize(
    "send",
    [
        lambda vox: vox.client.get("/v1/jobs", headers=auth(Prefer="scenario=no-such-thing")),
        lambda vox: vox.upload(make_wav(1.0), "a.scenario-no-such-thing.wav"),
        lambda vox: vox.upload_url("https://x.test/a.mp3?scenario=nope"),
        lambda vox: vox.client.put("/__mock/scenario", json={"scenario": "nope"}),
    ],
)
def test_unknown_scenario_is_400_listing_the_known_ones(vox: Harness, send: Callable[[Harness], Any]) -> None:
    response = send(vox)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert all(name in response.json()["detail"] for name in SCENARIOS)


def test_job_scenarios_are_listed() -> None:
    assert set(JOB_SCENARIOS) >= {"job-fails", "slow", "stuck", "empty-transcript", "webhook-duplicate"}
