"""Property tests of the rate-limit middleware's answers: whatever the policy and the number of requests,
the headers stay coherent with each other and with the statuses."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.test_asgi import KEY, auth, build_app

POLICY = re.compile(r'^"default";q=(\d+);w=(\d+)$')
REMAINING = re.compile(r'^"default";r=(\d+);t=(\d+)$')


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    quota=st.integers(min_value=1, max_value=6),
    extra=st.integers(min_value=0, max_value=4),
    window=st.sampled_from([("second", 1), ("minute", 60), ("hour", 3600)]),
)
def test_headers_are_coherent_for_any_policy(quota: int, extra: int, window: tuple[str, int]) -> None:
    unit, seconds = window
    client = TestClient(build_app(rate_limit=f"{quota}/{unit}", api_keys=(KEY,)), raise_server_exceptions=False)
    previous = quota
    for index in range(quota + extra):
        response = client.get("/v1/files/file_unknown0000", headers=auth())
        q, w = map(int, POLICY.fullmatch(response.headers["ratelimit-policy"]).groups())  # type: ignore[union-attr]
        r, t = map(int, REMAINING.fullmatch(response.headers["ratelimit"]).groups())  # type: ignore[union-attr]
        assert (q, w) == (quota, seconds)
        assert 0 <= t <= w
        assert r <= previous
        previous = r
        if index < quota:
            assert response.status_code == 404
            assert r == quota - index - 1
        elif response.status_code == 429:
            # A window of one second may roll over mid-loop; otherwise every extra request is refused.
            assert r == 0
            assert int(response.headers["retry-after"]) == max(t, 1)
            assert response.json()["code"] == "rate_limited"
        else:
            assert seconds == 1
            previous = quota
