"""The fast path answers exactly as Connexion's whole stack does, and takes only the requests it can vouch for.

Two mocks with the same seed and a manual clock, one with the fast path and one without, are sent the same
requests in the same order: valid ones (which the fast path serves) and every kind of request it must leave to
Connexion (bad keys, odd parameters, bodies it does not take). Their answers must be the same, byte for byte
(headers, ids and timestamps included), and the fast path must have served the valid ones and none of the others.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.app import MockApp, create_app
from mockserver.settings import MockSettings
from tests.mockserver.support import make_wav
from voxcontract.asgi import ContractApp, create_contract_app
from voxcontract.auth import StaticKeyResolver
from voxcontract.middleware.fast_path import MAX_FAST_PATH_BODY, FastPathMiddleware
from voxcontract.settings import CoreSettings

KEY = "vox_fast_path_key"
OTHER_KEY = "vox_fast_path_other"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON = "application/json"


def mock(*, fast_path: bool, rate_limit: str = "1000/minute", validate_responses: bool = True) -> MockApp:
    settings = MockSettings(
        api_keys=(KEY, OTHER_KEY),
        clock="manual",
        processing_time=1.0,
        rate_limit=rate_limit,
        validate_responses=validate_responses,
        fast_path=fast_path,
    )
    return create_app(settings)


@dataclasses.dataclass
class Pair:
    """The same requests sent to a mock with the fast path and one without; their answers compared."""

    fast: TestClient
    whole: TestClient
    fast_app: MockApp

    @property
    def served(self) -> int:
        fast_path = self.fast_app.public.fast_path
        assert isinstance(fast_path, FastPathMiddleware)
        return fast_path.served

    def same(self, method: str, url: str, **kwargs: Any) -> Any:
        """Sends the request to both; asserts the answers are the same; the fast mock's answer."""
        kwargs.setdefault("follow_redirects", False)
        fast = self.fast.request(method, url, **kwargs)
        whole = self.whole.request(method, url, **kwargs)
        assert (fast.status_code, fast.content) == (whole.status_code, whole.content), (method, url, kwargs)
        assert sorted(fast.headers.multi_items()) == sorted(whole.headers.multi_items()), (method, url)
        return fast

    def served_by_fast_path(self, method: str, url: str, **kwargs: Any) -> Any:
        before = self.served
        answer = self.same(method, url, **kwargs)
        assert self.served == before + 1, f"the fast path did not serve {method} {url}"
        return answer

    def left_to_connexion(self, method: str, url: str, **kwargs: Any) -> Any:
        before = self.served
        answer = self.same(method, url, **kwargs)
        assert self.served == before, f"the fast path served {method} {url}"
        return answer


def open_pair(**settings: Any) -> Iterator[Pair]:
    fast_app, whole_app = mock(fast_path=True, **settings), mock(fast_path=False, **settings)
    assert whole_app.public.fast_path is None
    with (
        TestClient(fast_app, raise_server_exceptions=False) as fast,
        TestClient(whole_app, raise_server_exceptions=False) as whole,
    ):
        yield Pair(fast, whole, fast_app)


@pytest.fixture
def pair() -> Iterator[Pair]:
    yield from open_pair()


def upload(pair: Pair) -> str:
    answer = pair.left_to_connexion("POST", "/v1/upload", headers=AUTH, files={"file": ("a.wav", make_wav(1.0))})
    assert answer.status_code == 201
    return str(answer.json()["file_id"])


def start_job(pair: Pair, **body: Any) -> str:
    file_id = upload(pair)
    answer = pair.served_by_fast_path("POST", "/v1/transcribe", headers=AUTH, json={"file_id": file_id, **body})
    assert answer.status_code == 202
    return str(answer.json()["job_id"])


def test_valid_requests_take_the_fast_path_and_answer_as_connexion_does(pair: Pair) -> None:
    job_id = start_job(pair, language="en", metadata={"order": "42"})
    for url in (
        f"/v1/status/{job_id}",
        "/v1/jobs",
        "/v1/jobs?limit=1",
        "/v1/jobs?status=queued&limit=100",
        "/v1/webhooks/secret",
        "/v1/health",
        "/v1/status/job_doesNotExist123",  # 404 from the handler: a problem rendered by the fast path
        f"/v1/transcripts/{job_id}?format=srt",  # 409 job_not_completed
        "/v1/jobs?cursor=notIssuedByTheServer",  # 400 from the handler, which alone knows its cursors
    ):
        pair.served_by_fast_path("GET", url, headers=AUTH)
    page = pair.served_by_fast_path("GET", "/v1/jobs?limit=1", headers=AUTH).json()
    assert page["data"][0]["job_id"] == job_id


def test_transcripts_and_deletions_answer_as_connexion_does(pair: Pair) -> None:
    job_id = start_job(pair)
    for client in (pair.fast, pair.whole):
        advanced = client.post("/__mock/clock/advance", json={"seconds": 5})
        assert advanced.status_code == 200, advanced.text
    for format_ in ("json", "text", "srt", "vtt"):
        answer = pair.served_by_fast_path("GET", f"/v1/transcripts/{job_id}?format={format_}", headers=AUTH)
        assert answer.status_code == 200
    file_id = pair.served_by_fast_path("GET", f"/v1/status/{job_id}", headers=AUTH).json()["file_id"]
    pair.served_by_fast_path("GET", f"/v1/files/{file_id}", headers=AUTH)
    pair.served_by_fast_path("DELETE", f"/v1/jobs/{job_id}", headers=AUTH)
    pair.served_by_fast_path("DELETE", f"/v1/files/{file_id}", headers=AUTH)
    pair.served_by_fast_path("DELETE", f"/v1/files/{file_id}", headers=AUTH)  # 404 now


def test_an_idempotent_retry_replays_on_the_fast_path(pair: Pair) -> None:
    file_id = upload(pair)
    headers = {**AUTH, "Idempotency-Key": "retry-1"}
    first = pair.served_by_fast_path("POST", "/v1/transcribe", headers=headers, json={"file_id": file_id})
    again = pair.served_by_fast_path("POST", "/v1/transcribe", headers=headers, json={"file_id": file_id})
    assert first.json()["job_id"] == again.json()["job_id"]
    other = {"file_id": file_id, "language": "de"}
    assert pair.served_by_fast_path("POST", "/v1/transcribe", headers=headers, json=other).status_code == 409


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/v1/status/job_doesNotExist123", {}),  # no key
        ("/v1/status/job_doesNotExist123", {"Authorization": "Bearer wrong-key"}),
        ("/v1/status/job_doesNotExist123", {"Authorization": "Basic abc"}),
        ("/v1/status/job_doesNotExist123", {"Authorization": f"Bearer  {KEY} x"}),
        ("/v1/status/not-a-job-id", AUTH),
        ("/v1/status/job_%2Fx", AUTH),
        ("/v1/status/job_doesNotExist123/", AUTH),
        ("/v1/jobs?limit=0", AUTH),
        ("/v1/jobs?limit=101", AUTH),
        ("/v1/jobs?limit=abc", AUTH),
        ("/v1/jobs?limit=05", AUTH),
        ("/v1/jobs?limit=%35", AUTH),
        ("/v1/jobs?limit=", AUTH),
        ("/v1/jobs?limit=1&limit=2", AUTH),
        ("/v1/jobs?unknown=1", AUTH),
        ("/v1/jobs?Limit=5", AUTH),
        ("/v1/jobs?status=bogus", AUTH),
        ("/v1/jobs?cursor=a+b", AUTH),
        ("/v1/transcripts/job_doesNotExist123?format=pdf", AUTH),
        ("/v1/health?verbose=1", AUTH),
    ],
)
def test_what_the_fast_path_does_not_vouch_for_goes_to_connexion(pair: Pair, url: str, headers: dict[str, str]) -> None:
    pair.left_to_connexion("GET", url, headers=headers)


def test_a_valid_request_past_the_rate_limit_gets_the_same_429() -> None:
    for pair in open_pair(rate_limit="2/minute"):
        answers = [pair.served_by_fast_path("GET", "/v1/webhooks/secret", headers=AUTH) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200, 200, 429]
        assert answers[2].headers["content-type"] == "application/problem+json"


def test_answers_are_the_same_without_response_validation() -> None:
    for pair in open_pair(validate_responses=False):
        job_id = start_job(pair)
        pair.served_by_fast_path("GET", f"/v1/status/{job_id}", headers=AUTH)
        pair.served_by_fast_path("GET", "/v1/jobs?limit=3", headers=AUTH)


def test_prefer_and_scenarios_are_honoured_on_the_fast_path(pair: Pair) -> None:
    job_id = start_job(pair)
    preferences = ["code=404", "code=429", "example=queued", "scenario=server-error", "scenario=rate-limited"]
    for prefer in [*preferences, "scenario=unknown"]:
        pair.served_by_fast_path("GET", f"/v1/status/{job_id}", headers={**AUTH, "Prefer": prefer})


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"file_id": "FILE"', {"Content-Type": "application/json"}),  # broken JSON
        (b'{"file_id": "FILE", "language": NaN}', {"Content-Type": "application/json"}),
        (b'{"file_id": "FILE", "extra": 1}', {"Content-Type": "application/json"}),
        (b'{"file_id": "FILE"}', {"Content-Type": "text/plain"}),
        (b'{"file_id": "FILE"}', {"Content-Type": "application/json; charset=latin-1"}),
        (b"", {"Content-Type": "application/json"}),
        (b"null", {"Content-Type": "application/json"}),
        (b'{"file_id": "FILE"}', {"Content-Type": "application/json", "Idempotency-Key": "has space"}),
        (b'{"file_id": "file_doesNotExist12"}', {"Content-Type": "application/json", "Authorization": "Bearer x"}),
        (b'{"file_id": "FILE", "metadata": {"k": "' + b"v" * MAX_FAST_PATH_BODY + b'"}}', {"Content-Type": JSON}),
        (b'{"file_id": "' + b"[" * 40 + b"]" * 40 + b'"}', {"Content-Type": "application/json"}),
        (b'\xff\xfe{"file_id": "FILE"}', {"Content-Type": "application/json"}),
    ],
)  # fmt: skip
def test_bodies_the_fast_path_does_not_take_get_connexions_answer(
    pair: Pair, content: bytes, headers: dict[str, str]
) -> None:
    file_id = upload(pair)
    body = content.replace(b"FILE", file_id.encode())
    pair.left_to_connexion("POST", "/v1/transcribe", content=body, headers={**AUTH, **headers})


def test_a_body_on_a_bodiless_operation_goes_to_connexion(pair: Pair) -> None:
    pair.left_to_connexion("GET", "/v1/jobs", headers={**AUTH, "Content-Type": "application/json"}, content=b"{}")


def test_the_fast_path_can_be_switched_off_in_the_settings() -> None:
    keys = StaticKeyResolver((KEY,))

    def app(fast_path: bool) -> ContractApp:
        settings = CoreSettings(fast_path=fast_path)
        return create_contract_app(settings=settings, operations=lambda _id: _handler, keys=keys)

    assert isinstance(app(True).fast_path, FastPathMiddleware)
    assert app(False).fast_path is None


async def _handler(**_kwargs: Any) -> Any:  # pragma: no cover - only resolved, never called
    return json.dumps({})
