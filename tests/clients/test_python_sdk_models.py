"""The SDK's hand-written models against the contract: every schema, property and enum value known, none invented.

Walks ``components.schemas`` of ``openapi/voxscriber.yaml``: an object schema must be a ``voxscriber.Model`` with
exactly its properties (required ones without a default, optional ones with one); an enum, inline or named, must be
a ``Literal`` of exactly its values; a named scalar must exist under its name. The error classes must cover the
``ErrorCode`` enum, the default base URL must be the contract's first server, and every example of the contract must
read into its model and write back unchanged.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest
import voxscriber

from voxcontract.spec import load_spec

DOCUMENT = load_spec()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
OBJECTS = sorted(name for name, schema in SCHEMAS.items() if schema.get("type") == "object" and "properties" in schema)
ENUMS = sorted(name for name, schema in SCHEMAS.items() if "enum" in schema)


def model(name: str) -> type[voxscriber.Model]:
    cls = getattr(voxscriber, name, None)
    assert isinstance(cls, type), f"the contract's schema {name} has no model in voxscriber"
    assert issubclass(cls, voxscriber.Model), f"voxscriber.{name} is not a Model"
    return cls


def literal_values(hint: Any) -> set[Any]:
    """The values of every Literal inside a type (through ``X | None``, ``list[X]``)."""
    if get_origin(hint) is Literal:
        return set(get_args(hint))
    return set().union(*(literal_values(arg) for arg in get_args(hint))) if get_args(hint) else set()


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return SCHEMAS[ref.rsplit("/", 1)[1]] if ref else schema


def test_every_schema_has_a_name_in_the_sdk() -> None:
    missing = sorted(name for name in SCHEMAS if not hasattr(voxscriber, name))
    assert missing == []


@pytest.mark.parametrize("name", OBJECTS)
def test_object_schema_and_model_have_the_same_properties(name: str) -> None:
    schema, cls = SCHEMAS[name], model(name)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in cls.SDK_FIELDS}
    assert set(fields) == set(schema["properties"]), f"{name}: contract vs SDK"
    required = set(schema.get("required", []))
    has_default = {n for n, f in fields.items() if f.default is not dataclasses.MISSING}
    assert required.isdisjoint(has_default), f"{name}: required properties with a default"
    assert set(fields) - required <= has_default, f"{name}: optional properties without a default"


@pytest.mark.parametrize("name", OBJECTS)
def test_every_enum_value_of_a_property_is_in_the_models_literal(name: str) -> None:
    hints = get_type_hints(model(name))
    for prop, prop_schema in SCHEMAS[name]["properties"].items():
        enum = resolve(prop_schema).get("enum")
        if enum is not None:
            assert literal_values(hints[prop]) == set(enum), f"{name}.{prop}"


@pytest.mark.parametrize("name", ENUMS)
def test_named_enum_is_a_literal_of_its_values(name: str) -> None:
    alias = getattr(voxscriber, name)
    assert get_origin(alias) is Literal
    assert set(get_args(alias)) == set(SCHEMAS[name]["enum"])


def test_nullable_properties_accept_none() -> None:
    for name in OBJECTS:
        hints = get_type_hints(model(name))
        for prop, prop_schema in SCHEMAS[name]["properties"].items():
            if prop_schema.get("nullable"):
                assert type(None) in get_args(hints[prop]), f"{name}.{prop} is nullable"


def test_every_error_code_has_an_exception_or_is_a_job_failure() -> None:
    codes = set(SCHEMAS["ErrorCode"]["enum"])
    assert set(voxscriber.ERROR_CLASSES) | voxscriber.JOB_ERROR_CODES == codes
    assert set(voxscriber.ERROR_CLASSES).isdisjoint(voxscriber.JOB_ERROR_CODES)
    for code, cls in voxscriber.ERROR_CLASSES.items():
        assert voxscriber.error_class(400, code) is cls


def test_the_default_base_url_is_the_contracts_first_server() -> None:
    assert DOCUMENT["servers"][0]["url"] == voxscriber.DEFAULT_BASE_URL


def test_the_upload_media_types_are_the_contracts() -> None:
    from voxscriber._uploads import ACCEPTED_MEDIA_TYPES

    encoding = DOCUMENT["paths"]["/v1/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]["encoding"]
    assert {t.strip() for t in encoding["file"]["contentType"].split(",")} == ACCEPTED_MEDIA_TYPES


EXAMPLES = {
    "FileUploaded": "File",
    "JobQueued": "Job",
    "JobProcessing": "Job",
    "JobCompleted": "Job",
    "JobCompletedWithWords": "Job",
    "JobFailed": "Job",
    "TranscriptJson": "Transcript",
    "WebhookCompleted": "WebhookEvent",
    "WebhookFailed": "WebhookEvent",
    **{name: "Problem" for name in DOCUMENT["components"]["examples"] if name.startswith("Problem")},
}


@pytest.mark.parametrize(("example", "schema"), sorted(EXAMPLES.items()))
def test_the_contracts_examples_read_and_write_back_unchanged(example: str, schema: str) -> None:
    document = DOCUMENT["components"]["examples"][example]["value"]
    parsed = model(schema).from_dict(document)
    assert parsed.extra == {}
    assert normalise(parsed.to_dict()) == normalise(document)
    assert type(parsed).from_dict(parsed.to_dict()) == parsed


def test_unknown_properties_are_kept_not_refused() -> None:
    document = {**DOCUMENT["components"]["examples"]["FileUploaded"]["value"], "checksum": "abc"}
    parsed = voxscriber.File.from_dict(document)
    assert parsed.extra == {"checksum": "abc"}
    assert parsed.to_dict()["checksum"] == "abc"


def normalise(value: Any) -> Any:
    """Compare meaning: numbers as floats (the YAML says 1, the model 1.0); a null property as an absent one (an
    optional property left unset is not written; a required one is, null or not)."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(value)


def test_the_public_api_is_sorted_and_complete() -> None:
    assert voxscriber.__all__ == sorted(voxscriber.__all__, key=lambda n: (not n.isupper(), n))
    public = {
        n for n in dir(voxscriber) if not n.startswith("_") and not isinstance(getattr(voxscriber, n), type(typing))
    }
    assert public - {"annotations"} <= set(voxscriber.__all__) | {"__version__"}
