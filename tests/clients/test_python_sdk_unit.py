"""The Python SDK's decisions on their own: configuration, retries and backoff, error mapping, compaction."""

from __future__ import annotations

import io
import random
from pathlib import Path

import av
import httpx
import pytest
import voxscriber
from voxscriber._compact import compact_audio
from voxscriber._flows import problem_error
from voxscriber._retry import Retry, RetryPolicy, backoff, parse_retry_after

HELLO = Path(__file__).resolve().parents[2] / "mockserver" / "fixtures" / "hello.wav"
REQUEST = httpx.Request("GET", "http://127.0.0.1/v1/jobs")


def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=REQUEST)


def test_the_api_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOXSCRIBER_API_KEY", raising=False)
    with pytest.raises(voxscriber.ConfigurationError, match="VOXSCRIBER_API_KEY"):
        voxscriber.Client()


def test_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXSCRIBER_API_KEY", "from-env")
    monkeypatch.setenv("VOXSCRIBER_BASE_URL", "http://127.0.0.1:9/")
    with voxscriber.Client() as client:
        assert (client.api_key, client.base_url) == ("from-env", "http://127.0.0.1:9")
    monkeypatch.delenv("VOXSCRIBER_BASE_URL")
    with voxscriber.Client() as client:
        assert client.base_url == voxscriber.DEFAULT_BASE_URL


def test_full_jitter_stays_under_the_growing_cap() -> None:
    rng = random.Random(7)
    for attempt in range(8):
        delays = [backoff(attempt, 0.5, 8.0, rng) for _ in range(200)]
        assert min(delays) >= 0
        assert max(delays) <= min(8.0, 0.5 * 2**attempt)
        assert max(delays) > 0.8 * min(8.0, 0.5 * 2**attempt), "spread over the whole range"


@pytest.mark.parametrize(
    ("retry", "outcome", "expected"),
    [
        (Retry.IDEMPOTENT, answer(429, **{"Retry-After": "3"}), 3.0),
        (Retry.IDEMPOTENT, answer(503, **{"Retry-After": "0"}), 0.0),
        (Retry.UNSENT, answer(503, **{"Retry-After": "2"}), 2.0),
        (Retry.IDEMPOTENT, answer(429, **{"Retry-After": "3600"}), None),  # past max_retry_after: the caller decides
        (Retry.IDEMPOTENT, answer(500), None),
        (Retry.IDEMPOTENT, answer(404), None),
        (Retry.NEVER, answer(503, **{"Retry-After": "1"}), None),
        (Retry.UNSENT, httpx.ReadError("reset", request=REQUEST), None),  # the body may have been stored
        (Retry.NEVER, httpx.ConnectError("refused", request=REQUEST), None),
    ],
)
def test_retry_decisions(retry: Retry, outcome: httpx.Response | httpx.TransportError, expected: float | None) -> None:
    assert RetryPolicy().delay(retry, outcome, attempt=0) == expected


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow")]
)
def test_failures_without_an_answer_back_off(failure: httpx.TransportError) -> None:
    policy = RetryPolicy(rng=random.Random(1))
    delay = policy.delay(Retry.IDEMPOTENT, failure, attempt=2)
    assert delay is not None
    assert 0 <= delay <= 2.0
    assert policy.delay(Retry.IDEMPOTENT, failure, attempt=3) is None, "max_retries=3"


def test_a_connection_never_made_is_retried_for_an_upload() -> None:
    assert RetryPolicy().delay(Retry.UNSENT, httpx.ConnectError("refused"), attempt=0) is not None


@pytest.mark.parametrize(("value", "seconds"), [("2", 2.0), (" 10 ", 10.0), ("-1", None), ("soon", None), (None, None)])
def test_retry_after_parsing(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_an_answer_that_is_not_a_problem_still_maps_by_status() -> None:
    response = httpx.Response(502, text="<html>bad gateway</html>", headers={"X-Request-Id": "req_1"}, request=REQUEST)
    error = problem_error(response)
    assert type(error) is voxscriber.ServerError
    assert (error.status, error.code, error.request_id) == (502, None, "req_1")
    assert type(problem_error(httpx.Response(418, json={"code": "teapot"}, request=REQUEST))) is voxscriber.APIError
    unknown_code = httpx.Response(409, json={"code": "something_new", "status": 409}, request=REQUEST)
    assert type(problem_error(unknown_code)) is voxscriber.Conflict


def test_a_rate_limited_error_carries_retry_after() -> None:
    response = httpx.Response(
        429, json={"code": "rate_limited", "request_id": "req_2"}, headers={"Retry-After": "42"}, request=REQUEST
    )
    error = problem_error(response)
    assert isinstance(error, voxscriber.RateLimited)
    assert (error.retry_after, error.request_id) == (42.0, "req_2")


def test_compaction_makes_mono_16_khz_opus_in_ogg() -> None:
    compact = compact_audio(HELLO)
    with av.open(io.BytesIO(compact)) as container:
        stream = container.streams.audio[0]
        assert (container.format.name, stream.codec_context.name) == ("ogg", "opus")
        assert stream.codec_context.layout.nb_channels == 1
        decoded = sum(frame.samples / frame.sample_rate for frame in container.decode(stream))
    assert abs(decoded - 4.253) < 0.1, "the whole recording"
    assert len(compact) < HELLO.stat().st_size / 4
