"""Validators built once per operation, and jsonschema-rs accepting only what Connexion's Python validators accept.

The speed of the request path rests on two things tested here: each operation's validators are built once (not
per request, as Connexion does), and a compiled validator judges first while the Python validator keeps the last
word: on the contract's every schema, no instance the compiled validator accepts is refused by the Python one.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from connexion.json_schema import Draft4RequestValidator, Draft4ResponseValidator, resolve_refs
from jsonschema import Draft4Validator, ValidationError
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from tests.test_asgi import auth, build_app
from voxcontract.asgi import ContractApp, OnceDecoratedOperation
from voxcontract.middleware.swagger_ui import RoutedSwaggerUIMiddleware
from voxcontract.middleware.validation import (
    MAX_BODY_VALIDATORS,
    CompiledRequestValidationOperation,
    CompiledResponseValidationOperation,
)
from voxcontract.middleware.validators import FastAcceptValidator, fast_accept
from voxcontract.spec import load_spec

CONTRACT = resolve_refs(load_spec())

#: Values put in place of each property of an example: wrong types, edge strings, formats at their edges.
ODD_VALUES: list[Any] = [
    None, 0, -1, 1.5, 1.0, 2**60, -(2**60), True, "", "x" * 300, [], {}, ["a"], {"a": 1},
    "2026-02-30T00:00:00Z", "2026-12-31T23:59:60Z", "2026-01-01t00:00:00z", "2026-01-01T00:00:00",
    "not a uri", "http://exa mple.com/", "https://example.com/a\n", "job_abc\n", "üñï", "auto", "en", "EN",
]  # fmt: skip


def media_schemas(content: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    for media in content.values():
        if "schema" in media:
            examples = [example["value"] for example in media.get("examples", {}).values() if "value" in example]
            yield media["schema"], examples + ([media["example"]] if "example" in media else [])


def contract_schemas() -> Iterator[tuple[str, dict[str, Any], list[Any], bool]]:
    """(where, schema, its examples, whether it answers) for every body and response of the contract."""
    for path, methods in CONTRACT["paths"].items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for schema, examples in media_schemas(operation.get("requestBody", {}).get("content", {})):
                yield f"{method} {path} request", schema, examples, False
            for status, response in operation["responses"].items():
                for schema, examples in media_schemas(response.get("content", {})):
                    yield f"{method} {path} {status}", schema, examples, True


def mutations(instance: Any, depth: int = 2) -> Iterator[Any]:
    """``instance``, then copies with one property removed, replaced by an odd value, or added."""
    yield instance
    if not isinstance(instance, dict) or depth == 0:
        return
    for key, value in instance.items():
        without = copy.deepcopy(instance)
        del without[key]
        yield without
        for odd in ODD_VALUES:
            yield {**copy.deepcopy(instance), key: odd}
        for inner in list(mutations(value, depth - 1))[1:]:
            yield {**copy.deepcopy(instance), key: inner}
    yield {**copy.deepcopy(instance), "unexpected": 1}


def python_validator(schema: dict[str, Any], answers: bool) -> Any:
    validator_class = Draft4ResponseValidator if answers else Draft4RequestValidator
    return validator_class(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


SCHEMAS = list(contract_schemas())


@pytest.mark.parametrize(("where", "schema", "examples", "answers"), SCHEMAS, ids=[s[0] for s in SCHEMAS])
def test_the_compiled_validator_accepts_only_what_python_accepts(
    where: str, schema: dict[str, Any], examples: list[Any], answers: bool
) -> None:
    python = python_validator(schema, answers)
    fast = fast_accept(python, schema, nullable=True)
    if not isinstance(fast, FastAcceptValidator):
        return  # left to the Python validator alone
    for example in examples:
        for instance in [*mutations(example), *ODD_VALUES]:
            if fast.compiled.is_valid(instance):
                assert python.is_valid(instance), f"{where}: compiled accepted {instance!r}"


def test_the_contracts_own_examples_take_the_fast_path() -> None:
    """Every documented example the Python validator accepts, the compiled one accepts too (else no speed)."""
    checked = 0
    for where, schema, examples, answers in SCHEMAS:
        python = python_validator(schema, answers)
        fast = fast_accept(python, schema, nullable=True)
        assert isinstance(fast, FastAcceptValidator), where
        for example in examples:
            if python.is_valid(example):
                assert fast.compiled.is_valid(example), f"{where}: {example!r}"
                checked += 1
    assert checked >= 10


def test_null_passes_a_nullable_type_and_enum_on_the_fast_path() -> None:
    schema = {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "nullable": True},
            "mode": {"type": "string", "enum": ["a", "b"], "nullable": True},
            "name": {"type": "string"},
        },
    }
    fast = fast_accept(python_validator(schema, True), schema, nullable=True)
    assert isinstance(fast, FastAcceptValidator)
    assert fast.compiled.is_valid({"count": None, "mode": None})
    assert not fast.compiled.is_valid({"name": None})
    with pytest.raises(ValidationError, match="None is not of type 'string'"):
        fast.validate({"name": None})


def test_a_refusal_carries_the_python_validators_message() -> None:
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    fast = fast_accept(python_validator(schema, True), schema, nullable=True)
    with pytest.raises(ValidationError, match="'yesterday' is not a 'date-time'"):
        fast.validate({"at": "yesterday"})
    fast.validate({"at": "2026-01-01T00:00:00Z"})


def test_a_value_json_cannot_hold_is_judged_by_python() -> None:
    schema = {"type": "object"}
    fast = fast_accept(python_validator(schema, False), schema, nullable=True)
    fast.validate({1: "a non-string key"})  # jsonschema-rs raises on it; Python's Draft 4 accepts the object


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"secret": {"type": "string", "writeOnly": True}}},
        {"type": "number", "multipleOf": 0.01},
        {"type": "integer", "maximum": 2**53},
        {"$ref": "#/components/schemas/Job"},
    ],
)
def test_schemas_only_python_judges_right_are_left_to_it(schema: dict[str, Any]) -> None:
    python = python_validator(schema, True)
    assert fast_accept(python, schema, nullable=True) is python


# --- validators built once per operation -------------------------------------------------------------------


def operations_of(app: ContractApp, middleware_class: type) -> dict[str, Any]:
    """The routed operations of the Connexion middleware of ``middleware_class`` (the stack is built by then)."""
    for middleware in app.connexion.middleware.middleware_stack or []:
        for apis in getattr(middleware, "apis", {}).values():
            for api in apis if isinstance(apis, list) else [apis]:
                operations = {key: op for key, op in api.operations.items() if isinstance(op, middleware_class)}
                if operations:
                    return operations
    raise AssertionError(f"no {middleware_class.__name__} in the stack")


def test_a_body_validator_is_built_once_per_media_type_and_charset() -> None:
    app = build_app()
    with TestClient(app) as client:
        for _ in range(2):
            response = client.post("/v1/upload", headers=auth(), json={"url": "https://example.com/talk.mp3"})
            assert response.status_code == 201, response.text
        upload = operations_of(app, CompiledRequestValidationOperation)["uploadFile"]
        first = upload._body_validators[("application/json", "utf-8")]
        client.post("/v1/upload", headers=auth(), json={"url": "https://example.com/again.mp3"})
        assert upload._body_validators[("application/json", "utf-8")] is first


def test_charsets_a_client_makes_up_do_not_grow_the_cache() -> None:
    app = build_app()
    with TestClient(app) as client:
        for n in range(MAX_BODY_VALIDATORS + 10):
            headers = {**auth(), "Content-Type": f"application/json;charset=made-up-{n}"}
            response = client.post("/v1/upload", headers=headers, content=b'{"url": "https://example.com/a.mp3"}')
            assert response.status_code == 400, response.text
        upload = operations_of(app, CompiledRequestValidationOperation)["uploadFile"]
        assert len(upload._body_validators) == MAX_BODY_VALIDATORS


def test_a_response_validator_is_built_once_per_status_and_media_type() -> None:
    # Connexion's stack, as it serves the requests the fast path leaves to it (voxcontract.middleware.fast_path)
    app = build_app(validate_responses=True, fast_path=False)
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/v1/health").status_code == 200
        health = operations_of(app, CompiledResponseValidationOperation)["getHealth"]
        assert list(health._body_validators) == [("200", "application/json", "utf-8")]


def test_handlers_are_decorated_once() -> None:
    app = build_app(fast_path=False)
    with TestClient(app) as client:
        assert client.get("/v1/health").status_code == 200
        (api,) = [api for apis in app.connexion._middleware_app.apis.values() for api in apis]
        operations = api.operations
        assert all(isinstance(operation, OnceDecoratedOperation) for operation in operations.values())
        health = operations["getHealth"]
        assert health.fn is health.fn


# --- the Swagger UI's router only for its paths -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/ui/", 200), ("/v1/ui", 307), ("/v1/ui/swagger-ui-config.json", 200), ("/v1/openapi.json", 200)],
)
def test_the_swagger_ui_still_serves_its_paths(path: str, status: int) -> None:
    with TestClient(build_app(), follow_redirects=False) as client:
        assert client.get(path).status_code == status


def test_a_request_to_the_api_skips_the_swagger_ui_router() -> None:
    """Connexion's middleware hands a copy of the scope on after its router; the API's requests get the original."""
    seen: list[Scope] = []

    async def next_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    middleware = RoutedSwaggerUIMiddleware(next_app, ui_path="/v1/ui", document_paths=["/v1/openapi.json"])
    scope: Scope = {"type": "http", "method": "GET", "path": "/v1/status/job_1", "root_path": "", "headers": []}

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    asyncio.run(middleware(scope, receive, send))
    assert seen == [scope]
    assert seen[0] is scope


def test_a_schema_that_contains_itself_is_left_to_python() -> None:
    # A resolved recursive $ref is a dict inside itself: walking it must end, and jsonschema-rs takes no cycle.
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    schema["properties"]["child"] = schema
    python = Draft4Validator(schema)
    assert fast_accept(python, schema, nullable=True) is python
