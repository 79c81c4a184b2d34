"""``voxcontract lint``: the contract is clean, and each kind of breakage is found where it is."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from voxcontract.spec import load_spec
from voxcontract.tools import lint_registry
from voxcontract.tools.lint import Finding, lint_document, rule_ids

Document = dict[str, Any]

UPLOAD = "#/paths/~1v1~1upload/post"
JOBS = "#/paths/~1v1~1jobs/get"
TRANSCRIBE = "#/paths/~1v1~1transcribe/post"


def _operation(document: Document, path: str, method: str) -> Any:
    return document["paths"][path][method]


def _json_example(document: Document, path: str, method: str, name: str, status: str | None = None) -> Any:
    holder = _operation(document, path, method)
    holder = holder["responses"][status] if status else holder["requestBody"]
    return holder["content"]["application/json"]["examples"][name]["value"]


def _drop_401(document: Document) -> None:
    del _operation(document, "/v1/jobs", "get")["responses"]["401"]


def _bad_request_example(document: Document) -> None:
    _json_example(document, "/v1/transcribe", "post", "full")["language"] = "english"


def _bad_response_example(document: Document) -> None:
    _json_example(document, "/v1/jobs", "get", "empty", status="200")["has_more"] = "no"


def _bad_component_example(document: Document) -> None:
    document["components"]["examples"]["FileUploaded"]["value"]["size_bytes"] = -1


def _bad_uri_in_example(document: Document) -> None:
    _json_example(document, "/v1/upload", "post", "fromUrl")["url"] = "https://media.example.com/a b"


def _bad_parameter_example(document: Document) -> None:
    document["components"]["parameters"]["Limit"]["example"] = 500


def _bad_schema_example(document: Document) -> None:
    document["components"]["schemas"]["FileId"]["example"] = "file_"


def _link(document: Document, name: str) -> Any:
    return _operation(document, "/v1/upload", "post")["responses"]["201"]["links"][name]


def _unknown_link_operation(document: Document) -> None:
    _link(document, "GetFile")["operationId"] = "readFile"


def _unknown_link_parameter(document: Document) -> None:
    _link(document, "GetFile")["parameters"] = {"fileId": "$response.body#/file_id"}


def _link_to_missing_field(document: Document) -> None:
    _link(document, "GetFile")["parameters"] = {"file_id": "$response.body#/id"}


def _malformed_expression(document: Document) -> None:
    _link(document, "StartTranscription")["requestBody"] = {"file_id": "$response.bdy#/file_id"}


def _error_as_json(document: Document) -> None:
    content = document["components"]["responses"]["NotFound"]["content"]
    content["application/json"] = content.pop("application/problem+json")


def _inline_error_as_json(document: Document) -> None:
    responses = _operation(document, "/v1/jobs", "get")["responses"]
    schema = {"$ref": "#/components/schemas/Problem"}
    responses["500"] = {"description": "Oops.", "content": {"application/json": {"schema": schema}}}


def _drop_www_authenticate(document: Document) -> None:
    del document["components"]["responses"]["Unauthorized"]["headers"]["WWW-Authenticate"]


def _unused_schema(document: Document) -> None:
    document["components"]["schemas"]["Orphan"] = {"type": "string"}


def _undeclared_tag(document: Document) -> None:
    _operation(document, "/v1/jobs", "get")["tags"] = ["Jobs", "Admin"]


def _duplicate_operation_id(document: Document) -> None:
    _operation(document, "/v1/jobs", "get")["operationId"] = "uploadFile"


def _duplicate_callback_operation_id(document: Document) -> None:
    callback = _operation(document, "/v1/transcribe", "post")["callbacks"]["transcriptionEvent"]
    callback["{$request.body#/webhook_url}"]["post"]["operationId"] = "listJobs"


def _drop_summary(document: Document) -> None:
    del _operation(document, "/v1/jobs", "get")["summary"]


def _drop_description(document: Document) -> None:
    del _operation(document, "/v1/jobs", "get")["description"]


def _broken_ref(document: Document) -> None:
    _operation(document, "/v1/jobs", "get")["responses"]["500"] = {"$ref": "#/components/responses/Oops"}


def _invalid_structure(document: Document) -> None:
    document["info"]["version"] = 1


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    mutate: Callable[[Document], None]
    pointer: str
    rule: str
    says: str  # a part of the message


CALLBACK = f"{TRANSCRIBE}/callbacks/transcriptionEvent/{{$request.body#~1webhook_url}}/post"
CASES = [
    Case("missing-401", _drop_401, f"{JOBS}/responses", "error-responses", "no 401 response"),
    Case(
        "request-example",
        _bad_request_example,
        f"{TRANSCRIBE}/requestBody/content/application~1json/examples/full",
        "examples-valid",
        "$.language",
    ),
    Case(
        "response-example",
        _bad_response_example,
        f"{JOBS}/responses/200/content/application~1json/examples/empty",
        "examples-valid",
        "'no' is not of type 'boolean'",
    ),
    Case(
        "component-example",
        _bad_component_example,
        f"{UPLOAD}/responses/201/content/application~1json/examples/uploaded",
        "examples-valid",
        "example #/components/examples/FileUploaded",
    ),
    Case(
        "uri-format",
        _bad_uri_in_example,
        f"{UPLOAD}/requestBody/content/application~1json/examples/fromUrl",
        "examples-valid",
        "is not a 'uri'",
    ),
    Case("parameter-example", _bad_parameter_example, "#/components/parameters/Limit/example", "examples-valid", "500"),
    Case("schema-example", _bad_schema_example, "#/components/schemas/FileId/example", "examples-valid", "'file_'"),
    Case(
        "link-operation",
        _unknown_link_operation,
        f"{UPLOAD}/responses/201/links/GetFile/operationId",
        "links-resolve",
        "'readFile'",
    ),
    Case(
        "link-parameter",
        _unknown_link_parameter,
        f"{UPLOAD}/responses/201/links/GetFile/parameters/fileId",
        "links-resolve",
        "getFile has no parameter 'fileId'",
    ),
    Case(
        "link-body-field",
        _link_to_missing_field,
        f"{UPLOAD}/responses/201/links/GetFile/parameters/file_id",
        "links-resolve",
        "has no '/id'",
    ),
    Case(
        "link-expression",
        _malformed_expression,
        f"{UPLOAD}/responses/201/links/StartTranscription/requestBody/file_id",
        "links-resolve",
        "not a valid runtime expression",
    ),
    Case(
        "error-as-json",
        _error_as_json,
        "#/components/responses/NotFound/content",
        "problem-json",
        "documented as application/json",
    ),
    Case(
        "inline-error-as-json",
        _inline_error_as_json,
        f"{JOBS}/responses/500/content",
        "problem-json",
        "documented as application/json",
    ),
    Case(
        "www-authenticate",
        _drop_www_authenticate,
        "#/components/responses/Unauthorized",
        "unauthorized-header",
        "WWW-Authenticate",
    ),
    Case("unused-schema", _unused_schema, "#/components/schemas/Orphan", "unused-components", "'Orphan'"),
    Case("undeclared-tag", _undeclared_tag, f"{JOBS}/tags/1", "operation-tags", "'Admin' is not declared"),
    Case("duplicate-operation-id", _duplicate_operation_id, JOBS, "operation-id", f"also used by {UPLOAD}"),
    Case("duplicate-in-callback", _duplicate_callback_operation_id, CALLBACK, "operation-id", "'listJobs'"),
    Case("missing-summary", _drop_summary, JOBS, "operation-summary", "no summary"),
    Case("missing-description", _drop_description, JOBS, "operation-description", "no description"),
    Case("broken-ref", _broken_ref, f"{JOBS}/responses/500", "refs-resolve", "'#/components/responses/Oops'"),
    Case("invalid-structure", _invalid_structure, "#/info/version", "openapi-valid", "1"),
]


def _findings_of(mutate: Callable[[Document], None]) -> list[Finding]:
    document = load_spec()  # a fresh deep copy on every call
    mutate(document)
    return lint_document(document)


def test_the_contract_has_no_findings() -> None:
    assert lint_document(load_spec()) == []


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_broken_contract_is_reported_where_it_breaks(case: Case) -> None:
    findings = _findings_of(case.mutate)

    matching = [f for f in findings if (f.pointer, f.rule) == (case.pointer, case.rule)]
    assert matching, "\n".join(map(str, findings))
    assert any(case.says in finding.message for finding in matching), matching


def test_a_referenced_example_is_reported_where_each_use_is() -> None:
    findings = _findings_of(_bad_component_example)

    pointers = {finding.pointer for finding in findings if finding.rule == "examples-valid"}
    assert pointers == {
        f"{UPLOAD}/responses/201/content/application~1json/examples/uploaded",
        "#/paths/~1v1~1files~1{file_id}/get/responses/200/content/application~1json/examples/uploaded",
    }


def test_an_unsecured_operation_needs_no_401() -> None:
    findings = _findings_of(lambda document: _operation(document, "/v1/health", "get")["responses"].pop("429"))

    assert [(f.pointer, f.message) for f in findings] == [("#/paths/~1v1~1health/get/responses", "no 429 response")]


def test_findings_are_sorted_and_unique() -> None:
    def break_many(document: Document) -> None:
        for mutate in (_drop_summary, _unused_schema, _drop_401, _undeclared_tag, _error_as_json):
            mutate(document)

    findings = _findings_of(break_many)

    assert findings == sorted(set(findings), key=lambda f: (f.pointer, f.rule, f.message))
    assert len(findings) == 5


def test_a_finding_reads_as_pointer_rule_message() -> None:
    finding = Finding("#/paths/~1v1~1upload/post/responses", "error-responses", "no 401 response")

    assert str(finding) == "#/paths/~1v1~1upload/post/responses  [error-responses]  no 401 response"


def test_every_rule_is_registered() -> None:
    assert rule_ids() == sorted(
        [
            "openapi-valid",
            "operation-id",
            "operation-summary",
            "operation-tags",
            "operation-description",
            "error-responses",
            "problem-json",
            "unauthorized-header",
            "examples-valid",
            "links-resolve",
            "unused-components",
            "refs-resolve",
        ]
    )


ODD_DOCUMENTS: list[Any] = [
    {},
    {"openapi": 3},
    {"openapi": "3.0.3", "paths": []},
    {"openapi": "3.0.3", "info": {}, "paths": {"/x": []}, "components": {"schemas": []}, "tags": "x"},
    {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "parameters": [1, {"$ref": "#/nowhere"}],
                "get": {
                    "tags": [{}],
                    "responses": {"200": {"$ref": 5}, "400": {"content": []}, "401": {"headers": []}},
                    "callbacks": {"a": {"$ref": "#/x"}, "b": [], "c": {"{$url}": {"post": {"links": 1}}}},
                    "security": {"a": 1},
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/a"}, "example": 1}}},
                    "parameters": [{"name": "q", "in": "query", "schema": {"pattern": "("}, "example": "x"}],
                },
            }
        },
    },
]


@pytest.mark.parametrize("document", ODD_DOCUMENTS)
def test_an_odd_document_gives_findings_not_exceptions(document: Any) -> None:
    findings = lint_document(document)

    assert findings
    assert not [f for f in findings if "could not check" in f.message], findings


def test_a_rule_that_fails_is_reported_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(document: Any) -> Iterable[tuple[str, str]]:
        raise RuntimeError("boom")

    rule_ids()  # the rules are registered
    monkeypatch.setitem(lint_registry._RULES, "explode", explode)

    findings = _findings_of(_drop_summary)

    assert Finding("#", "explode", "could not check the document: RuntimeError: boom") in findings
    assert any(finding.rule == "operation-summary" for finding in findings)
