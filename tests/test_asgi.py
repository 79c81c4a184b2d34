"""The core's app factory and middleware on the real contract, in-process and over real HTTP (uvicorn).

The handlers here are test fakes: what is under test is the shared layer around them (request ids, auth,
rate limiting, body limits, problem+json for every error), which the mock and the reference server both use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from voxcontract.asgi import ContractApp, create_contract_app
from voxcontract.auth import Principal, StaticKeyResolver, key_fingerprint
from voxcontract.errors import BadRequest, NotFound
from voxcontract.serving import BackgroundServer
from voxcontract.settings import CoreSettings
from voxcontract.spec import load_spec

KEY = "test-key-one"
OTHER_KEY = "test-key-two"
JSON = {"Content-Type": "application/json"}
EXAMPLE_FILE = load_spec()["components"]["examples"]["FileUploaded"]["value"]


async def get_health() -> Any:
    return {"status": "ok", "version": "test"}, 200, JSON


async def get_file(file_id: str, token_info: Principal) -> Any:
    if file_id == EXAMPLE_FILE["file_id"] and token_info.key_id == key_fingerprint(KEY):
        return EXAMPLE_FILE, 200, JSON
    raise NotFound(f"No file {file_id} for this API key.")


async def upload_file(body: Any = None, file: Any = None) -> Any:
    if file is None and "url" not in body:
        raise BadRequest(f"no file part, only the form fields {sorted(body)}")
    if file is None:
        return {**EXAMPLE_FILE, "filename": body["url"].rsplit("/", 1)[-1]}, 201, JSON
    content = await file.read()
    return {**EXAMPLE_FILE, "filename": file.filename, "size_bytes": len(content)}, 201, JSON


async def list_jobs(**_: Any) -> Any:
    raise RuntimeError("secret internals that must not leak")


async def not_used(**_: Any) -> Any:
    raise AssertionError("not reached in these tests")


HANDLERS: dict[str, Callable[..., Any]] = {
    "getHealth": get_health,
    "getFile": get_file,
    "uploadFile": upload_file,
    "listJobs": list_jobs,
}


def build_app(**settings: Any) -> ContractApp:
    return create_contract_app(
        settings=CoreSettings(**settings),
        operations=lambda operation_id: HANDLERS.get(operation_id, not_used),
        keys=StaticKeyResolver([KEY, OTHER_KEY]),
    )


@pytest.fixture(params=["in-process", "uvicorn"])
def make_client(request: pytest.FixtureRequest) -> Iterator[Callable[..., httpx.Client]]:
    """A factory of clients for an app built with the given settings, in-process or over real HTTP."""
    cleanups: list[Callable[[], None]] = []

    def make(**settings: Any) -> httpx.Client:
        app = build_app(**settings)
        if request.param == "in-process":
            client: httpx.Client = TestClient(app, raise_server_exceptions=False)
        else:
            server = BackgroundServer(app).start()
            cleanups.append(server.stop)
            client = httpx.Client(base_url=server.base_url)
        cleanups.append(client.close)
        return client

    yield make
    for cleanup in reversed(cleanups):
        cleanup()


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_health_needs_no_key_and_is_not_rate_limited(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().get("/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"].startswith("req_")
    assert "ratelimit" not in response.headers


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [("client-id-42", True), ("a" * 128, True), ("has spaces", False), ("a" * 129, False), ("ünï", False)],
)
def test_request_id_is_echoed_only_when_sane(make_client: Callable[..., httpx.Client], sent: str, echoed: bool) -> None:
    response = make_client().get("/v1/health", headers={"X-Request-Id": sent.encode("utf-8")})  # type: ignore[dict-item]
    assert (response.headers["x-request-id"] == sent) is echoed
    if not echoed:
        assert response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, None),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_request"),
        ({"Authorization": "Bearer"}, "invalid_request"),
        ({"Authorization": "Bearer two tokens"}, "invalid_request"),
        ({"Authorization": "Bearer not-a-key"}, "invalid_token"),
    ],
)
def test_bad_credentials_get_401_with_challenge(
    make_client: Callable[..., httpx.Client], headers: dict[str, str], error: str | None
) -> None:
    response = make_client().get(f"/v1/files/{EXAMPLE_FILE['file_id']}", headers=headers)
    body = assert_problem(response, 401, "unauthorized")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="voxscriber"')
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)
    assert body["instance"] == f"/v1/files/{EXAMPLE_FILE['file_id']}"
    assert "ratelimit" not in response.headers


def test_valid_key_reaches_the_handler_with_its_principal(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client()
    mine = client.get(f"/v1/files/{EXAMPLE_FILE['file_id']}", headers=auth())
    assert mine.status_code == 200
    assert mine.json() == EXAMPLE_FILE
    theirs = client.get(f"/v1/files/{EXAMPLE_FILE['file_id']}", headers=auth(OTHER_KEY))
    assert_problem(theirs, 404, "not_found")


def test_authenticated_errors_carry_rate_limit_headers(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().get("/v1/files/file_unknown0000", headers=auth())
    assert_problem(response, 404, "not_found")
    assert response.headers["ratelimit-policy"] == '"default";q=120;w=60'
    assert response.headers["ratelimit"].startswith('"default";r=119;t=')


def test_rate_limit_is_enforced_per_key(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client(rate_limit="3/minute")
    url = f"/v1/files/{EXAMPLE_FILE['file_id']}"
    remaining = [client.get(url, headers=auth()).headers["ratelimit"].split(";")[1] for _ in range(3)]
    assert remaining == ["r=2", "r=1", "r=0"]
    limited = client.get(url, headers=auth())
    body = assert_problem(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert "retry in" in body["detail"]
    assert client.get(url, headers=auth(OTHER_KEY)).headers["ratelimit"].startswith('"default";r=2;')


def test_request_validation_errors_are_problems(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().get("/v1/files/not-a-file-id", headers=auth())
    body = assert_problem(response, 400, "invalid_request")
    assert "does not match" in body["detail"]


def test_wrong_content_type_is_415(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().post("/v1/upload", headers={**auth(), "Content-Type": "text/plain"}, content=b"hello")
    assert_problem(response, 415, "unsupported_content_type")


def test_non_utf8_json_is_400_not_500(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().post(
        "/v1/upload", headers={**auth(), "Content-Type": "application/json"}, content=b'{"url": "\xff\xfe"}'
    )
    assert_problem(response, 400, "malformed_body")


def test_invalid_json_is_400(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().post(
        "/v1/upload", headers={**auth(), "Content-Type": "application/json"}, content=b'{"url": '
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "content",
    [
        b"--XX\r\nContent-Disposition: form-data; name=file; filename=a.wav\r\n\r\nabc",  # never closed
        b"garbage without any boundary",
        b"--XX\r\nno-colon-header\r\n\r\nabc\r\n--XX--\r\n",
    ],
)
def test_malformed_multipart_is_400_not_500(make_client: Callable[..., httpx.Client], content: bytes) -> None:
    response = make_client().post(
        "/v1/upload", headers={**auth(), "Content-Type": "multipart/form-data; boundary=XX"}, content=content
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] in {"malformed_body", "invalid_request"}


def test_file_part_without_a_filename_reaches_the_handler_as_a_field(make_client: Callable[..., httpx.Client]) -> None:
    # Connexion took the contract's comma-separated encoding contentType for JSON here and answered 500.
    response = make_client().post("/v1/upload", headers=auth(), files={"file": (None, b"just text")})
    body = assert_problem(response, 400, "invalid_request")
    assert body["detail"] == "no file part, only the form fields ['file']"


def test_declared_oversize_body_is_413(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client(max_upload_bytes=1024)
    files = {"file": ("big.wav", b"\0" * 4096, "audio/wav")}
    assert_problem(client.post("/v1/upload", headers=auth(), files=files), 413, "payload_too_large")


def test_streamed_oversize_body_is_413(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client(max_upload_bytes=1024)

    def chunks() -> Iterator[bytes]:
        yield b"--XX\r\nContent-Disposition: form-data; name=file; filename=a.wav\r\n\r\n"
        for _ in range(8):
            yield b"\0" * 512
        yield b"\r\n--XX--\r\n"

    response = client.post(
        "/v1/upload", headers={**auth(), "Content-Type": "multipart/form-data; boundary=XX"}, content=chunks()
    )
    assert_problem(response, 413, "payload_too_large")


def test_chunked_upload_under_the_limit_reaches_the_handler(make_client: Callable[..., httpx.Client]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"--XX\r\nContent-Disposition: form-data; name=file; filename=a.wav\r\n"
        yield b"Content-Type: audio/wav\r\n\r\n"
        yield b"RIFF" + b"\0" * 996
        yield b"\r\n--XX--\r\n"

    response = make_client().post(
        "/v1/upload", headers={**auth(), "Content-Type": "multipart/form-data; boundary=XX"}, content=chunks()
    )
    assert response.status_code == 201, response.text
    assert (response.json()["filename"], response.json()["size_bytes"]) == ("a.wav", 1000)


def test_json_upload_by_url_reaches_the_handler(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().post("/v1/upload", headers=auth(), json={"url": "https://example.com/x/talk.mp3"})
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "talk.mp3"


def test_unhandled_exception_is_a_500_problem_without_internals(
    make_client: Callable[..., httpx.Client],
) -> None:
    response = make_client().get("/v1/jobs", headers=auth())
    body = assert_problem(response, 500, "internal_error")
    assert "secret internals" not in response.text
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("OPTIONS", f"/v1/files/{EXAMPLE_FILE['file_id']}", "GET, DELETE, HEAD"), ("PUT", "/v1/upload", "POST")],
)
def test_405_allows_every_documented_method_of_the_path(
    make_client: Callable[..., httpx.Client], method: str, path: str, allow: str
) -> None:
    response = make_client().request(method, path, headers=auth())
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("raw_path", "instance"),
    [
        (b"/v1/files/%00", "/v1/files/%00"),
        (b"/v1/files/a%0Ab", "/v1/files/a%0Ab"),
        (b"/v1/files/%ff", "/v1/files/%EF%BF%BD"),
    ],
)
def test_problem_instance_is_a_uri_reference(
    make_client: Callable[..., httpx.Client], raw_path: bytes, instance: str
) -> None:
    client = make_client()
    # The client's own URL class: Starlette's TestClient is built on httpx2 when that is installed.
    url = type(client.base_url)(str(client.base_url)).copy_with(raw_path=raw_path)
    response = client.get(url, headers=auth())
    assert 400 <= response.status_code < 500
    assert response.json()["instance"] == instance


def test_unknown_path_is_a_404_problem(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().get("/v1/nothing-here", headers=auth())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_swagger_ui_and_spec_are_served_offline(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client()
    ui = client.get("/v1/ui/")
    assert ui.status_code == 200
    assert "swagger-ui" in ui.text
    assert "//unpkg.com" not in ui.text
    assert "cdn" not in ui.text.lower()
    spec = client.get("/v1/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "VoxScriber API"


# --- hostile input (issue 9): the core's bounds at their own settings; tests/test_hostile_input.py runs both servers


def test_header_fields_past_the_count_limit_are_431(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client(max_header_count=12)
    assert client.get("/v1/health").status_code == 200
    headers = {f"X-Extra-{index}": "v" for index in range(12)}
    body = assert_problem(client.get("/v1/health", headers=headers), 431, "headers_too_large")
    assert "at most 12 header fields" in body["detail"]


def test_header_fields_past_the_byte_limit_are_431(make_client: Callable[..., httpx.Client]) -> None:
    client = make_client(max_header_bytes=1024)
    assert client.get("/v1/health", headers={"X-Padding": "p" * 500}).status_code == 200
    body = assert_problem(client.get("/v1/health", headers={"X-Padding": "p" * 1024}), 431, "headers_too_large")
    assert "at most 1024 bytes" in body["detail"]


def test_failed_authentications_past_the_limit_are_429_for_every_key(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client(auth_failure_limit="2/minute")
    url = f"/v1/files/{EXAMPLE_FILE['file_id']}"
    assert [client.get(url, headers=auth(f"guess-{n}")).status_code for n in range(2)] == [401, 401]
    limited = client.get(url, headers=auth("guess-3"))
    body = assert_problem(limited, 429, "rate_limited")
    assert "failed authentications" in body["detail"]
    assert limited.headers["ratelimit-policy"] == '"auth-failures";q=2;w=60'
    assert limited.headers["ratelimit"].startswith('"auth-failures";r=0;t=')
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert_problem(client.get(url, headers=auth()), 429, "rate_limited")
    assert client.get("/v1/health").status_code == 200  # needs no key, so no authentication to refuse


def test_failed_authentications_are_not_limited_when_the_limit_is_empty(
    make_client: Callable[..., httpx.Client],
) -> None:
    client = make_client(auth_failure_limit="")
    url = f"/v1/files/{EXAMPLE_FILE['file_id']}"
    assert {client.get(url, headers=auth(f"guess-{n}")).status_code for n in range(30)} == {401}
    assert client.get(url, headers=auth()).status_code == 200


@pytest.mark.parametrize(
    "content",
    [b"[" * 5000 + b"]" * 5000, b'{"url": ' + b"9" * 5001 + b"}", b'{"url": NaN}', b"[" * 33 + b"]" * 33],
    ids=["nested 5,000 deep", "5,001 digits", "NaN", "33 levels"],
)
def test_json_that_python_cannot_take_is_malformed_body(
    make_client: Callable[..., httpx.Client], content: bytes
) -> None:
    response = make_client().post("/v1/upload", headers={**auth(), "Content-Type": "application/json"}, content=content)
    assert_problem(response, 400, "malformed_body")


def test_json_nested_to_the_limit_is_validated_as_usual(make_client: Callable[..., httpx.Client]) -> None:
    content = b'{"url": ' + b"[" * 31 + b"]" * 31 + b"}"
    response = make_client().post("/v1/upload", headers={**auth(), "Content-Type": "application/json"}, content=content)
    body = assert_problem(response, 400, "invalid_request")
    assert "is not of type 'string'" in body["detail"]


def test_a_parameter_error_names_the_parameter_not_the_schema(make_client: Callable[..., httpx.Client]) -> None:
    response = make_client().get("/v1/files/" + "f" * 5000, headers=auth())
    body = assert_problem(response, 400, "invalid_request")
    assert body["detail"].startswith("The path parameter 'file_id' is invalid: 'ffff")
    assert "Failed validating" not in body["detail"]
    assert len(body["detail"]) < 300
