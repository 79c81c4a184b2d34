"""Hostile input against both servers (the mock and the reference server) through one parametrised fixture.

Every probe goes over a raw socket, byte for byte as written (httpx refuses to send most of them), to a real
uvicorn on 127.0.0.1. What the servers must do whatever they are sent: never a 5xx; a 4xx problem+json with a
``code`` and the request's id; a short answer (a problem echoes at most an excerpt of what it was sent).

A few requests never reach the app: uvicorn's HTTP parser (httptools) refuses bytes that are not HTTP (a NUL or a
bare CR in a header, an unknown method, chunk sizes that are not hex) with its own plain-text 400 and closes the
connection. Those probes expect exactly that answer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from mockserver.pytest_plugin import default_mock_settings, running_mock
from tests.reference_impl.support import KEY_A, serve_reference
from voxcontract.middleware.validators import MAX_JSON_DEPTH
from voxcontract.settings import CoreSettings
from voxcontract.spec import load_spec

ERROR_CODES = frozenset(load_spec()["components"]["schemas"]["ErrorCode"]["enum"])
DEFAULTS = CoreSettings()
#: Longer than any problem the servers write; an echo of a probe's payload would not fit.
MAX_PROBLEM_BYTES = 2048
TRANSPORT_REFUSAL = b"Invalid HTTP request received."


@dataclass(frozen=True)
class Target:
    kind: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture(scope="module", params=["mock", "reference"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if request.param == "mock":
        # The servers' own defaults, not the pytest plugin's generous failed-authentication limit.
        settings = default_mock_settings().replace(api_keys=(KEY_A,), auth_failure_limit=DEFAULTS.auth_failure_limit)
        with running_mock(settings) as mock:
            yield _target("mock", mock.base_url)
    else:
        with serve_reference(tmp_path_factory.mktemp("hostile")) as reference:
            yield _target("reference", reference.url)


def _target(kind: str, url: str) -> Target:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return Target(kind, host, int(port))


# --- a raw HTTP/1.1 exchange -------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        document: dict[str, object] = json.loads(self.body)
        return document


def exchange(target: Target, request: bytes, *, timeout: float = 60.0) -> Answer:
    """Send ``request`` as it is, read the answer until the server closes (requests say ``Connection: close``)."""
    with socket.create_connection((target.host, target.port), timeout=timeout) as sock:
        # The server may answer early and close; its answer is still to be read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        received = _read_until_closed(sock, limit=4 * 1024 * 1024)
    return _parse_answer(received)


def _read_until_closed(sock: socket.socket, *, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _parse_answer(received: bytes) -> Answer:
    head, separator, body = received.partition(b"\r\n\r\n")
    assert separator, f"no complete HTTP answer: {received[:200]!r}"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split(" ")[1]), headers, body)


def http_request(
    method: bytes | str,
    target: bytes | str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes | None = None,
    authorization: bytes | None = b"Bearer " + KEY_A.encode(),
    content_length: bool = True,
) -> bytes:
    """An HTTP/1.1 request as bytes: Host, Connection: close, the key, ``headers``, Content-Length of ``body``."""
    method = method.encode("latin-1") if isinstance(method, str) else method
    target = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    if authorization is not None:
        lines.append(b"Authorization: " + authorization)
    lines.extend(name + b": " + value for name, value in headers or [])
    if body is not None and content_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def json_request(path: str, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return http_request("POST", path, headers=[(b"Content-Type", content_type)], body=body)


def multipart_request(boundary: bytes, body: bytes, path: str = "/v1/upload") -> bytes:
    content_type = b"multipart/form-data; boundary=" + boundary
    return http_request("POST", path, headers=[(b"Content-Type", content_type)], body=body)


def form(boundary: bytes, *parts: bytes, closed: bool = True) -> bytes:
    """A multipart body of ``parts`` (each its head, a blank line and its data)."""
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + (b"--" + boundary + b"--\r\n" if closed else b"")


def file_part(data: bytes = b"RIFF", name: bytes = b"file", filename: bytes = b"a.wav") -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"'
    return disposition + b"\r\nContent-Type: audio/wav\r\n\r\n" + data


# --- the probes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    name: str
    request: Callable[[], bytes]
    #: The status and problem code expected; None for uvicorn's own refusal (plain text, never reaches the app).
    status: int | None
    code: str | None = None
    #: Extra statuses and codes one of the servers may answer instead (e.g. where only one streams the upload).
    also: frozenset[tuple[int, str]] = field(default_factory=frozenset)


def _nested(depth: int, opening: bytes = b"[", closing: bytes = b"]") -> bytes:
    return opening * depth + closing * depth


def _deep_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


LONG = b"x" * 300
BOUNDARY = b"hostileboundary"

PROBES = [
    # JSON that Python's parser cannot or should not take
    Probe(
        "json nested 1,000 deep",
        lambda: json_request("/v1/transcribe", b'{"file_id":' + _nested(1000) + b"}"),
        400,
        "malformed_body",
    ),
    Probe("json nested 100,000 deep", lambda: json_request("/v1/transcribe", _nested(100_000)), 400, "malformed_body"),
    Probe(
        "json objects 5,000 deep (upload by URL)",
        lambda: json_request("/v1/upload", _deep_objects(5000)),
        400,
        "malformed_body",
    ),
    Probe(
        "json one level past the depth limit",
        lambda: json_request("/v1/transcribe", _nested(MAX_JSON_DEPTH + 1)),
        400,
        "malformed_body",
    ),
    Probe(
        "json integer of 5,001 digits",
        lambda: json_request(
            "/v1/transcribe", b'{"file_id": "file_abcdefgh", "speakers_expected": ' + b"7" * 5001 + b"}"
        ),
        400,
        "malformed_body",
    ),
    Probe(
        "json integer of 5,001 digits (upload by URL)",
        lambda: json_request("/v1/upload", b'{"url": ' + b"1" * 5001 + b"}"),
        400,
        "malformed_body",
    ),
    Probe("json NaN", lambda: json_request("/v1/transcribe", b'{"file_id": NaN}'), 400, "malformed_body"),
    Probe("json -Infinity", lambda: json_request("/v1/transcribe", b'{"file_id": -Infinity}'), 400, "malformed_body"),
    Probe(
        "json not UTF-8",
        lambda: json_request("/v1/transcribe", b'{"file_id": "\xff\xfe\x80"}'),
        400,
        "malformed_body",
    ),
    Probe(
        "json in an unknown charset",
        lambda: json_request("/v1/transcribe", b'{"file_id": "x"}', b"application/json;charset=no-such-charset"),
        400,
        "malformed_body",
    ),
    Probe(
        "json that is not utf-32",
        lambda: json_request("/v1/transcribe", b'{"file_id": "x"}', b"application/json;charset=utf-32"),
        400,
        "malformed_body",
    ),
    Probe(
        "a 10 MB string value",
        lambda: json_request("/v1/transcribe", json.dumps({"file_id": "x" * 10_000_000}).encode()),
        400,
        "invalid_request",
    ),
    Probe(
        "a 1 MB key",
        lambda: json_request("/v1/transcribe", json.dumps({"file_id": "file_abcdefgh", "k" * 1_000_000: 1}).encode()),
        400,
        "invalid_request",
    ),
    # multipart bodies
    Probe(
        "multipart boundary of 300 characters",
        lambda: multipart_request(b"b" * 300, form(b"b" * 300, file_part())),
        400,
        "malformed_body",
    ),
    Probe(
        "multipart boundary of 257 characters",
        lambda: multipart_request(b"b" * 257, form(b"b" * 257, file_part())),
        400,
        "malformed_body",
    ),
    Probe(
        "multipart boundary of 300 characters, on an operation without multipart",
        lambda: multipart_request(b"b" * 300, form(b"b" * 300, file_part()), path="/v1/transcribe"),
        415,
        "unsupported_content_type",
    ),
    Probe(
        "multipart without a boundary",
        lambda: http_request("POST", "/v1/upload", headers=[(b"Content-Type", b"multipart/form-data")], body=b"--x--"),
        400,
        "malformed_body",
    ),
    Probe(
        "multipart part name of 100,000 characters",
        lambda: multipart_request(BOUNDARY, form(BOUNDARY, file_part(name=b"n" * 100_000))),
        400,
        "malformed_body",
        also=frozenset({(400, "invalid_request")}),
    ),
    Probe(
        "multipart part name of 1,000 characters",
        lambda: multipart_request(BOUNDARY, form(BOUNDARY, file_part(name=b"n" * 1000))),
        400,
        "invalid_request",
    ),
    Probe(
        "multipart 1,000 parts",
        lambda: multipart_request(BOUNDARY, form(BOUNDARY, *(file_part(name=b"p%d" % i) for i in range(1000)))),
        400,
        "invalid_request",
    ),
    Probe(
        "multipart part name not UTF-8",
        lambda: multipart_request(BOUNDARY, form(BOUNDARY, file_part(name=b"\xff\xfe"))),
        400,
        "invalid_request",
        also=frozenset({(400, "malformed_body")}),
    ),
    Probe(
        "multipart without its closing boundary",
        lambda: multipart_request(BOUNDARY, form(BOUNDARY, file_part(), closed=False)),
        400,
        "malformed_body",
        also=frozenset({(400, "invalid_request"), (400, "unsupported_media")}),
    ),
    Probe(
        "multipart garbage",
        lambda: multipart_request(BOUNDARY, b"\x00" * 1000 + b"--" + BOUNDARY + b"\r\n\r\n\r\n"),
        400,
        "malformed_body",
        also=frozenset({(400, "invalid_request")}),
    ),
    # header fields
    Probe(
        "a header of 1 MB",
        lambda: http_request("GET", "/v1/jobs", headers=[(b"X-Big", b"a" * 1_000_000)]),
        431,
        "headers_too_large",
    ),
    Probe(
        "10,000 header fields",
        lambda: http_request("GET", "/v1/jobs", headers=[(b"X-H%d" % i, b"v") for i in range(10_000)]),
        431,
        "headers_too_large",
    ),
    Probe(
        "one header field past the count limit",
        lambda: http_request(
            "GET", "/v1/jobs", headers=[(b"X-H%d" % i, b"v") for i in range(DEFAULTS.max_header_count)]
        ),
        431,
        "headers_too_large",
    ),
    Probe(
        "a NUL in a header value",
        lambda: http_request("GET", "/v1/jobs", headers=[(b"X-Nul", b"a\x00b")]),
        None,
    ),
    Probe(
        "a bare CR in a header value",
        lambda: http_request("GET", "/v1/jobs", headers=[(b"X-Cr", b"a\rInjected: yes")]),
        None,
    ),
    Probe(
        "a header value not UTF-8",
        lambda: http_request("GET", "/v1/jobs", headers=[(b"X-Request-Id", b"\xff\xfe\x80")]),
        200,
    ),
    Probe(
        "an Authorization header not UTF-8",
        lambda: http_request("GET", "/v1/jobs", authorization=b"Bearer \xff\xfe\x80"),
        401,
        "unauthorized",
    ),
    Probe(
        "a bearer token of 10,000 characters",
        lambda: http_request("GET", "/v1/jobs", authorization=b"Bearer " + b"k" * 10_000),
        401,
        "unauthorized",
    ),
    Probe(
        "an Idempotency-Key of 5,000 characters",
        lambda: http_request(
            "POST",
            "/v1/transcribe",
            headers=[(b"Content-Type", b"application/json"), (b"Idempotency-Key", b"i" * 5000)],
            body=b'{"file_id": "file_abcdefgh"}',
        ),
        400,
        "invalid_request",
    ),
    Probe(
        "a Content-Type of 10,000 characters",
        lambda: json_request("/v1/transcribe", b"{}", b"application/" + b"j" * 10_000),
        415,
        "unsupported_content_type",
    ),
    # paths and query strings
    Probe(
        "a NUL in the path, encoded", lambda: http_request("GET", "/v1/status/job_%00abcdefgh"), 400, "invalid_request"
    ),
    Probe("a raw NUL in the path", lambda: http_request("GET", b"/v1/status/job_\x00abcdefgh"), None),
    Probe(
        "CRLF in the path, encoded",
        lambda: http_request("GET", "/v1/status/job_%0D%0AInjected:%20yes"),
        404,
        "not_found",
    ),
    Probe("a path not UTF-8, encoded", lambda: http_request("GET", "/v1/status/%FF%FE"), 400, "invalid_request"),
    Probe("a raw byte 0xFF in the path", lambda: http_request("GET", b"/v1/status/\xff\xfe"), None),
    Probe("bad percent-encoding", lambda: http_request("GET", "/v1/status/job_%zz%"), 400, "invalid_request"),
    Probe("a path of 60,000 characters", lambda: http_request("GET", "/v1/" + "p" * 60_000), 404, "not_found"),
    Probe(
        "an id of 60,000 characters",
        lambda: http_request("GET", "/v1/status/job_" + "j" * 60_000),
        400,
        "invalid_request",
    ),
    Probe(
        "a query string of 60,000 characters",
        lambda: http_request("GET", "/v1/jobs?cursor=" + "c" * 60_000),
        400,
        "invalid_request",
    ),
    # httptools parses request targets of up to 64 KiB only
    Probe("a query string of 1 MB", lambda: http_request("GET", "/v1/jobs?cursor=" + "c" * 1_000_000), None),
    Probe(
        "5,000 query parameters",
        lambda: http_request("GET", "/v1/jobs?" + "&".join(f"q{i}=1" for i in range(5_000))),
        400,
        "invalid_request",
    ),
    Probe("a query not UTF-8", lambda: http_request("GET", "/v1/jobs?limit=%FF%FE"), 400, "invalid_request"),
    Probe(
        "a query with bad percent-encoding", lambda: http_request("GET", "/v1/jobs?limit=%zz%"), 400, "invalid_request"
    ),
    Probe(
        "a huge integer in the query",
        lambda: http_request("GET", "/v1/jobs?limit=" + "9" * 5001),
        400,
        "invalid_request",
    ),
    # methods
    Probe("TRACE", lambda: http_request("TRACE", "/v1/jobs"), 405, "invalid_request"),
    Probe("PROPFIND", lambda: http_request("PROPFIND", "/v1/jobs"), 405, "invalid_request"),
    Probe("an unknown method", lambda: http_request("FROBNICATE", "/v1/jobs"), None),
    Probe("a method of 10,000 characters", lambda: http_request("G" * 10_000, "/v1/jobs"), None),
    # Content-Length and chunked bodies
    Probe(
        "Content-Length not a number",
        lambda: http_request(
            "POST", "/v1/transcribe", headers=[(b"Content-Length", b"abc")], body=b"{}", content_length=False
        ),
        None,
    ),
    Probe(
        "Content-Length negative",
        lambda: http_request(
            "POST", "/v1/transcribe", headers=[(b"Content-Length", b"-1")], body=b"{}", content_length=False
        ),
        None,
    ),
    Probe(
        "two Content-Lengths that disagree",
        lambda: http_request(
            "POST",
            "/v1/transcribe",
            headers=[(b"Content-Length", b"2"), (b"Content-Length", b"3")],
            body=b"{}",
            content_length=False,
        ),
        None,
    ),
    Probe(
        "Content-Length of 30 digits",
        lambda: http_request(
            "POST",
            "/v1/upload",
            headers=[(b"Content-Type", b"multipart/form-data; boundary=x"), (b"Content-Length", b"9" * 30)],
            body=b"",
            content_length=False,
        ),
        None,
    ),
    Probe(
        "Content-Length past the upload limit",
        lambda: http_request(
            "POST",
            "/v1/upload",
            headers=[
                (b"Content-Type", b"multipart/form-data; boundary=x"),
                (b"Content-Length", str(DEFAULTS.max_upload_bytes + 1).encode()),
            ],
            body=b"",
            content_length=False,
        ),
        413,
        "payload_too_large",
    ),
    Probe(
        "Content-Length past the upload limit, as JSON",
        lambda: http_request(
            "POST",
            "/v1/transcribe",
            headers=[
                (b"Content-Type", b"application/json"),
                (b"Content-Length", str(DEFAULTS.max_upload_bytes + 1).encode()),
            ],
            body=b"",
            content_length=False,
        ),
        413,
        "payload_too_large",
    ),
    Probe(
        "chunked garbage",
        lambda: http_request(
            "POST",
            "/v1/transcribe",
            headers=[(b"Content-Type", b"application/json"), (b"Transfer-Encoding", b"chunked")],
            body=b"zz\r\nnot hex\r\n0\r\n\r\n",
            content_length=False,
        ),
        None,
    ),
    Probe(
        "chunked deep JSON",
        lambda: http_request(
            "POST",
            "/v1/transcribe",
            headers=[(b"Content-Type", b"application/json"), (b"Transfer-Encoding", b"chunked")],
            body=b"%x\r\n%s\r\n0\r\n\r\n" % (20_000, _nested(10_000)),
            content_length=False,
        ),
        400,
        "malformed_body",
    ),
]


@pytest.mark.parametrize("probe", PROBES, ids=[probe.name for probe in PROBES])
def test_hostile_input_gets_a_short_4xx_problem(server: Target, probe: Probe) -> None:
    answer = exchange(server, probe.request())
    if probe.status is None:
        assert (answer.status, answer.body) == (400, TRANSPORT_REFUSAL)
        return
    assert answer.status < 500, answer.body[:500]
    if probe.status < 400:
        assert answer.status == probe.status, answer.body[:500]
        return
    assert len(answer.body) <= MAX_PROBLEM_BYTES, answer.body[:500]
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    problem = answer.json()
    assert problem["code"] in ERROR_CODES
    assert problem["status"] == answer.status
    assert problem["request_id"] == answer.headers["x-request-id"]
    assert (answer.status, problem["code"]) in {(probe.status, probe.code), *probe.also}, problem


def test_a_validation_error_quotes_an_excerpt_of_the_value(server: Target) -> None:
    answer = exchange(server, json_request("/v1/transcribe", json.dumps({"file_id": "x" * 10_000_000}).encode()))
    detail = str(answer.json()["detail"])
    assert "'" + "x" * 100 + "… [cut: 10000000 characters]" in detail, detail  # the value, cut (its quotes kept)


# --- failed authentications --------------------------------------------------------------------------------------


def from_address(server: Target, address: str, authorization: bytes | None) -> Answer:
    """A request as if from ``address`` (uvicorn trusts X-Forwarded-For from 127.0.0.1, its default proxy)."""
    headers = [(b"X-Forwarded-For", address.encode())]
    return exchange(server, http_request("GET", "/v1/jobs", headers=headers, authorization=authorization))


def test_an_address_past_its_failed_authentication_limit_gets_429_until_the_window_ends(server: Target) -> None:
    guesser, neighbour = f"203.0.113.{len(server.kind)}", f"203.0.113.{len(server.kind) + 100}"
    allowed = int(DEFAULTS.auth_failure_limit.split("/")[0])
    for attempt in range(allowed):
        assert from_address(server, guesser, b"Bearer guess-%d" % attempt).status == 401
    refused = from_address(server, guesser, b"Bearer guess-again")
    assert refused.status == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == f'"auth-failures";q={allowed};w=60'
    # Even a valid key: otherwise each refused guess would be told apart from a right one.
    assert from_address(server, guesser, b"Bearer " + KEY_A.encode()).status == 429
    assert from_address(server, neighbour, b"Bearer " + KEY_A.encode()).status == 200


def test_missing_and_malformed_authorizations_are_not_counted_as_failures(server: Target) -> None:
    forgetful = f"198.51.100.{len(server.kind)}"
    allowed = int(DEFAULTS.auth_failure_limit.split("/")[0])
    for _ in range(allowed + 5):
        for authorization in (None, b"Bearer", b"Basic dXNlcjpwYXNz", b"Bearer a b"):
            assert from_address(server, forgetful, authorization).status == 401
    assert from_address(server, forgetful, b"Bearer " + KEY_A.encode()).status == 200


# --- clients that go away --------------------------------------------------------------------------------------------

DISCONNECTS = {
    "multipart upload": multipart_request(BOUNDARY, form(BOUNDARY, file_part(b"RIFF" + b"\0" * 20_000), closed=False)),
    "json body": json_request("/v1/transcribe", b'{"file_id": "file_abcdefgh", "metadata": {"k": "' + b"v" * 20_000),
}


@pytest.mark.parametrize("kind", DISCONNECTS)
def test_a_client_gone_mid_body_is_one_info_line(server: Target, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    request = DISCONNECTS[kind].replace(b"Content-Length: ", b"Content-Length: 9")  # promise more than is sent
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(request)
        time.sleep(0.2)  # let the server read what was sent before the connection goes
    deadline = time.monotonic() + 10
    while not _disconnect_lines(caplog) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_disconnect_lines(caplog)) == 1, caplog.text
    assert [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info] == []


def _disconnect_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if "disconnected" in record.getMessage()]


def test_the_mocks_reset_forgets_failed_authentications() -> None:
    settings = default_mock_settings().replace(api_keys=(KEY_A,), auth_failure_limit="1/minute")
    with running_mock(settings) as mock:
        wrong = {"Authorization": "Bearer wrong"}
        assert mock.client.get("/v1/jobs", headers=wrong).status_code == 401
        assert mock.client.get("/v1/jobs", headers=wrong).status_code == 429
        mock.reset()
        assert mock.client.get("/v1/jobs").status_code == 200


# --- the contract documents the bounds ---------------------------------------------------------------------------


def test_every_operation_documents_431_and_429() -> None:
    for path, item in load_spec()["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                assert {"429", "431"} <= set(operation["responses"]), f"{method.upper()} {path}"


def test_the_contracts_limits_are_the_defaults() -> None:
    limits = load_spec()["x-voxscriber-limits"]
    assert (limits["max_header_bytes"], limits["max_header_count"]) == (
        DEFAULTS.max_header_bytes,
        DEFAULTS.max_header_count,
    )
    assert limits["max_json_depth"] == MAX_JSON_DEPTH
