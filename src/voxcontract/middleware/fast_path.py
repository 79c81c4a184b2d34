"""The fast path: a request that every check accepts goes straight to its handler, past Connexion's per-request layers.

Connexion serves a request through about a dozen layers (routing, security, validation, context, its Starlette
router, the parameter and response decorators), each re-reading the request; a profile of the mock put most of a
status poll's time there, not in the handler. Most requests a server gets are valid. This middleware, in front of
Connexion, serves a request itself when, and only when, all of these hold, judged before anything with a side
effect:

- its method and path are an operation of the contract with no request body or a JSON one (multipart uploads are
  left to Connexion and to the app's own middleware);
- every path, query and header parameter is declared, given at most once, in a plain form (an integer in digits, no
  percent-encoding), and accepted by its schema; the required ones are there;
- a JSON body comes as ``application/json`` (UTF-8), with a ``Content-Length`` of at most
  :data:`MAX_FAST_PATH_BODY` bytes, and is accepted by its schema after :func:`parse_json_body`'s bounds;
- a secured operation's bearer key is one the resolver knows, from an address not past its failed-authentication
  limit.

It then does what the whole stack would: counts the request against the key's rate limit (the same ``429``),
calls the handler with the arguments Connexion passes, renders its answer as Connexion's response decorator does,
validates it with the same validators when response validation is on, and renders an exception as the same
problem. Whatever it does not accept, or doubts, goes the whole way through Connexion, which gives the canonical
answer (a ``400``, a ``401``, a ``415``): a body it already read is replayed. A refusal is therefore never the fast
path's own.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connexion.context import _context as connexion_context_var
from connexion.context import _operation as connexion_operation_var
from connexion.context import _receive as connexion_receive_var
from connexion.context import _scope as connexion_scope_var
from connexion.decorators.response import AsyncResponseDecorator
from connexion.frameworks.starlette import Starlette as StarletteFramework
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionResponse
from connexion.operations import OpenAPIOperation
from connexion.resolver import Resolver
from connexion.spec import Specification
from connexion.utils import is_json_mimetype
from jsonschema import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxcontract.auth import KeyResolver, Principal, parse_bearer
from voxcontract.errors import MalformedBody, ProblemError
from voxcontract.middleware.auth import PRINCIPAL_SCOPE_KEY, client_address, header_value
from voxcontract.middleware.rate_limit import count_request
from voxcontract.middleware.validation import CompiledResponseValidationOperation
from voxcontract.middleware.validators import (
    bounded_validator_map,
    parameter_validator,
    parse_json_body,
    request_body_validator,
)
from voxcontract.problems import exception_response
from voxcontract.ratelimit import RateLimiter

__all__ = ["MAX_FAST_PATH_BODY", "FastPathMiddleware", "FastPathOperation", "compile_operations"]

#: The largest JSON body the fast path reads (the contract's JSON bodies are a few hundred bytes); larger ones go to
#: Connexion, which enforces the real limit.
MAX_FAST_PATH_BODY = 64 * 1024
_JSON = "application/json"
_JSON_CONTENT_TYPES = frozenset({_JSON, f"{_JSON}; charset=utf-8", f"{_JSON};charset=utf-8"})
_PATH_PARAMETER = re.compile(r"\{([^}/]+)\}")
#: An integer in the plain form a client writes: digits, no sign, no leading zero.
_PLAIN_INTEGER = re.compile(r"0|[1-9][0-9]{0,17}")
#: A query string with nothing to decode (no percent-encoding, no "+" for a space).
_PLAIN_QUERY = re.compile(rb"[A-Za-z0-9_.~=&-]*")


class _Defer(Exception):
    """The fast path does not take this request: Connexion will."""


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    location: str
    required: bool
    integer: bool
    validator: Any
    default: Any = None
    has_default: bool = False


@dataclass(slots=True)
class FastPathOperation:
    """One operation as the fast path serves it: its route, checks, handler and answer validation."""

    operation_id: str
    method: str
    route: re.Pattern[str]
    parameters: dict[str, _Parameter]
    secured: bool
    handler: Callable[..., Any]
    connexion_operation: OpenAPIOperation
    #: Connexion's rendering of what a handler returns (it reads the running operation from Connexion's context).
    renderer: AsyncResponseDecorator
    #: The JSON media types the operation produces (answers in one of them are rendered without the decorator).
    json_produced: frozenset[str]
    #: The JSON body's validator (None: the operation takes no body).
    body_validator: Any = None
    response_validation: CompiledResponseValidationOperation | None = None
    #: The names the handler declares (Connexion passes only those), or None when it takes ``**kwargs``.
    argument_names: frozenset[str] | None = field(default=None)

    def arguments(self, values: Mapping[str, Any], principal: Principal | None) -> dict[str, Any]:
        """The keyword arguments Connexion would pass: parameters, body, ``user`` and ``token_info``."""
        arguments = dict(values)
        if principal is not None:
            arguments["user"], arguments["token_info"] = principal.key_id, principal
        if self.argument_names is None:
            return arguments
        return {name: value for name, value in arguments.items() if name in self.argument_names}

    def render(self, answer: Any) -> Response:
        """The response Connexion's response decorator makes of a handler's ``answer``.

        The contract's usual answer, ``(document, status, {"Content-Type": <a JSON type the operation produces>,
        ...})``, is rendered here as the decorator renders it (JSON by its jsonifier, the handler's headers); any
        other answer by the decorator itself.
        """
        if isinstance(answer, Response):
            return answer
        if isinstance(answer, ConnexionResponse):
            return StarletteFramework.connexion_to_framework_response(answer)  # type: ignore[no-any-return]
        if isinstance(answer, tuple) and len(answer) == 3:
            document, status, headers = answer
            content_type = headers.get("Content-Type") if isinstance(headers, dict) else None
            if isinstance(document, dict | list) and content_type in self.json_produced and type(status) is int:
                body = self.renderer.jsonifier.dumps(document)
                return Response(body, status_code=status or 200, media_type=content_type, headers=headers)
        return self.renderer.build_framework_response(answer)  # type: ignore[no-any-return]


def compile_operations(
    document: Mapping[str, Any],
    *,
    operations: Callable[[str], Callable[..., Any]],
    secured: frozenset[str],
    validate_responses: bool,
    uri_parser_class: Any = None,
) -> list[FastPathOperation]:
    """The fast path's operations: every operation of ``document`` without a request body or with a JSON one."""
    specification = Specification.load(dict(document))
    resolver = Resolver(function_resolver=operations)
    renderer = AsyncResponseDecorator(framework=StarletteFramework, jsonifier=Jsonifier())
    compiled = []
    for path, item in specification["paths"].items():
        for method in item:
            if method not in {"get", "put", "post", "delete", "patch"}:
                continue
            operation = OpenAPIOperation.from_spec(
                specification, path=path, method=method, resolver=resolver, uri_parser_class=uri_parser_class
            )
            if _takes_body_other_than_json(operation):
                continue
            compiled.append(_compile(operation, path, secured, validate_responses, renderer))
    return compiled


def _takes_body_other_than_json(operation: OpenAPIOperation) -> bool:
    media_types = set(operation.request_body.get("content", {}))
    return bool(media_types) and media_types != {_JSON}


def _compile(
    operation: OpenAPIOperation,
    path: str,
    secured: frozenset[str],
    validate_responses: bool,
    renderer: AsyncResponseDecorator,
) -> FastPathOperation:
    handler = operation.function
    body_schema = operation.body_schema(_JSON) if operation.request_body else None
    response_validation = (
        CompiledResponseValidationOperation(_unused_app, operation=operation, validator_map=bounded_validator_map())
        if validate_responses
        else None
    )
    return FastPathOperation(
        operation_id=operation.operation_id,
        method=operation.method.upper(),
        route=_route_pattern(path),
        parameters={param["name"].lower(): _parameter(param) for param in operation.parameters},
        secured=operation.operation_id in secured,
        handler=handler,
        connexion_operation=operation,
        renderer=renderer,
        json_produced=frozenset(media for media in operation.produces if is_json_mimetype(media)),
        body_validator=request_body_validator(body_schema) if body_schema else None,
        response_validation=response_validation,
        argument_names=_argument_names(handler),
    )


async def _unused_app(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover - never called
    raise RuntimeError("the fast path validates answers through validate_start only")


def _route_pattern(path: str) -> re.Pattern[str]:
    parts = _PATH_PARAMETER.split(path)
    pattern = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
    return re.compile(pattern)


def _parameter(param: Mapping[str, Any]) -> _Parameter:
    schema = param.get("schema", {})
    return _Parameter(
        name=str(param["name"]),
        location=str(param["in"]),
        required=bool(param.get("required", False)),
        integer=schema.get("type") == "integer",
        validator=parameter_validator(dict(param)),
        default=schema.get("default"),
        has_default="default" in schema,
    )


def _argument_names(handler: Callable[..., Any]) -> frozenset[str] | None:
    parameters = inspect.signature(handler).parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return None
    return frozenset(parameter.name for parameter in parameters)


class FastPathMiddleware:
    """Serves the requests :mod:`the module <voxcontract.middleware.fast_path>` describes; passes on the rest.

    ``served`` counts the requests it answered itself (for tests and benchmarks).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        operations: Sequence[FastPathOperation],
        keys: KeyResolver,
        limiter: RateLimiter,
        failures: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.failures = failures
        self.served = 0
        self._routes: dict[str, list[FastPathOperation]] = {}
        for operation in operations:
            self._routes.setdefault(operation.method, []).append(operation)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        accepted = await self._accept(scope, receive)
        if accepted is None:
            await self.app(scope, receive, send)
        elif isinstance(accepted, _Replay):
            await self.app(scope, accepted.receive, send)
        else:
            self.served += 1
            await self._serve(scope, receive, send, accepted)

    async def _accept(self, scope: Scope, receive: Receive) -> _Accepted | _Replay | None:
        """The request's operation, arguments and principal; a replay of its body, or None, when deferred."""
        match = self._match(scope)
        if match is None:
            return None
        operation, path_values = match
        read = _BodyReader(receive)
        try:
            values = _parameter_values(operation, scope, path_values)
            if operation.body_validator is not None:
                values["body"] = await _json_body(operation, scope, read)
            elif _declares_body(scope):
                raise _Defer
            principal = await self._authenticate(scope) if operation.secured else None
        except _Defer:
            return _Replay(read.replay()) if read.messages else None
        return _Accepted(operation, values, principal)

    def _match(self, scope: Scope) -> tuple[FastPathOperation, dict[str, str]] | None:
        path = scope["path"]
        for operation in self._routes.get(scope["method"], ()):
            match = operation.route.fullmatch(path)
            if match is not None:
                return operation, match.groupdict()
        return None

    async def _authenticate(self, scope: Scope) -> Principal:
        if self.failures is not None and not await self.failures.allows(client_address(scope)):
            raise _Defer
        try:
            token = parse_bearer(header_value(scope, b"authorization"))
        except ProblemError:
            raise _Defer from None
        principal = await self.keys.resolve(token)
        if principal is None:
            raise _Defer
        return principal

    async def _serve(self, scope: Scope, receive: Receive, send: Send, accepted: _Accepted) -> None:
        operation, principal = accepted.operation, accepted.principal
        if principal is not None:
            scope[PRINCIPAL_SCOPE_KEY] = principal
            context = scope.setdefault("extensions", {}).setdefault("connexion_context", {})
            context["user"], context["token_info"] = principal.key_id, principal
        _bind_connexion_context(scope, receive, operation)
        answered = _SendTracker(send)
        try:
            if principal is not None:
                await count_request(self.limiter, principal)
            response = operation.render(await operation.handler(**operation.arguments(accepted.values, principal)))
            await response(scope, receive, self._validating_send(operation, scope, answered))
        except Exception as exc:
            if answered.started:
                raise
            await exception_response(exc, scope)(scope, receive, answered)

    @staticmethod
    def _validating_send(operation: FastPathOperation, scope: Scope, send: Send) -> Send:
        validation = operation.response_validation
        if validation is None:
            return send

        async def validating_send(message: Message) -> None:
            nonlocal send
            if message["type"] == "http.response.start":
                send = validation.validate_start(message, scope, send)
            await send(message)

        return validating_send


@dataclass(frozen=True, slots=True)
class _Accepted:
    operation: FastPathOperation
    values: dict[str, Any]
    principal: Principal | None


@dataclass(frozen=True, slots=True)
class _Replay:
    """A deferred request whose body the fast path already read: ``receive`` gives it again, then the rest."""

    receive: Receive


class _BodyReader:
    """Reads a request body through ``receive``, keeping each message to replay it when the request is deferred."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.messages: list[Message] = []

    async def read(self, limit: int) -> bytes:
        """The whole body; :class:`_Defer` past ``limit`` bytes or when the client goes away."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            self.messages.append(message)
            if message["type"] != "http.request":
                raise _Defer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Defer
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def replay(self) -> Receive:
        pending = list(self.messages)
        receive = self._receive

        async def replaying_receive() -> Message:
            return pending.pop(0) if pending else await receive()

        return replaying_receive


class _SendTracker:
    """``send``, remembering whether the answer has started (an exception after that cannot become a problem)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _parameter_values(operation: FastPathOperation, scope: Scope, path_values: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    given = {**_query_values(scope), **_header_values(scope, operation)}
    for name, value in path_values.items():
        given[name.lower()] = ("path", value)
    for key, parameter in operation.parameters.items():
        location_value = given.pop(key, None)
        if location_value is None or location_value[0] != parameter.location:
            if location_value is not None or parameter.required:
                raise _Defer
            if parameter.has_default and parameter.location == "query":
                values[parameter.name] = parameter.default
            continue
        value = _typed(parameter, location_value[1])
        try:
            parameter.validator.validate(value)
        except ValidationError:
            raise _Defer from None
        if parameter.location != "header":
            values[parameter.name] = value
    if any(location == "query" for location, _ in given.values()):
        raise _Defer  # a query parameter the operation does not declare: Connexion's strict validation refuses it
    return values


def _query_values(scope: Scope) -> dict[str, tuple[str, str]]:
    raw: bytes = scope.get("query_string", b"")
    if not raw:
        return {}
    if not _PLAIN_QUERY.fullmatch(raw):
        raise _Defer
    values: dict[str, tuple[str, str]] = {}
    for pair in raw.decode("ascii").split("&"):
        name, equals, value = pair.partition("=")
        if not name or not equals or not value or name.lower() in values or name != name.lower():
            raise _Defer
        values[name] = ("query", value)
    return values


def _header_values(scope: Scope, operation: FastPathOperation) -> dict[str, tuple[str, str]]:
    declared = {key for key, parameter in operation.parameters.items() if parameter.location == "header"}
    if not declared:
        return {}
    values: dict[str, tuple[str, str]] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = bytes(raw_name).decode("latin-1").lower()
        if name in declared:
            if name in values:
                raise _Defer  # repeated: whatever Connexion makes of it, it decides
            values[name] = ("header", bytes(raw_value).decode("latin-1"))
    return values


def _typed(parameter: _Parameter, value: str) -> Any:
    if not parameter.integer:
        return value
    if not _PLAIN_INTEGER.fullmatch(value):
        raise _Defer
    return int(value)


def _declares_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


async def _json_body(operation: FastPathOperation, scope: Scope, read: _BodyReader) -> Any:
    content_type = header_value(scope, b"content-type")
    length = header_value(scope, b"content-length")
    if content_type is None or content_type.strip().lower() not in _JSON_CONTENT_TYPES:
        raise _Defer
    if length is None or not length.isdigit() or int(length) > MAX_FAST_PATH_BODY:
        raise _Defer
    raw = await read.read(MAX_FAST_PATH_BODY)
    try:
        body = parse_json_body(raw, "utf-8")
    except MalformedBody:
        raise _Defer from None
    if body is None:
        raise _Defer  # no body: Connexion's default body, or its 400 for a required one
    try:
        operation.body_validator.validate(body)
    except ValidationError:
        raise _Defer from None
    return body


def _bind_connexion_context(scope: Scope, receive: Receive, operation: FastPathOperation) -> None:
    """What Connexion's context middleware sets for a handler: its scope, receive, operation and context."""
    connexion_context_var.set(scope.get("extensions", {}).get("connexion_context", {}))
    connexion_operation_var.set(operation.connexion_operation)
    connexion_receive_var.set(receive)
    connexion_scope_var.set(scope)
