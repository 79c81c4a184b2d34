"""The bounded JSON parse and the validation messages as units (tests/test_asgi.py runs them in the app)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from jsonschema import Draft4Validator, ValidationError

from voxcontract.errors import MalformedBody
from voxcontract.middleware.validators import MAX_JSON_DEPTH, describe_validation_error, parse_json_body


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_document_at_the_depth_limit_parses() -> None:
    assert parse_json_body(nested(MAX_JSON_DEPTH), "utf-8") is not None
    assert parse_json_body(b'{"a": {"b": [1, {"c": null}]}}', "utf-8") == {"a": {"b": [1, {"c": None}]}}


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (nested(MAX_JSON_DEPTH + 1), "nested too deeply"),
        (nested(100_000), "nested too deeply"),  # past the interpreter's recursion limit
        (b'{"a": ' * 50 + b"1" + b"}" * 50, "nested too deeply"),
        (b"7" * 5001, "not valid JSON"),
        (b"[NaN]", "not valid JSON"),
        (b'{"a": Infinity}', "not valid JSON"),
        (b"{", "not valid JSON"),
        (b'"\xff"', "not text"),
    ],
)
def test_what_is_not_bounded_json_is_malformed_body(raw: bytes, said: str) -> None:
    with pytest.raises(MalformedBody, match=said):
        parse_json_body(raw, "utf-8")


def test_an_unknown_charset_is_malformed_body() -> None:
    with pytest.raises(MalformedBody, match="charset"):
        parse_json_body(b"{}", "no-such-charset")


def test_an_empty_body_is_none() -> None:
    assert parse_json_body(b"", "utf-8") is None


def error_for(schema: Mapping[str, Any], instance: object) -> ValidationError:
    return next(iter(Draft4Validator(schema).iter_errors(instance)))


def test_a_long_value_is_quoted_by_an_excerpt() -> None:
    message = describe_validation_error(error_for({"type": "integer"}, "v" * 10_000))
    assert message == "'" + "v" * 100 + "… [cut: 10000 characters]' is not of type 'integer'"


def test_keys_on_the_path_are_cut_too() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    message = describe_validation_error(error_for(schema, {"k" * 500: "x"}))
    assert message.endswith("- '" + "k" * 100 + "… [cut: 500 characters]'")


def test_a_short_message_is_jsonschemas_own() -> None:
    assert describe_validation_error(error_for({"maxLength": 2}, "abc")) == "'abc' is too long"
