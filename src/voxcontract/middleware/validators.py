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

import functools
import json
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any, NoReturn

import jsonschema_rs
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator, Draft4ResponseValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import (
    VALIDATOR_MAP,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    MultiPartFormDataValidator,
    TextResponseBodyValidator,
)
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
    "parameter_validator",
    "parse_json_body",
    "request_body_validator",
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


class FastAcceptValidator:
    """A jsonschema validator whose accepting verdicts a compiled validator (jsonschema-rs) gives first.

    The compiled validator sees a schema translated so that it accepts only what the Python one accepts: OpenAPI's
    ``nullable`` (which Connexion's validators honour on ``type`` and ``enum``) becomes ``"null"`` in the type and
    ``None`` in the enum, and every format the Python validator checks is checked by the Python validator's own
    format checker. Whatever it refuses, or where it may disagree (a stricter regex dialect, a format it checks and
    Python does not), goes to the Python validator, whose verdict and message stand. Schemas it cannot express
    (``writeOnly``, which Connexion refuses in responses; unresolved ``$ref``) are left to the Python validator.
    """

    def __init__(self, python: Any, compiled: Any) -> None:
        self.python = python
        self.compiled = compiled

    def validate(self, instance: Any) -> None:
        if not self._compiled_accepts(instance):
            self.python.validate(instance)

    def _compiled_accepts(self, instance: Any) -> bool:
        try:
            return bool(self.compiled.is_valid(instance))
        except ValueError:  # a value JSON cannot hold (a non-string key, an object): the Python validator judges
            return False


def fast_accept(python: Any, schema: Any, *, nullable: bool) -> Any:
    """``python`` (a Draft 4 validator of ``schema``) behind a :class:`FastAcceptValidator` where one can be built.

    ``nullable``: whether ``python`` honours OpenAPI's ``nullable`` (Connexion's body validators; not its parameter
    validator, a plain Draft 4 one).
    """
    if not _expressible(schema):
        return python
    translated = _with_null_allowed(schema) if nullable else schema
    try:
        compiled = jsonschema_rs.Draft4Validator(translated, formats=_PYTHON_FORMATS, validate_formats=True)
    except (ValueError, jsonschema_rs.ValidationError):  # a schema jsonschema-rs does not take
        return python
    return FastAcceptValidator(python, compiled)


def _check_format(name: str, value: Any) -> bool:
    if type(value) is str and len(value) <= _REMEMBERED_FORMAT_LENGTH:
        return _remembered_format_verdict(name, value)
    return bool(Draft4Validator.FORMAT_CHECKER.conforms(value, name))


#: Verdicts on short strings are remembered: a server's answers repeat their timestamps and ids (a job polled
#: again has the same ``created_at``), and a format's verdict depends on the string alone.
_REMEMBERED_FORMAT_LENGTH = 64


@functools.lru_cache(maxsize=4096)
def _remembered_format_verdict(name: str, value: str) -> bool:
    return bool(Draft4Validator.FORMAT_CHECKER.conforms(value, name))


#: Every format the Python validators check, checked by them (jsonschema-rs' own checks may differ at the edges).
_PYTHON_FORMATS: dict[str, Callable[[Any], bool]] = {
    name: functools.partial(_check_format, name) for name in Draft4Validator.FORMAT_CHECKER.checkers
}


#: Keywords whose Python semantics the compiled validator is not given: Connexion's refusal of write-only
#: properties in responses, references (Connexion hands over resolved schemas), float division.
_PYTHON_ONLY_KEYWORDS = frozenset({"$ref", "writeOnly", "x-writeOnly", "multipleOf"})
_BOUND_KEYWORDS = ("minimum", "maximum")
#: jsonschema-rs compares large integers as doubles: exact only for bounds below 2**53.
_EXACT_BOUND = 2**53


def _expressible(schema: Any, within: frozenset[int] = frozenset()) -> bool:
    """Whether jsonschema-rs judges ``schema`` as the Python validator does (see :class:`FastAcceptValidator`).

    A schema that contains itself (a resolved recursive ``$ref``, or an app's canned answer built around one) is
    left to Python: jsonschema-rs takes no cyclic document, and walking one would never end.
    """
    if isinstance(schema, list | dict) and id(schema) in within:
        return False
    inner = within | {id(schema)}
    if isinstance(schema, list):
        return all(_expressible(value, inner) for value in schema)
    if not isinstance(schema, dict):
        return True
    if _PYTHON_ONLY_KEYWORDS.intersection(schema):
        return False
    bounds = [schema[key] for key in _BOUND_KEYWORDS if isinstance(schema.get(key), int | float)]
    if any(abs(bound) >= _EXACT_BOUND for bound in bounds):
        return False
    return all(_expressible(value, inner) for value in schema.values())


def _with_null_allowed(schema: Any) -> Any:
    """A copy of ``schema`` where each schema marked ``nullable`` (or ``x-nullable``) lets ``null`` through its
    ``type`` and ``enum``, as Connexion's ``allow_nullable`` does."""
    if isinstance(schema, list):
        return [_with_null_allowed(value) for value in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: _with_null_allowed(value) for key, value in schema.items()}
    if schema.get("nullable") or schema.get("x-nullable") is True:
        if isinstance(copy.get("type"), str):
            copy["type"] = [copy["type"], "null"]
        if isinstance(copy.get("enum"), list) and None not in copy["enum"]:
            copy["enum"] = [*copy["enum"], None]
    return copy


class BoundedJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    """JSON bodies parsed by :func:`parse_json_body`, validation messages with excerpts."""

    @functools.cached_property
    def _validator(self) -> Any:
        # Connexion builds this per request; an instance lives as long as its operation (validation.py).
        return request_body_validator(self._schema)

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

    @functools.cached_property
    def _validator(self) -> Any:
        return request_body_validator(self._schema)

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
    """Parameters validated as Connexion does; a message names the parameter and an excerpt, not the schema.

    Each parameter's schema validator is built once, with the validator (Connexion builds one per value).
    """

    def __init__(self, parameters: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        super().__init__(parameters, *args, **kwargs)
        self._schema_validators = {id(param): parameter_validator(param) for param in parameters}

    def validate_parameter(
        self, parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        if is_nullable(param) and is_null(value):
            return None
        if value is None:
            return f"Missing {parameter_type} parameter '{param['name']}'" if param.get("required") else None
        validator = self._schema_validators.get(id(param)) or parameter_validator(param)
        try:
            validator.validate(value)
        except ValidationError as exc:
            return f"The {parameter_type} parameter '{param['name']}' is invalid: {describe_validation_error(exc)}"
        return None


def request_body_validator(schema: Any) -> Any:
    """The validator of a request body's (or form's) schema, as Connexion's request validators judge it."""
    python = Draft4RequestValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    return fast_accept(python, schema, nullable=True)


def parameter_validator(param: dict[str, Any]) -> Any:
    """The validator of a parameter's schema, as Connexion's parameter validator judges a (coerced) value."""
    schema = param.get("schema", param)
    python = Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    return fast_accept(python, schema, nullable=False)


def _response_validator(schema: Any) -> Any:
    python = Draft4ResponseValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
    return fast_accept(python, schema, nullable=True)


class CompiledJSONResponseValidator(JSONResponseBodyValidator):  # type: ignore[misc]
    """Connexion's JSON response validator with its schema validator built once per instance, not per answer."""

    @functools.cached_property
    def validator(self) -> Any:
        return _response_validator(self._schema)


class CompiledTextResponseValidator(TextResponseBodyValidator):  # type: ignore[misc]
    @functools.cached_property
    def validator(self) -> Any:
        return _response_validator(self._schema)


def bounded_validator_map() -> dict[str, Any]:
    """Connexion's ``validator_map`` with the bounded validators in place of its own."""
    body = MediaTypeDict(
        {
            **VALIDATOR_MAP["body"],
            "*/*json": BoundedJSONBodyValidator,
            "multipart/form-data": BoundedMultiPartValidator,
        }
    )
    response = MediaTypeDict({"*/*json": CompiledJSONResponseValidator, "text/plain": CompiledTextResponseValidator})
    return {**VALIDATOR_MAP, "parameter": BoundedParameterValidator, "body": body, "response": response}
