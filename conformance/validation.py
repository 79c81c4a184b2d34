"""Answers and documents against the contract, by openapi-core and openapi-schema-validator.

:func:`contract_errors` asks openapi-core whether an answer is one the contract documents for its request
(status, media type, body schema, documented headers); :func:`schema_errors` checks any JSON value against one
of the contract's component schemas (``Transcript``, ``WebhookEvent``), formats included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed
from voxcontract.spec import openapi_core_spec

__all__ = ["contract_errors", "expect_valid", "expect_valid_schema", "schema_errors"]

_MAX_MESSAGES = 5


def contract_errors(response: httpx.Response, base_url: str, document: Mapping[str, Any]) -> list[str]:
    """What openapi-core finds wrong with ``response`` for its request (empty: a documented, valid answer)."""
    request = response.request
    prefix = httpx.URL(base_url).path.rstrip("/")
    path = request.url.path.removeprefix(prefix) if prefix else request.url.path
    host = str((document.get("servers") or [{"url": "http://localhost"}])[0]["url"])
    mock_request = MockRequest(
        host,
        request.method.lower(),
        path,
        args=dict(request.url.params),
        headers=dict(request.headers),
        content_type=request.headers.get("content-type", "application/json"),
    )
    content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
    mock_response = MockResponse(
        response.content, status_code=response.status_code, headers=dict(response.headers), content_type=content_type
    )
    return [_describe(error) for error in openapi_core_spec().iter_response_errors(mock_request, mock_response)]


def _describe(error: Exception) -> str:
    cause = error.__cause__
    details = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if details:
        messages = [f"{'/'.join(map(str, item.absolute_path)) or '(body)'}: {item.message}" for item in details]
        return f"{type(error).__name__}: " + "; ".join(messages[:_MAX_MESSAGES])
    return f"{type(error).__name__}: {cause or error}"


def expect_valid(response: httpx.Response, base_url: str, document: Mapping[str, Any], *, what: str) -> None:
    """:class:`CheckFailed` unless the contract documents ``response`` as it is."""
    errors = contract_errors(response, base_url, document)
    if errors:
        exchange = Exchange.from_httpx(response)
        raise CheckFailed(f"{what}: {exchange.summary()} breaks the contract: {'; '.join(errors)}", exchange=exchange)


def schema_errors(document: Mapping[str, Any], schema_name: str, instance: Any) -> list[str]:
    """What breaks ``#/components/schemas/<schema_name>`` in ``instance`` (formats checked)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    validator = OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda error: list(map(str, error.absolute_path)))
    ][:_MAX_MESSAGES]


def expect_valid_schema(
    document: Mapping[str, Any], schema_name: str, instance: Any, *, what: str, exchange: Exchange | None = None
) -> None:
    """:class:`CheckFailed` unless ``instance`` is a valid ``schema_name``."""
    errors = schema_errors(document, schema_name, instance)
    if errors:
        raise CheckFailed(f"{what} is not a valid {schema_name}: {'; '.join(errors)}", exchange=exchange)
