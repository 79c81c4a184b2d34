"""Same seed, same requests, manual clock: byte-identical answers. Another seed: other ids and secrets."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from tests.mockserver.support import OTHER_KEY, Harness, auth, make_wav


def session(vox: Harness) -> list[tuple[int, bytes, str | None, str | None]]:
    """A fixed sequence of requests touching every operation, success and error answers alike."""
    client = vox.client
    answers: list[httpx.Response] = []

    def call(response: httpx.Response) -> httpx.Response:
        answers.append(response)
        return response

    call(client.get("/v1/health"))
    file_id = call(vox.upload(make_wav(3.0, frequency=330), "one.wav")).json()["file_id"]
    url_file = call(vox.upload_url("https://media.example.com/episode-7.mp3")).json()["file_id"]
    call(client.get(f"/v1/files/{file_id}", headers=auth()))
    job = call(vox.start(file_id, timestamps="word", diarization=True, metadata={"a": "b"})).json()["job_id"]
    other = call(vox.start(url_file, language="fr", headers={"Idempotency-Key": "k"})).json()["job_id"]
    call(vox.start(url_file, language="fr", headers={"Idempotency-Key": "k"}))
    call(vox.start(url_file, language="de", headers={"Idempotency-Key": "k"}))  # 409
    call(vox.start(file_id, language="xx"))  # 422
    call(vox.transcript(job))  # 409
    vox.advance(0.45)
    call(vox.status(job))
    vox.advance(0.6)
    call(vox.status(job))
    for fmt in ("json", "text", "srt", "vtt"):
        call(vox.transcript(job, fmt))
    failing = call(vox.start(file_id, headers={"Prefer": "scenario=job-fails"})).json()["job_id"]
    vox.advance(1)
    call(vox.status(failing))
    call(client.get("/v1/jobs", params={"limit": 2}, headers=auth()))
    call(client.get("/v1/jobs", params={"status": "completed"}, headers=auth()))
    call(vox.status(other, OTHER_KEY))  # 404
    call(vox.status(other, Prefer="example=processing"))
    call(client.get("/v1/files/file_8Yq2Lw5ZtB3nK7cD", headers=auth(Prefer="code=404")))
    call(client.get("/v1/webhooks/secret", headers=auth()))
    call(client.delete(f"/v1/jobs/{other}", headers=auth()))
    call(client.delete(f"/v1/files/{file_id}", headers=auth()))
    call(client.get("/v1/files/not-an-id", headers=auth()))  # 400
    call(client.get("/__mock/journal"))
    return [(r.status_code, r.content, r.headers.get("x-request-id"), r.headers.get("location")) for r in answers]


def test_same_seed_same_answers(make_vox: Callable[..., Harness]) -> None:
    first = session(make_vox(seed=7))
    second = session(make_vox(seed=7))

    assert len(first) == len(second) == 28
    for number, (one, two) in enumerate(zip(first, second, strict=True)):
        assert one == two, f"answer {number} differs"


def test_reset_replays_the_same_answers(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(seed=3)
    first = session(vox)
    vox.reset()

    assert session(vox) == first


def test_another_seed_gives_other_ids_and_secrets(make_vox: Callable[..., Harness]) -> None:
    one, two = make_vox(seed=1), make_vox(seed=2)

    ids_one = [one.file_id(), one.job_id(), one.client.get("/v1/health").headers["x-request-id"]]
    ids_two = [two.file_id(), two.job_id(), two.client.get("/v1/health").headers["x-request-id"]]
    secrets = [vox.client.get("/v1/webhooks/secret", headers=auth()).json()["secret"] for vox in (one, two)]

    assert all(a != b for a, b in zip(ids_one, ids_two, strict=True))
    assert secrets[0] != secrets[1]
    assert re.fullmatch(r"file_[A-Za-z0-9]{8,64}", ids_two[0])
    assert re.fullmatch(r"job_[A-Za-z0-9]{8,64}", ids_two[1])


def test_transcripts_depend_on_the_media_not_on_the_seed(make_vox: Callable[..., Harness]) -> None:
    texts = []
    for seed in (1, 2):
        vox = make_vox(seed=seed)
        job = vox.completed(vox.job_id(vox.file_id(make_wav(5.0, frequency=500))))
        texts.append((job["transcript"], job["segments"]))

    assert texts[0] == texts[1]
