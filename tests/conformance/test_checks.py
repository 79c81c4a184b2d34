"""Exchanges as curl reproductions and report data; the check registry."""

from __future__ import annotations

import shlex

import httpx
import pytest

from conformance.checks import GROUPS, check, registered_checks
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed


def _exchange(request: httpx.Request, status: int = 400, body: bytes = b"{}") -> Exchange:
    request.read()
    return Exchange.from_httpx(httpx.Response(status, content=body, request=request))


def test_a_get_with_the_suite_key_reads_the_key_from_the_environment() -> None:
    request = httpx.Request("GET", "http://api.test/v1/jobs?limit=1", headers={"Authorization": "Bearer secret-key"})
    command = _exchange(request).curl()
    assert command.startswith('curl -sS -i -H "Authorization: Bearer $VOXSCRIBER_API_KEY"')
    assert "secret-key" not in command
    assert shlex.split(command)[-1] == "http://api.test/v1/jobs?limit=1"


def test_known_keys_get_their_variables_and_deliberately_wrong_ones_stay_visible() -> None:
    variables = {"key-a": "VOXSCRIBER_API_KEY", "key-b": "VOXSCRIBER_SECOND_API_KEY"}
    second = httpx.Request("GET", "http://api.test/v1/jobs", headers={"Authorization": "Bearer key-b"})
    wrong = httpx.Request("GET", "http://api.test/v1/jobs", headers={"Authorization": "Bearer not-a-key"})
    malformed = httpx.Request("GET", "http://api.test/v1/jobs", headers={"Authorization": "Bearer a b"})
    assert "$VOXSCRIBER_SECOND_API_KEY" in _exchange(second).curl(variables)
    assert "'Authorization: Bearer not-a-key'" in _exchange(wrong).curl(variables)
    assert "'Authorization: Bearer a b'" in _exchange(malformed).curl(variables)
    assert (
        _exchange(second).to_dict(variables)["request_headers"]["Authorization"] == "Bearer $VOXSCRIBER_SECOND_API_KEY"
    )


def test_a_json_body_is_sent_as_it_was() -> None:
    request = httpx.Request("POST", "http://api.test/v1/transcribe", json={"file_id": "file_1'2"})
    arguments = shlex.split(_exchange(request).curl())
    assert arguments[arguments.index("-X") + 1] == "POST"
    assert arguments[arguments.index("--data-raw") + 1] == '{"file_id":"file_1\'2"}'
    assert "Content-Type: application/json" in arguments


def test_a_multipart_upload_becomes_form_arguments_naming_the_file() -> None:
    files = {"file": ("x.wav", b"\x00\xffRIFF", "audio/wav")}
    request = httpx.Request("POST", "http://api.test/v1/upload", files=files, data={"note": "hi"})
    arguments = shlex.split(_exchange(request).curl())
    assert "file=@x.wav;type=audio/wav" in arguments
    assert "note=hi" in arguments
    assert not any(argument.lower().startswith("content-type: multipart") for argument in arguments)


def test_a_binary_body_is_a_file_hint() -> None:
    request = httpx.Request("POST", "http://api.test/v1/upload", content=b"\xff\xfe\x00", headers={"X": "1"})
    assert "--data-binary @body.bin" in _exchange(request).curl()
    assert _exchange(request).to_dict()["request_body"] == "<3 bytes of binary data>"


def test_an_exchange_reads_its_answer() -> None:
    request = httpx.Request("GET", "http://api.test/v1/status/job_1?x=1")
    exchange = _exchange(request, 404, b'{"code": "not_found"}')
    assert exchange.summary() == "GET /v1/status/job_1?x=1 -> 404"
    assert exchange.header("Content-Length") == "21"
    assert exchange.to_dict()["response_body"] == '{"code": "not_found"}'


def test_check_failed_carries_its_exchange() -> None:
    exchange = _exchange(httpx.Request("GET", "http://api.test/v1/jobs"))
    failure = CheckFailed("wrong", exchange=exchange, reproduction="curl x")
    assert isinstance(failure, AssertionError)
    assert (str(failure), failure.exchange, failure.reproduction) == ("wrong", exchange, "curl x")


def test_checks_register_by_group_and_name() -> None:
    def probe(ctx: object) -> None:
        """A check for this test only."""

    check("data", "registry-probe", description="A probe.")(probe)
    try:
        registered = {item.id: item for item in registered_checks("data")}
        assert registered["data/registry-probe"].function is probe
        assert "data/registry-probe" not in {item.id for item in registered_checks("auth")}
    finally:
        from conformance import checks

        del checks._REGISTRY["data/registry-probe"]
    with pytest.raises(ValueError, match="unknown check group"):
        check("nope", "x", description="")
    assert GROUPS[-1] == "rate-limit"
