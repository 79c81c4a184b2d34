"""``voxcontract diff``: each kind of change, its direction, its pointer; odd input as SpecError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from voxcontract.errors import SpecError
from voxcontract.spec import load_spec
from voxcontract.tools.diff import Change, diff_documents

Mutation = Callable[[dict[str, Any]], None]

SCHEMAS = ("components", "schemas")
PARAMETERS = ("components", "parameters")
TRANSCRIBE = "#/paths/~1v1~1transcribe/post"
TRANSCRIBE_BODY = f"{TRANSCRIBE}/requestBody/content/application~1json/schema"
STATUS = "#/paths/~1v1~1status~1{job_id}/get"
STATUS_BODY = f"{STATUS}/responses/200/content/application~1json/schema"
UPLOAD_BODY = "#/paths/~1v1~1upload/post/responses/201/content/application~1json/schema"
JOBS = "#/paths/~1v1~1jobs/get"
WEBHOOK_BODY = (
    f"{TRANSCRIBE}/callbacks/transcriptionEvent/{{$request.body#~1webhook_url}}/post"
    "/requestBody/content/application~1json/schema"
)


def _node(doc: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def put(*path: str | int, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        _node(doc, path[:-1])[path[-1]] = value

    return mutate


def delete(*path: str | int) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        del _node(doc, path[:-1])[path[-1]]

    return mutate


def append(*path: str | int, value: Any) -> Mutation:
    return lambda doc: _node(doc, path).append(value)


def remove(*path: str | int, value: Any) -> Mutation:
    return lambda doc: _node(doc, path).remove(value)


def chain(*mutations: Mutation) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(doc)

    return mutate


def rename_status_template(doc: dict[str, Any]) -> None:
    """``/v1/status/{job_id}`` becomes ``/v1/status/{id}``, its inline parameter renamed alike."""
    item = doc["paths"].pop("/v1/status/{job_id}")
    item["parameters"] = [{**doc["components"]["parameters"]["JobId"], "name": "id"}]
    doc["paths"]["/v1/status/{id}"] = item


def diff_with(mutation: Mutation) -> list[Change]:
    new = load_spec()
    mutation(new)
    return diff_documents(load_spec(), new)


CASES: list[tuple[str, Mutation, str, bool, str]] = [
    (
        "operation removed",
        delete("paths", "/v1/jobs/{job_id}", "delete"),
        "operation-removed",
        True,
        "#/paths/~1v1~1jobs~1{job_id}/delete",
    ),
    (
        "operation added",
        put("paths", "/v1/jobs", "post", value={"responses": {"201": {"description": "Created."}}}),
        "operation-added",
        False,
        "#/paths/~1v1~1jobs/post",
    ),
    (
        "parameter removed",
        delete("paths", "/v1/jobs", "get", "parameters", 2),
        "parameter-removed",
        True,
        f"{JOBS}/parameters/2",
    ),
    (
        "required parameter added",
        append("paths", "/v1/jobs", "get", "parameters", value={"name": "X-Tenant", "in": "header", "required": True}),
        "required-parameter-added",
        True,
        f"{JOBS}/parameters/3",
    ),
    (
        "optional parameter added",
        append("paths", "/v1/jobs", "get", "parameters", value={"name": "since", "in": "query"}),
        "parameter-added",
        False,
        f"{JOBS}/parameters/3",
    ),
    (
        "parameter optional to required",
        put(*PARAMETERS, "Limit", "required", value=True),
        "parameter-required-added",
        True,
        f"{JOBS}/parameters/0",
    ),
    (
        "parameter enum narrowed",
        remove(*PARAMETERS, "TranscriptFormat", "schema", "enum", value="vtt"),
        "enum-narrowed",
        True,
        "#/paths/~1v1~1transcripts~1{job_id}/get/parameters/0/schema",
    ),
    (
        "parameter type changed",
        put(*PARAMETERS, "Limit", "schema", "type", value="string"),
        "type-changed",
        True,
        f"{JOBS}/parameters/0/schema",
    ),
    (
        "request property removed (additionalProperties false)",
        delete(*SCHEMAS, "TranscriptionRequest", "properties", "diarization"),
        "property-removed",
        True,
        f"{TRANSCRIBE_BODY}/properties/diarization",
    ),
    (
        "required request property added",
        chain(
            put(*SCHEMAS, "TranscriptionRequest", "properties", "priority", value={"type": "integer"}),
            append(*SCHEMAS, "TranscriptionRequest", "required", value="priority"),
        ),
        "required-property-added",
        True,
        f"{TRANSCRIBE_BODY}/properties/priority",
    ),
    (
        "optional request property added",
        put(*SCHEMAS, "TranscriptionRequest", "properties", "priority", value={"type": "integer"}),
        "property-added",
        False,
        f"{TRANSCRIBE_BODY}/properties/priority",
    ),
    (
        "request property optional to required",
        append(*SCHEMAS, "TranscriptionRequest", "required", value="language"),
        "property-required-added",
        True,
        f"{TRANSCRIBE_BODY}/properties/language",
    ),
    (
        "request enum narrowed",
        remove(*SCHEMAS, "TimestampGranularity", "enum", value="word"),
        "enum-narrowed",
        True,
        f"{TRANSCRIBE_BODY}/properties/timestamps",
    ),
    (
        "request enum widened",
        append(*SCHEMAS, "TimestampGranularity", "enum", value="paragraph"),
        "enum-widened",
        False,
        f"{TRANSCRIBE_BODY}/properties/timestamps",
    ),
    (
        "request type changed",
        put(*SCHEMAS, "TranscriptionRequest", "properties", "diarization", "type", value="string"),
        "type-changed",
        True,
        f"{TRANSCRIBE_BODY}/properties/diarization",
    ),
    (
        "request maxLength lowered",
        put(*SCHEMAS, "TranscriptionRequest", "properties", "webhook_url", "maxLength", value=100),
        "constraint-tightened",
        True,
        f"{TRANSCRIBE_BODY}/properties/webhook_url",
    ),
    (
        "request maximum raised",
        put(*SCHEMAS, "TranscriptionRequest", "properties", "speakers_expected", "maximum", value=20),
        "constraint-loosened",
        False,
        f"{TRANSCRIBE_BODY}/properties/speakers_expected",
    ),
    (
        "request pattern changed",
        put(*SCHEMAS, "Language", "pattern", value="^(auto|[a-z]{3})$"),
        "constraint-changed",
        True,
        f"{TRANSCRIBE_BODY}/properties/language",
    ),
    (
        "request nullable removed",
        put(*SCHEMAS, "TranscriptionRequest", "properties", "webhook_url", "nullable", value=False),
        "nullable-removed",
        True,
        f"{TRANSCRIBE_BODY}/properties/webhook_url",
    ),
    (
        "request default changed",
        put(*SCHEMAS, "TimestampGranularity", "default", value="word"),
        "default-changed",
        True,
        f"{TRANSCRIBE_BODY}/properties/timestamps",
    ),
    (
        "request additional properties in a map constrained",
        put(*SCHEMAS, "Metadata", "additionalProperties", "maxLength", value=64),
        "constraint-tightened",
        True,
        f"{TRANSCRIBE_BODY}/properties/metadata/additionalProperties",
    ),
    (
        "request body made optional",
        put("paths", "/v1/upload", "post", "requestBody", "required", value=False),
        "request-body-required-removed",
        False,
        "#/paths/~1v1~1upload/post/requestBody",
    ),
    (
        "request media type removed",
        delete("paths", "/v1/upload", "post", "requestBody", "content", "application/json"),
        "media-type-removed",
        True,
        "#/paths/~1v1~1upload/post/requestBody/content/application~1json",
    ),
    (
        "response enum narrowed",
        remove(*SCHEMAS, "JobStatus", "enum", value="failed"),
        "enum-narrowed",
        False,
        f"{STATUS_BODY}/properties/status",
    ),
    (
        "response enum widened",
        append(*SCHEMAS, "JobStatus", "enum", value="cancelled"),
        "enum-widened",
        True,
        f"{STATUS_BODY}/properties/status",
    ),
    (
        "response property removed",
        delete(*SCHEMAS, "Job", "properties", "transcript"),
        "property-removed",
        True,
        f"{STATUS_BODY}/properties/transcript",
    ),
    (
        "response property added",
        put(*SCHEMAS, "Job", "properties", "priority", value={"type": "integer"}),
        "property-added",
        False,
        f"{STATUS_BODY}/properties/priority",
    ),
    (
        "response property no longer required",
        remove(*SCHEMAS, "Job", "required", value="progress"),
        "property-required-removed",
        True,
        f"{STATUS_BODY}/properties/progress",
    ),
    (
        "response nested property removed",
        delete(*SCHEMAS, "Segment", "properties", "speaker"),
        "property-removed",
        True,
        f"{STATUS_BODY}/properties/segments/items/properties/speaker",
    ),
    (
        "response type changed",
        put(*SCHEMAS, "File", "properties", "size_bytes", "type", value="string"),
        "type-changed",
        True,
        f"{UPLOAD_BODY}/properties/size_bytes",
    ),
    (
        "response nullable added",
        put(*SCHEMAS, "File", "properties", "filename", "nullable", value=True),
        "nullable-added",
        True,
        f"{UPLOAD_BODY}/properties/filename",
    ),
    (
        "status code removed",
        delete("paths", "/v1/status/{job_id}", "get", "responses", "404"),
        "status-code-removed",
        True,
        f"{STATUS}/responses/404",
    ),
    (
        "status code added",
        put("paths", "/v1/status/{job_id}", "get", "responses", "503", value={"description": "Down."}),
        "status-code-added",
        False,
        f"{STATUS}/responses/503",
    ),
    (
        "response media type removed",
        delete("paths", "/v1/transcripts/{job_id}", "get", "responses", "200", "content", "text/vtt"),
        "media-type-removed",
        True,
        "#/paths/~1v1~1transcripts~1{job_id}/get/responses/200/content/text~1vtt",
    ),
    (
        "response header removed",
        delete("paths", "/v1/status/{job_id}", "get", "responses", "200", "headers", "Retry-After"),
        "response-header-removed",
        True,
        f"{STATUS}/responses/200/headers/Retry-After",
    ),
    (
        "document-level security changed",
        put("security", value=[]),
        "security-changed",
        True,
        f"{JOBS}/security",
    ),
    (
        "operation-level security changed",
        put("paths", "/v1/health", "get", "security", value=[{"bearerAuth": []}]),
        "security-changed",
        True,
        "#/paths/~1v1~1health/get/security",
    ),
    (
        "security scheme changed",
        put("components", "securitySchemes", "bearerAuth", value={"type": "apiKey", "in": "header", "name": "X-Key"}),
        "security-changed",
        True,
        f"{JOBS}/security",
    ),
    (
        "webhook payload enum widened",
        append(*SCHEMAS, "WebhookEvent", "properties", "type", "enum", value="transcription.cancelled"),
        "enum-widened",
        True,
        f"{WEBHOOK_BODY}/properties/type",
    ),
    (
        "callback removed",
        delete("paths", "/v1/transcribe", "post", "callbacks", "transcriptionEvent"),
        "callback-removed",
        True,
        f"{TRANSCRIBE}/callbacks/transcriptionEvent",
    ),
]


@pytest.mark.parametrize(
    ("mutation", "kind", "breaking", "pointer"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_change_is_found(mutation: Mutation, kind: str, breaking: bool, pointer: str) -> None:
    changes = diff_with(mutation)
    found = [(change.kind, change.breaking) for change in changes if change.pointer == pointer]
    assert (kind, breaking) in found, "\n".join(map(str, changes))


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(lambda doc: None, id="identical documents"),
        pytest.param(rename_status_template, id="path template renamed"),
        pytest.param(
            put(*SCHEMAS, "Job", value={"allOf": [load_spec()["components"]["schemas"]["Job"]]}),
            id="schema moved into allOf",
        ),
        pytest.param(put("paths", "/v1/health", "get", "security", value=[{}]), id="no security spelt [{}]"),
    ],
)
def test_no_change(mutation: Mutation) -> None:
    assert diff_with(mutation) == []


def test_contract_against_itself_is_empty() -> None:
    spec = load_spec()
    assert diff_documents(spec, spec) == []


def test_widened_response_enum_warns_about_the_new_value() -> None:
    changes = diff_with(append(*SCHEMAS, "JobStatus", "enum", value="cancelled"))
    widened = next(c for c in changes if c.pointer == f"{STATUS_BODY}/properties/status")
    assert "'cancelled'" in widened.message
    assert "may not handle" in widened.message


def test_shared_schema_is_judged_per_direction() -> None:
    changes = diff_with(append(*SCHEMAS, "TimestampGranularity", "enum", value="paragraph"))
    by_pointer = {c.pointer: c.breaking for c in changes if c.kind == "enum-widened"}
    assert by_pointer[f"{TRANSCRIBE_BODY}/properties/timestamps"] is False
    assert by_pointer[f"{STATUS_BODY}/properties/options/properties/timestamps"] is True


def test_removed_request_property_of_an_open_object_is_not_breaking() -> None:
    old, new = load_spec(), load_spec()
    for doc in (old, new):
        doc["components"]["schemas"]["TranscriptionRequest"]["additionalProperties"] = True
    del new["components"]["schemas"]["TranscriptionRequest"]["properties"]["diarization"]
    changes = diff_documents(old, new)
    assert [(c.kind, c.breaking) for c in changes] == [("property-removed", False)]


def test_output_is_deterministic_and_without_duplicates() -> None:
    mutation = chain(put("security", value=[]), append(*SCHEMAS, "JobStatus", "enum", value="cancelled"))
    first, second = diff_with(mutation), diff_with(mutation)
    assert first == second
    assert len(set(first)) == len(first)


def test_change_renders_as_one_line() -> None:
    assert str(Change("status-code-removed", "#/a", "gone", True)) == "BREAKING  #/a: gone"
    assert str(Change("status-code-added", "#/a", "new", False)) == "ok        #/a: new"


def test_cyclic_schemas_terminate() -> None:
    def document(label_type: str) -> dict[str, Any]:
        node = {
            "type": "object",
            "properties": {"label": {"type": label_type}, "child": {"$ref": "#/components/schemas/Node"}},
        }
        ok = {
            "200": {
                "description": "A tree.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}},
            }
        }
        return {"paths": {"/tree": {"get": {"responses": ok}}}, "components": {"schemas": {"Node": node}}}

    changes = diff_documents(document("string"), document("integer"))
    assert [(c.kind, c.pointer) for c in changes] == [
        ("type-changed", "#/paths/~1tree/get/responses/200/content/application~1json/schema/properties/label")
    ]


def test_missing_sections_are_empty() -> None:
    assert diff_documents({"openapi": "3.0.3"}, {"openapi": "3.0.3", "paths": {}}) == []
    changes = diff_documents(load_spec(), {"openapi": "3.0.3"})
    assert changes
    assert all(c.kind == "operation-removed" and c.breaking for c in changes)


@pytest.mark.parametrize(
    ("mutation", "needle"),
    [
        pytest.param(
            put(*SCHEMAS, "Job", "properties", "options", value={"$ref": "#/components/schemas/Nope"}),
            "Nope",
            id="broken $ref",
        ),
        pytest.param(put("paths", value=["not", "a", "mapping"]), "#/paths", id="paths is a list"),
        pytest.param(put("paths", "/v1/jobs", "get", "responses", value="none"), "responses", id="responses is text"),
        pytest.param(
            put("paths", "/v1/jobs", "get", "parameters", value={"a": 1}), "parameters", id="parameters not a list"
        ),
        pytest.param(put("security", value=[{"apiKey": []}]), "apiKey", id="undefined security scheme"),
    ],
)
def test_odd_input_raises_spec_error(mutation: Mutation, needle: str) -> None:
    with pytest.raises(SpecError, match="new document") as error:
        diff_with(mutation)
    assert needle in str(error.value)


def test_a_document_that_is_not_a_mapping_raises_spec_error() -> None:
    with pytest.raises(SpecError, match="old document"):
        diff_documents([], load_spec())  # type: ignore[arg-type]


def api(schema: dict[str, Any], *, request: bool) -> dict[str, Any]:
    """A one-operation document with ``schema`` as its JSON request body or its 200 response."""
    content = {"application/json": {"schema": schema}}
    operation: dict[str, Any] = {"responses": {"200": {"description": "Done.", "content": {} if request else content}}}
    if request:
        operation["requestBody"] = {"content": content}
    return {"paths": {"/things": {"post": operation}}}


OBJECT: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}
CAT, DOG = {"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}
SCHEMA_CASES = [
    ("integer to number in a request", {"type": "integer"}, {"type": "number"}, True, "type-changed", False),
    ("integer to number in a response", {"type": "integer"}, {"type": "number"}, False, "type-changed", True),
    (
        "object closed in a request",
        OBJECT,
        {**OBJECT, "additionalProperties": False},
        True,
        "additional-properties-forbidden",
        True,
    ),
    (
        "object closed in a response",
        OBJECT,
        {**OBJECT, "additionalProperties": False},
        False,
        "additional-properties-forbidden",
        False,
    ),
    ("oneOf variant added in a request", {"oneOf": [CAT]}, {"oneOf": [CAT, DOG]}, True, "variant-added", False),
    ("oneOf variant added in a response", {"oneOf": [CAT]}, {"oneOf": [CAT, DOG]}, False, "variant-added", True),
    ("oneOf variant removed in a request", {"oneOf": [CAT, DOG]}, {"oneOf": [DOG]}, True, "variant-removed", True),
    (
        "minimum raised in a response",
        {"type": "integer", "minimum": 0},
        {"type": "integer", "minimum": 1},
        False,
        "constraint-tightened",
        False,
    ),
    (
        "pattern added in a request",
        {"type": "string"},
        {"type": "string", "pattern": "^a"},
        True,
        "constraint-tightened",
        True,
    ),
    (
        "enum introduced in a request",
        {"type": "string"},
        {"type": "string", "enum": ["a"]},
        True,
        "enum-narrowed",
        True,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "request_side", "kind", "breaking"),
    [case[1:] for case in SCHEMA_CASES],
    ids=[c[0] for c in SCHEMA_CASES],
)
def test_schema_change_by_direction(old: Any, new: Any, request_side: bool, kind: str, breaking: bool) -> None:
    components = {"components": {"schemas": {"Cat": {"type": "object"}, "Dog": {"type": "object"}}}}
    before, after = api(old, request=request_side), api(new, request=request_side)
    changes = diff_documents({**before, **components}, {**after, **components})
    assert [(c.kind, c.breaking) for c in changes] == [(kind, breaking)], "\n".join(map(str, changes))


def test_read_only_property_is_no_request_change() -> None:
    new = {
        **OBJECT,
        "properties": {**OBJECT["properties"], "id": {"type": "string", "readOnly": True}},
        "required": ["id"],
    }
    assert diff_documents(api(OBJECT, request=True), api(new, request=True)) == []


def test_header_parameter_names_are_case_insensitive_and_style_matters() -> None:
    def document(name: str, explode: bool) -> dict[str, Any]:
        param = {"name": name, "in": "header", "schema": {"type": "array"}, "explode": explode}
        return {"paths": {"/x": {"get": {"parameters": [param], "responses": {"204": {"description": "None."}}}}}}

    assert diff_documents(document("X-Trace", False), document("x-trace", False)) == []
    changes = diff_documents(document("X-Trace", False), document("x-trace", True))
    assert [(c.kind, c.breaking) for c in changes] == [("parameter-style-changed", True)]
