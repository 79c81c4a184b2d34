"""Connexion's request and response validation with each operation's validators built once, not per request.

Connexion 3.3 builds, on every request, the operation's URI parser, its parameter validator and its body validator,
and on every answer a response validator, each compiling its JSON Schema validator afresh; a profile of the mock
put about a quarter of a status poll's time there. These subclasses keep Connexion's checks and their order and
build each validator once per operation (body validators once per media type and charset, response validators once
per status, media type and charset): the validators hold no per-request state.
"""

from __future__ import annotations

from typing import Any

from connexion import utils
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.middleware.response_validation import (
    ResponseValidationAPI,
    ResponseValidationMiddleware,
    ResponseValidationOperation,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_BODY_VALIDATORS", "CompiledRequestValidationMiddleware", "CompiledResponseValidationMiddleware"]

#: How many (media type, charset) pairs an operation keeps validators for: both come from the client, so the cache
#: is bounded; past it, a validator is built for the request as Connexion does.
MAX_BODY_VALIDATORS = 32
#: A body validator's key: (media type, charset).
_BodyKey = tuple[str, str]
#: A response validator's key: (status, media type, charset).
_ResponseKey = tuple[str, str, str]


class CompiledRequestValidationOperation(RequestValidationOperation):  # type: ignore[misc]
    """Parameters, media type and body checked as Connexion does, by validators built on first use."""

    def __init__(self, next_app: ASGIApp, **kwargs: Any) -> None:
        super().__init__(next_app, **kwargs)
        operation = self._operation
        self._parameter_validator = self._validator_map["parameter"](
            operation.parameters,
            uri_parser=self._uri_parser(),
            strict_validation=self.strict_validation,
            security_query_params=self.security_query_params,
        )
        self._body_validators: dict[_BodyKey, Any] = {}

    def _uri_parser(self) -> Any:
        return self._operation.uri_parser_class(self._operation.parameters, self._operation.body_definition())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._parameter_validator.validate(scope)
        mime_type, encoding = self.extract_content_type(scope["headers"])
        self.validate_mime_type(mime_type)
        validator = self._body_validator(mime_type, encoding)
        if validator is not None:
            receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)

    def _body_validator(self, mime_type: str, encoding: str) -> Any:
        key = (mime_type, encoding)
        if key in self._body_validators:
            return self._body_validators[key]
        validator = self._new_body_validator(mime_type, encoding)
        if len(self._body_validators) < MAX_BODY_VALIDATORS:
            self._body_validators[key] = validator
        return validator

    def _new_body_validator(self, mime_type: str, encoding: str) -> Any:
        """Connexion's choice of body validator (None: no schema, or no validator for the media type)."""
        operation = self._operation
        schema = operation.body_schema(mime_type)
        if not schema:
            return None
        try:
            validator_class = self._validator_map["body"][mime_type]
        except KeyError:
            return None  # Connexion logs "Skipping validation" per request; the body goes through unchecked
        return validator_class(
            schema=schema,
            required=operation.request_body.get("required", False),
            nullable=utils.is_nullable(operation.body_definition(mime_type)),
            encoding=encoding,
            strict_validation=self.strict_validation,
            uri_parser=self._uri_parser(),
        )


class CompiledRequestValidationAPI(RequestValidationAPI):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> CompiledRequestValidationOperation:
        return CompiledRequestValidationOperation(
            self.next_app,
            operation=operation,
            strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )


class CompiledRequestValidationMiddleware(RequestValidationMiddleware):  # type: ignore[misc]
    api_cls = CompiledRequestValidationAPI


class CompiledResponseValidationOperation(ResponseValidationOperation):  # type: ignore[misc]
    """Content type, required headers and body checked as Connexion does, by validators built on first use."""

    def __init__(self, next_app: ASGIApp, **kwargs: Any) -> None:
        super().__init__(next_app, **kwargs)
        self._body_validators: dict[_ResponseKey, Any] = {}
        #: Media types Connexion's check found among those the operation produces.
        self._produced: set[str] = set()
        #: The header names each (status, media type) requires (only a definition that requires some is consulted).
        self._required_headers: dict[tuple[str, str], frozenset[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def validating_send(message: Message) -> None:
            nonlocal send
            if message["type"] == "http.response.start":
                send = self.validate_start(message, scope, send)
            await send(message)

        await self.next_app(scope, receive, validating_send)

    def validate_start(self, message: Message, scope: Scope, send: Send) -> Send:
        """Checks the status line and headers; the send that checks the body (``send`` when none is registered)."""
        headers = message["headers"]
        mime_type, encoding = self.extract_content_type(headers)
        if message["status"] < 400 and mime_type not in self._produced:
            self.validate_mime_type(mime_type)  # Connexion's check; what it accepts is remembered
            if len(self._produced) < MAX_BODY_VALIDATORS:
                self._produced.add(mime_type)
        status = str(message["status"])
        self._check_required_headers(headers, status, mime_type)
        validator = self._body_validator(scope, status, mime_type, encoding)
        return send if validator is None else validator.wrap_send(send)

    def extract_content_type(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, str]:
        """Connexion's reading of ``Content-Type``, answered at once for a plain one (no parameters)."""
        values = [value for name, value in headers if name.lower() == b"content-type"]
        if len(values) == 1 and b";" not in values[0]:
            return values[0].decode("latin-1"), "utf-8"
        mime_type, encoding = super().extract_content_type(headers)
        return str(mime_type), str(encoding)

    def _check_required_headers(self, headers: list[tuple[bytes, bytes]], status: str, mime_type: str) -> None:
        """Connexion's check that the answer has every header its response definition requires."""
        key = (status, mime_type)
        required = self._required_headers.get(key)
        if required is None:
            required = _required_header_names(self._operation.response_definition(status, mime_type))
            if len(self._required_headers) < MAX_BODY_VALIDATORS:
                self._required_headers[key] = required
        if required - {name.decode("latin-1").lower() for name, _ in headers}:
            # Connexion's own check, for its message
            self.validate_required_headers(headers, self._operation.response_definition(status, mime_type))

    def _body_validator(self, scope: Scope, status: str, mime_type: str, encoding: str) -> Any:
        key = (status, mime_type, encoding)
        if key not in self._body_validators:
            self._body_validators[key] = self._new_body_validator(scope, status, mime_type, encoding)
        return self._body_validators[key]

    def _new_body_validator(self, scope: Scope, status: str, mime_type: str, encoding: str) -> Any:
        try:
            validator_class = self._validator_map["response"][mime_type]
        except KeyError:
            return None
        # The scope is kept by Connexion's validators but read by none of them: the first request's will do.
        return validator_class(
            scope,
            schema=self._operation.response_schema(status, mime_type),
            nullable=utils.is_nullable(self._operation.response_definition(status, mime_type)),
            encoding=encoding,
        )


def _required_header_names(definition: dict[str, Any]) -> frozenset[str]:
    headers: dict[str, dict[str, Any]] = definition.get("headers", {})
    return frozenset(name.lower() for name, header in headers.items() if header.get("required", False))


class CompiledResponseValidationAPI(ResponseValidationAPI):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> Any:
        if not self.validate_responses:
            return self.next_app
        return CompiledResponseValidationOperation(self.next_app, operation=operation, validator_map=self.validator_map)


class CompiledResponseValidationMiddleware(ResponseValidationMiddleware):  # type: ignore[misc]
    api_cls = CompiledResponseValidationAPI
