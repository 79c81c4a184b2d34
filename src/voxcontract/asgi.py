"""The app factory every VoxScriber server uses: Connexion over the contract, with the core's middleware.

The stack, outermost first::

    RequestContextMiddleware        request id, deferred headers (rate limit) on every answer
      CORSMiddleware                (settings.cors_origins) preflights answered, CORS headers on every answer
                                    (voxcontract.middleware.cors)
      HeaderLimitMiddleware         431 for too many or too large header fields, before anything reads them
      AllowHeaderMiddleware         every documented method of the path in a 405's Allow
      FastPathMiddleware            a request every check accepts, served straight by its handler (the same auth,
                                    rate limit, validators and rendering); the rest go on into Connexion
                                    (voxcontract.middleware.fast_path)
      ServerErrorMiddleware         Connexion: last resort
      ExceptionMiddleware           Connexion: every exception -> the core's problem+json (voxcontract.problems)
      ContractDocumentMiddleware    /v1/openapi.json, /v1/openapi.yaml: the document as written, with its $refs
      SwaggerUIMiddleware           /v1/ui (Connexion's own openapi.json, fully dereferenced, is never reached);
                                    other paths skip its router (voxcontract.middleware.swagger_ui)
      RoutingMiddleware             which operation
      AuthMiddleware                bearer key -> principal, 401 (replaces Connexion's SecurityMiddleware);
                                    429 for an address past its failed-authentication limit
      RateLimitMiddleware           per key, headers, 429
      BodyLimitMiddleware           413 over the size limit; a client gone mid-body is a ClientDisconnect
      RequestValidationMiddleware   400 / 415 from the contract (bounded validators: voxcontract.middleware.validators),
                                    each operation's validators built once (voxcontract.middleware.validation)
      ResponseValidationMiddleware  optional, validators built once too
      LifespanMiddleware, ContextMiddleware, the app's handlers
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import connexion
from connexion.apps.asynchronous import AsyncApi, AsyncOperation
from connexion.context import receive as connexion_receive
from connexion.context import scope as connexion_scope
from connexion.decorators import StarletteDecorator
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.options import SwaggerUIOptions
from connexion.uri_parsing import OpenAPIURIParser
from starlette.types import ASGIApp

from voxcontract.auth import KeyResolver
from voxcontract.context import new_request_id
from voxcontract.middleware import (
    AllowHeaderMiddleware,
    AuthMiddleware,
    BodyLimitMiddleware,
    HeaderLimitMiddleware,
    RateLimitMiddleware,
    RequestContextMiddleware,
)
from voxcontract.middleware.auth import AUTH_FAILURE_POLICY, secured_operations
from voxcontract.middleware.contract_document import ContractDocumentMiddleware
from voxcontract.middleware.cors import cors
from voxcontract.middleware.fast_path import FastPathMiddleware, compile_operations
from voxcontract.middleware.swagger_ui import RoutedSwaggerUIMiddleware
from voxcontract.middleware.validation import CompiledRequestValidationMiddleware, CompiledResponseValidationMiddleware
from voxcontract.middleware.validators import bounded_validator_map
from voxcontract.problems import HANDLED_EXCEPTIONS, problem_response
from voxcontract.ratelimit import RateLimiter
from voxcontract.settings import CoreSettings
from voxcontract.spec import load_spec

__all__ = ["ContractApp", "ContractURIParser", "create_contract_app"]

OperationResolver = Callable[[str], Callable[..., Any]]

#: A middleware class with its options (Connexion calls it with the next app).
Middleware = tuple[Any, Mapping[str, Any]]
#: Where the document is served as written (ContractDocumentMiddleware's options), and the Swagger UI.
DOCUMENT_PATHS = {"json_path": "/v1/openapi.json", "yaml_path": "/v1/openapi.yaml"}
SWAGGER_UI_PATH = "/v1/ui"


class _OneBodyTypeWarningFilter(logging.Filter):
    """Drops Connexion's warning that an operation accepts several body types, which it logs on every request to one.

    The contract means it (``POST /v1/upload`` takes multipart or JSON); four warnings per upload are noise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("this operation accepts multiple content types")


_CONNEXION_OPERATIONS_LOGGER = logging.getLogger("connexion.operations.openapi3")
if not any(isinstance(existing, _OneBodyTypeWarningFilter) for existing in _CONNEXION_OPERATIONS_LOGGER.filters):
    _CONNEXION_OPERATIONS_LOGGER.addFilter(_OneBodyTypeWarningFilter())


class ContractURIParser(OpenAPIURIParser):  # type: ignore[misc]
    """Connexion's parser, except that a multipart encoding's ``contentType`` list is never taken for JSON.

    Connexion tests the value by splitting it once on "/", so the contract's (valid) list ``audio/wav, audio/mpeg, ...``
    turned a ``file`` part sent without a filename (a plain form field) into a 500.
    """

    def __init__(self, param_defns: Any, body_defn: Any) -> None:
        super().__init__(param_defns, body_defn)
        encodings: dict[str, dict[str, Any]] = body_defn.get("encoding", {})
        self._body_encoding = {
            name: {key: value for key, value in encoding.items() if key != "contentType" or "," not in str(value)}
            for name, encoding in encodings.items()
        }


class ContractApp(RequestContextMiddleware):
    """The served ASGI app; ``.connexion`` is the Connexion app inside, for apps that add routes of their own."""

    def __init__(
        self,
        connexion_app: connexion.AsyncApp,
        *,
        settings: CoreSettings,
        id_factory: Callable[[], str] = new_request_id,
        document: Mapping[str, Any] | None = None,
        fast_path: Callable[[ASGIApp], FastPathMiddleware] | None = None,
    ) -> None:
        #: The fast path in front of Connexion (None when ``settings.fast_path`` is off).
        self.fast_path = None if fast_path is None else fast_path(connexion_app)
        served: ASGIApp = connexion_app if self.fast_path is None else self.fast_path
        inner = served if document is None else AllowHeaderMiddleware(served, document=document)
        limited = HeaderLimitMiddleware(inner, max_bytes=settings.max_header_bytes, max_count=settings.max_header_count)
        super().__init__(cors(limited, settings.cors_origins), id_factory=id_factory)
        self.connexion = connexion_app


def create_contract_app(
    *,
    settings: CoreSettings,
    operations: OperationResolver,
    keys: KeyResolver,
    limiter: RateLimiter | None = None,
    document: Mapping[str, Any] | None = None,
    lifespan: Any = None,
    request_ids: Callable[[], str] = new_request_id,
    middlewares: Sequence[Middleware] = (),
) -> ContractApp:
    """A Connexion AsyncApp serving ``document`` (the bundled contract by default) with ``operations`` as handlers.

    ``operations`` maps an operationId to its handler (an ``async def`` keeps requests off the thread pool);
    ``request_ids`` makes the ids of requests that sent none (the mock passes a seeded, deterministic one).
    ``middlewares`` (class, options) run after authentication and rate limiting, before the body limit and
    validation: the place for an app to take over a request whose body it streams itself. They see the requests the
    fast path leaves to Connexion, every one with a body other than JSON among them (``settings.fast_path`` off: all).
    Failed authentications are counted in ``limiter``'s storage (so resetting it forgets them too).
    """
    document = dict(document) if document is not None else load_spec()
    limiter = limiter or RateLimiter(settings.rate_limit, settings.rate_limit_storage)
    stack = connexion_stack(settings, document=document, keys=keys, limiter=limiter, middlewares=middlewares)
    app = connexion.AsyncApp(
        __name__,
        middlewares=[functools.partial(middleware, **options) for middleware, options in stack],
        lifespan=lifespan,
        uri_parser_class=ContractURIParser,
    )
    # Connexion wraps each handler in its parameter and response decorators on every request; these do it once.
    app._middleware_app.api_cls = OnceDecoratedApi
    for exception in HANDLED_EXCEPTIONS:
        app.add_error_handler(exception, problem_response)
    app.add_api(
        document,
        resolver=operations,
        validate_responses=settings.validate_responses,
        strict_validation=True,
        validator_map=bounded_validator_map(),
        swagger_ui_options=SwaggerUIOptions(
            spec_path=DOCUMENT_PATHS["json_path"],
            swagger_ui_path=SWAGGER_UI_PATH,
            swagger_ui_config={"validatorUrl": None},
        ),
    )
    fast_path = (
        _fast_path(settings, document=document, operations=operations, keys=keys, limiter=limiter)
        if settings.fast_path
        else None
    )
    return ContractApp(app, settings=settings, id_factory=request_ids, document=document, fast_path=fast_path)


def _fast_path(
    settings: CoreSettings,
    *,
    document: Mapping[str, Any],
    operations: OperationResolver,
    keys: KeyResolver,
    limiter: RateLimiter,
) -> Callable[[ASGIApp], FastPathMiddleware]:
    """The fast path in front of ``app``, with the operations, key resolver and limiters of the Connexion stack."""
    compiled = compile_operations(
        document,
        operations=operations,
        secured=secured_operations(document),
        validate_responses=settings.validate_responses,
        uri_parser_class=ContractURIParser,
    )
    return functools.partial(
        FastPathMiddleware,
        operations=compiled,
        keys=keys,
        limiter=limiter,
        failures=_auth_failures(settings, limiter),
    )


def connexion_stack(
    settings: CoreSettings,
    *,
    document: Mapping[str, Any],
    keys: KeyResolver,
    limiter: RateLimiter,
    middlewares: Sequence[Middleware] = (),
) -> list[Middleware]:
    """The middleware inside Connexion's app, outermost first, in one list (see the module's docstring)."""
    failures = _auth_failures(settings, limiter)
    return [
        (ServerErrorMiddleware, {}),
        (ExceptionMiddleware, {}),
        (ContractDocumentMiddleware, {"document": document, **DOCUMENT_PATHS}),
        (RoutedSwaggerUIMiddleware, {"ui_path": SWAGGER_UI_PATH, "document_paths": DOCUMENT_PATHS.values()}),
        (RoutingMiddleware, {}),
        (AuthMiddleware, {"document": document, "resolver": keys, "failures": failures}),
        (RateLimitMiddleware, {"limiter": limiter}),
        *middlewares,
        (BodyLimitMiddleware, {"max_bytes": settings.max_upload_bytes}),
        (CompiledRequestValidationMiddleware, {}),
        (CompiledResponseValidationMiddleware, {}),
        (LifespanMiddleware, {}),
        (ContextMiddleware, {}),
    ]


def _auth_failures(settings: CoreSettings, limiter: RateLimiter) -> RateLimiter | None:
    """The limiter of failed authentications per address (None when not limited), in ``limiter``'s storage."""
    if not settings.auth_failure_limit:
        return None
    return limiter.with_policy(settings.auth_failure_limit, policy_name=AUTH_FAILURE_POLICY)


class OnceDecorated(StarletteDecorator):  # type: ignore[misc]
    """Connexion's Starlette decorator, building the parameter and response decorators at the first call only.

    Connexion builds them (inspecting the handler's signature) and a URI parser on every request; all three
    depend only on the operation, which is fixed for a decorated handler.
    """

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        decorated: Callable[..., Any] | None = None
        uri_parser: Any = None

        @functools.wraps(function)
        async def wrapper(*_args: Any, **_kwargs: Any) -> Any:
            nonlocal decorated, uri_parser
            if decorated is None:
                uri_parser, decorated = self.uri_parser, self.decorate(function)
            request = self.framework.get_request(
                uri_parser=uri_parser, scope=connexion_scope, receive=connexion_receive
            )
            return await decorated(request)

        return wrapper


class OnceDecoratedOperation(AsyncOperation):  # type: ignore[misc]
    @functools.cached_property
    def fn(self) -> Callable[..., Any]:
        return OnceDecorated(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(self._fn)


class OnceDecoratedApi(AsyncApi):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> OnceDecoratedOperation:
        return OnceDecoratedOperation(
            operation.function,
            jsonifier=self.jsonifier,
            operation_id=operation.operation_id,
            pythonic_params=self.pythonic_params,
        )
