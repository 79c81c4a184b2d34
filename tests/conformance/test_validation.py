"""Answers checked against the contract by openapi-core, values against its component schemas."""

from __future__ import annotations

import httpx
import pytest

from conformance.outcomes import CheckFailed
from conformance.validation import contract_errors, expect_valid, expect_valid_schema, schema_errors
from voxcontract.spec import load_spec

DOCUMENT = load_spec()
HEADERS = {"X-Request-Id": "req_1", "RateLimit": '"default";r=1;t=1', "RateLimit-Policy": '"default";q=2;w=60'}


def _page(body: dict[str, object], base: str = "http://host/prefix") -> httpx.Response:
    request = httpx.Request("GET", f"{base}/v1/jobs?limit=1")
    return httpx.Response(200, json=body, headers=HEADERS, request=request)


def test_a_documented_answer_is_valid_under_any_base_path() -> None:
    assert (
        contract_errors(_page({"data": [], "has_more": False, "next_cursor": None}), "http://host/prefix", DOCUMENT)
        == []
    )


def test_a_broken_answer_names_what_is_wrong() -> None:
    response = _page({"data": [], "has_more": False})
    errors = contract_errors(response, "http://host/prefix", DOCUMENT)
    assert errors
    assert "'next_cursor' is a required property" in errors[0]
    with pytest.raises(CheckFailed, match="listing: GET /prefix/v1/jobs\\?limit=1 -> 200 breaks the contract"):
        expect_valid(response, "http://host/prefix", DOCUMENT, what="listing")


def test_component_schemas_check_formats() -> None:
    assert schema_errors(DOCUMENT, "WebhookSecret", {"secret": "whsec_" + "A" * 32, "algorithm": "HMAC-SHA256"}) == []
    errors = schema_errors(DOCUMENT, "WebhookSecret", {"secret": "nope", "algorithm": "MD5"})
    assert len(errors) == 2
    with pytest.raises(CheckFailed, match="the event is not a valid WebhookEvent: \\(root\\): 'type' is a required"):
        expect_valid_schema(DOCUMENT, "WebhookEvent", {"timestamp": "x", "data": {}}, what="the event")
