"""Acceptance of the contract itself: the three libraries built on it load it, and its examples are valid.

Connexion serves it, openapi-core validates against it, Schemathesis generates tests (and a state machine from its
links) from it; every request and response example passes openapi-core's own validation; and the Python error
catalogue matches the contract's ``ErrorCode`` enum.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import connexion
import pytest
import schemathesis
from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse
from schemathesis.specs.openapi.stateful import collect_transitions

from voxcontract import errors
from voxcontract.spec import Operation, deref, iter_operations, load_spec, openapi_core_spec, spec_path

DOCUMENT = load_spec()
HOST_URL = DOCUMENT["servers"][0]["url"]
AUTHORIZATION = {"Authorization": "Bearer contract-test-key"}


@pytest.fixture(scope="module")
def core_api() -> OpenAPI:
    return openapi_core_spec()  # type: ignore[no-any-return]


# --- the contract loads in every library built on it ------------------------------------------------------


def test_connexion_builds_its_middleware_stack_from_the_contract() -> None:
    app = connexion.AsyncApp(__name__)
    app.add_api(spec_path(), resolver_error=501)

    # Connexion builds lazily, so only a request proves the stack (routing, security, validation) builds.
    response = app.test_client().get("/v1/health")

    assert response.status_code == 501  # routed to the operation, which has no handler here
    assert response.headers["content-type"] == "application/problem+json"


def test_openapi_core_loads_the_contract() -> None:
    from_file = OpenAPI.from_file_path(str(spec_path()))
    shared = openapi_core_spec()

    for api in (from_file, shared):
        assert set((api.spec / "paths").keys()) == set(DOCUMENT["paths"])


def test_schemathesis_finds_every_operation() -> None:
    schema = schemathesis.openapi.from_path(spec_path())

    operations = [result.ok() for result in schema.get_all_operations()]

    assert len(operations) == 10
    for operation_id in (operation.operation_id for operation in iter_operations(DOCUMENT)):
        assert schema.find_operation_by_id(operation_id).label == _label(str(operation_id))


def test_schemathesis_builds_a_state_machine_from_the_links() -> None:
    schema = schemathesis.openapi.from_path(spec_path())

    machine = schema.as_state_machine()

    assert "POST /v1/upload -> 201" in machine.bundles
    assert "POST /v1/transcribe -> 202" in machine.bundles


def _label(operation_id: str) -> str:
    operation = next(op for op in iter_operations(DOCUMENT) if op.operation_id == operation_id)
    return f"{operation.method.upper()} {operation.path}"


def _declared_links() -> Iterator[tuple[str, str, str, str]]:
    """``(source label, status, link name, target label)`` of every link of the contract."""
    for operation in iter_operations(DOCUMENT):
        for status, response in operation.definition["responses"].items():
            for name, link in deref(DOCUMENT, response).get("links", {}).items():
                source = f"{operation.method.upper()} {operation.path}"
                yield source, str(status), name, _label(link["operationId"])


def test_schemathesis_follows_every_declared_link() -> None:
    schema = schemathesis.openapi.from_path(spec_path())
    transitions = collect_transitions([result.ok() for result in schema.get_all_operations()])

    followed = {
        (source, link.status_code, link.name, link.target.label)
        for source, operation in transitions.operations.items()
        for link in operation.outgoing
    }

    assert set(_declared_links()) <= followed
    assert ("POST /v1/upload", "201", "StartTranscription", "POST /v1/transcribe") in followed
    assert ("POST /v1/transcribe", "202", "GetJobStatus", "GET /v1/status/{job_id}") in followed


# --- every example passes openapi-core's validation -------------------------------------------------------


def _examples(media_type: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, example in media_type.get("examples", {}).items():
        yield name, deref(DOCUMENT, example)["value"]


def _encode(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def _parameter_examples(operation: Operation, location: str) -> dict[str, str]:
    parameters = operation.parameters(DOCUMENT)
    return {p["name"]: str(p["example"]) for p in parameters if p["in"] == location and "example" in p}


def _request(operation: Operation, body: bytes | None = None, content_type: str = "application/json") -> MockRequest:
    path = operation.path
    for name, value in _parameter_examples(operation, "path").items():
        path = path.replace(f"{{{name}}}", value)
    headers = {**_parameter_examples(operation, "header"), **AUTHORIZATION}
    query = _parameter_examples(operation, "query")
    return MockRequest(
        HOST_URL, operation.method, path, args=query, headers=headers, data=body, content_type=content_type
    )


@dataclass(frozen=True, slots=True)
class ResponseExample:
    operation: Operation
    status: int
    media_type: str | None
    body: bytes

    def mock(self) -> MockResponse:
        media_type = self.media_type or "application/octet-stream"
        return MockResponse(self.body, status_code=self.status, content_type=media_type)


def _response_examples() -> Iterator[Any]:
    for operation in iter_operations(DOCUMENT):
        for status, raw in operation.definition["responses"].items():
            content = deref(DOCUMENT, raw).get("content", {})
            if not content:
                yield pytest.param(
                    ResponseExample(operation, int(status), None, b""), id=f"{operation.operation_id}-{status}-no-body"
                )
            for media_type_name, media_type in content.items():
                for name, value in _examples(media_type):
                    example = ResponseExample(operation, int(status), media_type_name, _encode(value))
                    yield pytest.param(example, id=f"{operation.operation_id}-{status}-{name}")


@pytest.mark.parametrize("example", list(_response_examples()))
def test_every_response_example_is_a_valid_response(core_api: OpenAPI, example: ResponseExample) -> None:
    core_api.validate_response(_request(example.operation), example.mock())


def _request_examples() -> Iterator[Any]:
    for operation in iter_operations(DOCUMENT):
        content = deref(DOCUMENT, operation.definition.get("requestBody", {})).get("content", {})
        if not content:
            yield pytest.param(operation, None, None, id=f"{operation.operation_id}-request")
        for media_type_name, media_type in content.items():
            for name, value in _examples(media_type):
                yield pytest.param(operation, media_type_name, value, id=f"{operation.operation_id}-request-{name}")


@pytest.mark.parametrize(("operation", "media_type", "body"), list(_request_examples()))
def test_every_request_example_is_a_valid_request(
    core_api: OpenAPI, operation: Operation, media_type: str | None, body: Any
) -> None:
    request = _request(operation, None if body is None else _encode(body), media_type or "application/json")

    core_api.validate_request(request)


def test_a_wrong_example_would_be_rejected(core_api: OpenAPI) -> None:
    operation = next(op for op in iter_operations(DOCUMENT) if op.operation_id == "getJobStatus")
    job = {**deref(DOCUMENT, DOCUMENT["components"]["examples"]["JobQueued"])["value"], "status": "waiting"}
    problem = {**deref(DOCUMENT, DOCUMENT["components"]["examples"]["ProblemNotFound"])["value"], "code": "gone"}

    with pytest.raises(OpenAPIError):
        core_api.validate_response(_request(operation), MockResponse(_encode(job), status_code=200))
    response = MockResponse(_encode(problem), status_code=404, content_type="application/problem+json")
    with pytest.raises(OpenAPIError):
        core_api.validate_response(_request(operation), response)
    with pytest.raises(OpenAPIError):  # no API key
        core_api.validate_request(MockRequest(HOST_URL, "get", "/v1/status/job_3kTq9WmZpL2vX8aB"))


def test_the_examples_cover_every_operation() -> None:
    covered = {param.values[0].operation.operation_id for param in _response_examples()}

    assert covered == {operation.operation_id for operation in iter_operations(DOCUMENT)}


def test_openapi_core_spec_reads_every_media_type_of_the_contract() -> None:
    problem = deref(DOCUMENT, DOCUMENT["components"]["examples"]["ProblemInternal"])["value"]
    request = MockRequest(HOST_URL, "get", "/v1/health")
    response = MockResponse(_encode(problem), status_code=500, content_type="application/problem+json")

    openapi_core_spec().validate_response(request, response)


# --- the error catalogue ----------------------------------------------------------------------------------


def _problem_classes(base: type[errors.ProblemError] = errors.ProblemError) -> Iterator[type[errors.ProblemError]]:
    yield base
    for subclass in base.__subclasses__():
        yield from _problem_classes(subclass)


def test_every_problem_code_is_in_the_contract() -> None:
    documented = set(DOCUMENT["components"]["schemas"]["ErrorCode"]["enum"])

    assert {cls.code for cls in _problem_classes()} <= documented


def test_every_contract_error_code_has_a_problem_class() -> None:
    documented = set(DOCUMENT["components"]["schemas"]["ErrorCode"]["enum"])

    # transcription_failed and processing_timeout describe failed jobs (JobError), never an HTTP answer.
    assert documented - {cls.code for cls in _problem_classes()} == {"transcription_failed", "processing_timeout"}


# --- what OpenAPI 3.0 cannot say in a schema ---------------------------------------------------------------------


def test_the_metadata_key_bound_is_the_cores() -> None:
    from voxcontract.transcription import MAX_METADATA_KEY_LENGTH

    assert DOCUMENT["components"]["schemas"]["Metadata"]["x-voxscriber-max-key-length"] == MAX_METADATA_KEY_LENGTH
