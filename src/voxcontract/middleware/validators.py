"""Connexion's request validators, bounded: no body shape or value a client sends makes them fail or echo it whole.

Connexion's own validators parse a JSON body with a bare ``json.loads`` and let what it raises besides a syntax
error through as a 500: ``RecursionError`` for a document nested ~1,000 levels deep, ``ValueError`` for an integer
past Python's digit limit (4,300), ``LookupError`` for an unknown charset. Here each is a ``400 malformed_body``,
documents nested deeper than :data:`MAX_JSON_DEPTH` are refused before anything walks them (schema validation,
re-serialisation), and ``NaN``/``Infinity`` (not JSON) are refused too.

Their validation messages repeat the offending value whole (a 10 MB string came back in a 10 MB problem), and a
parameter's message adds the whole schema; here a message names the value by an excerpt
(:func:`voxcontract.problems.excerpt`) and says nothing of the schema. A failed form validation is logged at info
level, not as an error: it is the client's mistake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from typing import Any, NoReturn

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, MultiPartFormDataValidator
from connexion.validators.parameter import ParameterValidator
from jsonschema import Draft4Validator, ValidationError
from starlette.types import Scope

from voxcontract.errors import MalformedBody
from voxcontract.problems import EXCERPT_CHARS, excerpt

__all__ = [
    "MAX_JSON_DEPTH",
    "BoundedJSONBodyValidator",
    "BoundedMultiPartValidator",
    "BoundedParameterValidator",
    "bounded_validator_map",
    "describe_validation_error",
    "parse_json_body",
]

logger = logging.getLogger(__name__)

#: The deepest nesting of arrays and objects a JSON body may have (the contract's documents need 3).
MAX_JSON_DEPTH = 32


def describe_validation_error(error: ValidationError) -> str:
    """jsonschema's message with the offending value (and the keys on the path to it) cut to an excerpt."""
    message = error.message
    if isinstance(error.instance, str | bytes | list | dict):
        shown = repr(error.instance)
        if len(shown) > EXCERPT_CHARS:
            message = message.replace(shown, _excerpt_repr(error.instance, shown))
    path = ".".join(excerpt(str(item)) for item in error.path)
    return f"{message} - '{path}'" if path else message


def _excerpt_repr(value: object, shown: str) -> str:
    """A long value as its repr quotes it, cut: a string's quotes stay around the excerpt of its characters, so
    the cut mark counts the value, not its quotes."""
    if isinstance(value, str | bytes):
        opening = shown.index(shown[-1])  # after a bytes repr's b
        return shown[: opening + 1] + excerpt(shown[opening + 1 : -1]) + shown[-1]
    return excerpt(shown)


def parse_json_body(raw: bytes, encoding: str) -> Any:
    """The JSON document of a request body (None when empty); :class:`MalformedBody` for anything not bounded JSON."""
    try:
        text = raw.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"The request body is not text in the charset {excerpt(encoding)!r}: {exc}") from None
    if not text:
        return None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:  # JSONDecodeError, and integers of more digits than Python converts
        raise MalformedBody(f"The request body is not valid JSON: {excerpt(str(exc))}") from None
    if _nested_deeper_than(document, MAX_JSON_DEPTH):
        raise _too_deep()
    return document


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def _too_deep() -> MalformedBody:
    return MalformedBody(f"The JSON body is nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects.")


def _nested_deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    """JSON bodies parsed by :func:`parse_json_body`, validation messages with excerpts."""

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        return parse_json_body(b"".join([chunk async for chunk in stream]), self._encoding)

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not self._nullable and body is None:
            raise BadRequestProblem("Request body must not be empty")
        try:
            self._validator.validate(body)
        except ValidationError as exc:
            raise BadRequestProblem(detail=describe_validation_error(exc)) from None
        return None


class BoundedMultiPartValidator(MultiPartFormDataValidator):  # type: ignore[misc]
    """Multipart forms validated as Connexion does, with excerpts, logged at info level."""

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            raise BadRequestProblem("Parsed body must be a mapping")
        if self._strict_validation:
            self._validate_params_strictly(body)
        try:
            self._validator.validate(body)
        except ValidationError as exc:
            detail = describe_validation_error(exc)
            logger.info("invalid form: %s", detail)
            raise BadRequestProblem(detail=detail) from None
        return None


class BoundedParameterValidator(ParameterValidator):  # type: ignore[misc]
    """Parameters validated as Connexion does; a message names the parameter and an excerpt, not the schema."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        if is_nullable(param) and is_null(value):
            return None
        if value is None:
            return f"Missing {parameter_type} parameter '{param['name']}'" if param.get("required") else None
        schema = param.get("schema", param)
        try:
            Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER).validate(value)
        except ValidationError as exc:
            return f"The {parameter_type} parameter '{param['name']}' is invalid: {describe_validation_error(exc)}"
        return None


def bounded_validator_map() -> dict[str, Any]:
    """Connexion's ``validator_map`` with the bounded validators in place of its own."""
    body = MediaTypeDict(
        {
            **VALIDATOR_MAP["body"],
            "*/*json": BoundedJSONBodyValidator,
            "multipart/form-data": BoundedMultiPartValidator,
        }
    )
    return {**VALIDATOR_MAP, "parameter": BoundedParameterValidator, "body": body}
