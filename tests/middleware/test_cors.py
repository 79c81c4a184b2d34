"""CORS: the mock answers any origin's page, the reference server none unless configured; preflights and the
headers a browser client needs (Authorization and Idempotency-Key sent, the request id and Retry-After read)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.settings import MockSettings
from voxcontract.asgi import create_contract_app
from voxcontract.auth import StaticKeyResolver
from voxcontract.serving import BackgroundServer
from voxcontract.settings import CoreSettings

KEY = "vox_cors_key"
PAGE = "http://localhost:5173"


def preflight(
    client: httpx.Client | TestClient, path: str, method: str, headers: str, origin: str = PAGE
) -> httpx.Response:
    return client.options(
        path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


@pytest.fixture(scope="module")
def mock_client() -> Iterator[httpx.Client]:
    with (
        BackgroundServer(create_app(MockSettings(api_keys=(KEY,)))) as server,
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}) as client,
    ):
        yield client


def test_the_mock_answers_a_preflight_for_the_contracts_request_headers(mock_client: httpx.Client) -> None:
    answer = preflight(mock_client, "/v1/transcribe", "POST", "authorization, content-type, idempotency-key, prefer")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    allowed = {name.strip().lower() for name in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "prefer"} <= allowed
    assert "POST" in answer.headers["access-control-allow-methods"]


def test_the_mocks_answers_expose_what_a_polling_client_reads(mock_client: httpx.Client) -> None:
    answer = mock_client.get("/v1/jobs", headers={"Origin": PAGE})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    exposed = {name.strip().lower() for name in answer.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after", "ratelimit", "ratelimit-policy", "location"} <= exposed


def test_a_refusal_carries_cors_headers_so_a_page_can_read_the_problem(mock_client: httpx.Client) -> None:
    answer = mock_client.get("/v1/status/job_doesNotExist123", headers={"Origin": PAGE, "Authorization": "Bearer x"})
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == "*"


def test_a_preflight_for_a_header_outside_the_contract_is_refused(mock_client: httpx.Client) -> None:
    assert preflight(mock_client, "/v1/jobs", "GET", "x-made-up").status_code == 400


def contract_client(origins: tuple[str, ...]) -> TestClient:
    app = create_contract_app(
        settings=CoreSettings(cors_origins=origins), operations=lambda _id: _never, keys=StaticKeyResolver([KEY])
    )
    return TestClient(app)


async def _never(**_kwargs: object) -> None:  # pragma: no cover - only resolved
    raise AssertionError("not called")


def test_without_origins_there_are_no_cors_headers() -> None:
    """The reference server's default: a browser page elsewhere cannot call it."""
    with contract_client(()) as client:
        answer = preflight(client, "/v1/jobs", "GET", "authorization")
        assert "access-control-allow-origin" not in answer.headers
        assert answer.status_code == 405  # OPTIONS is no operation of the contract


def test_configured_origins_are_answered_and_others_are_not() -> None:
    with contract_client(("https://app.example.com",)) as client:
        allowed = preflight(client, "/v1/jobs", "GET", "authorization", origin="https://app.example.com")
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        refused = preflight(client, "/v1/jobs", "GET", "authorization", origin="https://evil.example.net")
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers


def test_the_reference_servers_default_is_no_cors() -> None:
    from reference_impl.settings import ReferenceSettings

    assert ReferenceSettings().cors_origins == ()
    assert MockSettings().cors_origins == ("*",)
