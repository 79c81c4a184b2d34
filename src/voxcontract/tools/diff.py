"""The changes between two versions of an OpenAPI 3.0 document, flagged breaking or not (``voxcontract diff``).

Operations are matched by method and path (template names folded, so ``{id}`` matches ``{job_id}``),
parameters by ``in`` and name, responses by status code, media types and headers case-insensitively.
Callbacks are requests the server sends, so they are judged the other way round. Pointers name a place in
an operation's resolved tree (through ``$ref``): in the new document, in the old one for removals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voxcontract.errors import SpecError
from voxcontract.spec import HTTP_METHODS, Operation, escape_pointer, iter_operations
from voxcontract.tools.diff_schema import (
    NEW,
    OLD,
    REQUEST,
    RESPONSE,
    Change,
    DiffContext,
    Location,
    add_new,
    added,
    diff_required,
    diff_schema,
    pairs,
)

__all__ = ["Change", "diff_documents"]

_TEMPLATE = re.compile(r"\{([^{}/]+)\}")


def diff_documents(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """The changes from ``old`` to ``new`` in document order, without duplicates."""
    for side, document in ((OLD, old), (NEW, new)):
        if not isinstance(document, Mapping):
            raise SpecError(f"the {side} document is not an OpenAPI document (a mapping at the top)")
    ctx = DiffContext(old, new, [])
    olds = _exchanges(ctx, OLD, ctx.section(OLD, old, "paths", "#"), "#/paths")
    news = _exchanges(ctx, NEW, ctx.section(NEW, new, "paths", "#"), "#/paths")
    _diff_operations(ctx, olds, news, REQUEST)
    return list(dict.fromkeys(ctx.changes))


@dataclass(frozen=True, slots=True)
class _Exchange:
    """An operation (or a callback's operation) and where it lives."""

    operation: Operation
    item_pointer: str
    pointer: str

    @property
    def label(self) -> str:
        return f"{self.operation.method.upper()} {self.operation.path}"


def _exchanges(ctx: DiffContext, side: str, paths: Mapping[str, Any], base: str) -> dict[str, _Exchange]:
    """Operations keyed by method and path, template names folded so ``{id}`` matches ``{job_id}``."""
    for path, item in paths.items():
        pointer = f"{base}/{escape_pointer(path)}"
        checked = ctx.mapping(side, item, pointer)
        for method in HTTP_METHODS:
            ctx.mapping(side, checked.get(method), f"{pointer}/{method}")
    found: dict[str, _Exchange] = {}
    for operation in iter_operations({"paths": paths}):
        item_pointer = f"{base}/{escape_pointer(operation.path)}"
        key = f"{operation.method} {_TEMPLATE.sub('{}', operation.path)}"
        found[key] = _Exchange(operation, item_pointer, f"{item_pointer}/{operation.method}")
    return found


def _diff_operations(ctx: DiffContext, olds: dict[str, _Exchange], news: dict[str, _Exchange], inbound: str) -> None:
    noun = "operation" if inbound == REQUEST else "callback"
    for old_key, new_key in pairs(olds, news):
        if new_key is None:
            ctx.add(f"{noun}-removed", olds[old_key].pointer, f"{olds[old_key].label} was removed", True)
        else:
            _diff_operation(ctx, olds[old_key], news[new_key], inbound)
    for new_key in added(olds, news):
        ctx.add(f"{noun}-added", news[new_key].pointer, f"{news[new_key].label} was added", False)


def _diff_operation(ctx: DiffContext, old: _Exchange, new: _Exchange, inbound: str) -> None:
    ctx = ctx.at(f"{ctx.where} {new.label}", inbound)
    loc = Location(old.pointer, new.pointer)
    old_definition, new_definition = old.operation.definition, new.operation.definition
    if inbound == REQUEST:
        _diff_security(ctx, old.operation, new.operation, loc)
    _diff_parameters(ctx, old, new)
    _diff_request_body(ctx, loc, old_definition, new_definition)
    _diff_responses(ctx.at(ctx.where, RESPONSE if inbound == REQUEST else REQUEST), loc, old_definition, new_definition)
    if inbound == REQUEST:  # a callback's own callbacks would be the client's business
        _diff_callbacks(ctx, loc, old_definition, new_definition)


def _diff_callbacks(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Callbacks are requests the server sends: their bodies are held to response rules."""
    olds, news = ctx.section(OLD, old, "callbacks", loc.old), ctx.section(NEW, new, "callbacks", loc.new)
    base = loc.child("callbacks")
    for old_name, new_name in pairs(olds, news):
        if new_name is None:
            ctx.add("callback-removed", base.child(old_name).old, f"callback {old_name!r} was removed", True)
            continue
        cb = base.child(new_name)
        old_paths, new_paths = ctx.section(OLD, olds, old_name, base.old), ctx.section(NEW, news, new_name, base.new)
        olds_ex, news_ex = _exchanges(ctx, OLD, old_paths, cb.old), _exchanges(ctx, NEW, new_paths, cb.new)
        _diff_operations(ctx.at(f"{ctx.where} callback {new_name!r}"), olds_ex, news_ex, RESPONSE)
    for new_name in added(olds, news):
        ctx.add("callback-added", base.child(new_name).new, f"callback {new_name!r} was added", False)


_Requirements = frozenset[frozenset[tuple[str, tuple[str, ...]]]]


def _diff_security(ctx: DiffContext, old: Operation, new: Operation, loc: Location) -> None:
    (before, old_schemes), (after, new_schemes) = _security(ctx, OLD, old), _security(ctx, NEW, new)
    if before != after:
        text = f"security changed from {_describe(before)} to {_describe(after)}"
    elif old_schemes != new_schemes:
        names = sorted(name for name in old_schemes if old_schemes[name] != new_schemes.get(name))
        text = f"the definition of security scheme {', '.join(names)} changed"
    else:
        return
    ctx.add("security-changed", f"{loc.new}/security", text, True)


def _security(ctx: DiffContext, side: str, operation: Operation) -> tuple[_Requirements, dict[str, str]]:
    """The effective requirements (``[]`` and ``[{}]`` both mean none) and the schemes they name."""
    document = ctx.old if side == OLD else ctx.new
    own = "security" in operation.definition
    pointer = f"#/paths/{escape_pointer(operation.path)}/{operation.method}/security" if own else "#/security"
    ctx.sequence(side, operation.definition.get("security", document.get("security")), pointer)
    schemes = ctx.section(side, ctx.section(side, document, "components", "#"), "securitySchemes", "#/components")
    alternatives: set[frozenset[tuple[str, tuple[str, ...]]]] = set()
    definitions: dict[str, str] = {}
    for index, raw in enumerate(operation.security(document)):
        requirement = ctx.mapping(side, raw, f"{pointer}/{index}")
        scopes = {str(name): ctx.sequence(side, value, f"{pointer}/{index}") for name, value in requirement.items()}
        alternatives.add(frozenset((name, tuple(sorted(map(str, v)))) for name, v in scopes.items()))
        definitions.update({name: _scheme(ctx, side, schemes, name) for name in scopes})
    return frozenset(alternatives or {frozenset()}), definitions


def _scheme(ctx: DiffContext, side: str, schemes: Mapping[str, Any], name: str) -> str:
    pointer = f"#/components/securitySchemes/{escape_pointer(name)}"
    if name not in schemes:
        raise SpecError(f"{side} document: a security requirement names {name!r}, but {pointer} is missing")
    scheme = {key: value for key, value in ctx.mapping(side, schemes[name], pointer).items() if key != "description"}
    return json.dumps(scheme, sort_keys=True, default=str)


def _describe(requirements: _Requirements) -> str:
    def one(alternative: frozenset[tuple[str, tuple[str, ...]]]) -> str:
        names = sorted(name + (f" ({', '.join(scopes)})" if scopes else "") for name, scopes in alternative)
        return " and ".join(names) or "none"

    return " or ".join(sorted(one(alternative) for alternative in requirements))


def _diff_parameters(ctx: DiffContext, old: _Exchange, new: _Exchange) -> None:
    olds, news = _parameters(ctx, OLD, old), _parameters(ctx, NEW, new)
    for old_key, new_key in pairs(olds, news):
        old_pointer, old_param = olds[old_key]
        if new_key is None:
            ctx.add("parameter-removed", old_pointer, f"{_param_label(old_param)} was removed", True)
        else:
            _diff_parameter(ctx, Location(old_pointer, news[new_key][0]), old_param, news[new_key][1])
    for new_key in added(olds, news):
        new_pointer, new_param = news[new_key]
        add_new(ctx, "parameter", new_pointer, _param_label(new_param), _param_required(new_param))


def _parameters(ctx: DiffContext, side: str, exchange: _Exchange) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Path-level then operation-level parameters (the latter winning, as in ``Operation.parameters``),
    with their pointers, keyed by ``in`` and name; a path parameter by its place in the template."""
    names = _TEMPLATE.findall(exchange.operation.path)
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    owners = ((exchange.operation.path_item, exchange.item_pointer), (exchange.operation.definition, exchange.pointer))
    for owner, base in owners:
        for index, raw in enumerate(ctx.sequence(side, owner.get("parameters"), f"{base}/parameters")):
            pointer = f"{base}/parameters/{index}"
            param = ctx.mapping(side, raw, pointer)
            name, where = str(param.get("name")), str(param.get("in"))
            if where == "path" and name in names:
                name = f"{{{names.index(name)}}}"
            found[f"{where}:{name.lower() if where == 'header' else name}"] = (pointer, param)
    return found


def _param_label(param: Mapping[str, Any]) -> str:
    return f"{param.get('in')} parameter {param.get('name')!r}"


def _param_required(param: Mapping[str, Any]) -> bool:
    return param.get("in") == "path" or param.get("required") is True


def _param_style(param: Mapping[str, Any]) -> str:
    style = str(param.get("style", "form" if param.get("in") in ("query", "cookie") else "simple"))
    return style + (" exploded" if param.get("explode", style == "form") is True else "")


def _param_schema(ctx: DiffContext, side: str, param: Mapping[str, Any], pointer: str) -> tuple[str, Any]:
    """The parameter's schema and its pointer: ``schema``, or that of its one ``content`` media type."""
    content = ctx.section(side, param, "content", pointer)
    if "schema" in param or not content:
        return f"{pointer}/schema", param.get("schema")
    media_type, media = next(iter(content.items()))
    media_pointer = f"{pointer}/content/{escape_pointer(media_type)}"
    return f"{media_pointer}/schema", ctx.mapping(side, media, media_pointer).get("schema")


def _diff_parameter(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    label = _param_label(new)
    diff_required(ctx, "parameter", loc, _param_required(old), _param_required(new), f"{label} ")
    param_ctx = ctx.at(f"{ctx.where} {label}")
    if _param_style(old) != _param_style(new):
        text = f"serialisation changed from {_param_style(old)} to {_param_style(new)}"
        param_ctx.add("parameter-style-changed", loc.new, text, True)
    old_pointer, old_schema = _param_schema(ctx, OLD, old, loc.old)
    new_pointer, new_schema = _param_schema(ctx, NEW, new, loc.new)
    diff_schema(param_ctx, Location(old_pointer, new_pointer), old_schema, new_schema)


def _diff_request_body(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    loc = loc.child("requestBody")
    had, has = old.get("requestBody") is not None, new.get("requestBody") is not None
    before, after = ctx.mapping(OLD, old.get("requestBody"), loc.old), ctx.mapping(NEW, new.get("requestBody"), loc.new)
    if had and not has:
        ctx.add("request-body-removed", loc.old, "the request body was removed", True)
    elif has and not had:
        add_new(ctx, "request-body", loc.new, "request body", after.get("required") is True)
    elif had:
        required = (before.get("required") is True, after.get("required") is True)
        diff_required(ctx, "request-body", loc, *required, "the request body ")
        _diff_content(ctx.at(f"{ctx.where} request body"), loc, before, after)


def _diff_responses(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    olds, news = ctx.section(OLD, old, "responses", loc.old), ctx.section(NEW, new, "responses", loc.new)
    base = loc.child("responses")
    for old_code, new_code in pairs(olds, news, str.upper):
        if new_code is None:
            ctx.add("status-code-removed", base.child(old_code).old, f"response {old_code} was removed", True)
        else:
            response_ctx = ctx.at(f"{ctx.where} response {new_code}")
            _diff_response(response_ctx, base.step(old_code, new_code), olds[old_code], news[new_code])
    for new_code in added(olds, news, str.upper):
        ctx.add("status-code-added", base.child(new_code).new, f"response {new_code} was added", False)


def _diff_response(ctx: DiffContext, loc: Location, old: Any, new: Any) -> None:
    before, after = ctx.mapping(OLD, old, loc.old), ctx.mapping(NEW, new, loc.new)
    _diff_headers(ctx, loc, before, after)
    _diff_content(ctx, loc, before, after)


def _diff_headers(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    olds, news = ctx.section(OLD, old, "headers", loc.old), ctx.section(NEW, new, "headers", loc.new)
    base = loc.child("headers")
    for old_name, new_name in pairs(olds, news, str.lower):
        if new_name is None:
            ctx.add("response-header-removed", base.child(old_name).old, f"header {old_name!r} was removed", True)
        else:
            _diff_header(ctx, base.step(old_name, new_name), new_name, olds[old_name], news[new_name])
    for new_name in added(olds, news, str.lower):
        pointer = base.child(new_name).new
        required = ctx.mapping(NEW, news[new_name], pointer).get("required") is True
        add_new(ctx, "response-header", pointer, f"header {new_name!r}", required)


def _diff_header(ctx: DiffContext, loc: Location, name: str, old: Any, new: Any) -> None:
    before, after = ctx.mapping(OLD, old, loc.old), ctx.mapping(NEW, new, loc.new)
    required = (before.get("required") is True, after.get("required") is True)
    diff_required(ctx, "response-header", loc, *required, f"header {name!r} ")
    diff_schema(ctx.at(f"{ctx.where} header {name!r}"), loc.child("schema"), before.get("schema"), after.get("schema"))


def _diff_content(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    olds, news = ctx.section(OLD, old, "content", loc.old), ctx.section(NEW, new, "content", loc.new)
    base = loc.child("content")
    for old_type, new_type in pairs(olds, news, str.lower):
        if new_type is None:
            ctx.add("media-type-removed", base.child(old_type).old, f"media type {old_type!r} was removed", True)
            continue
        media = base.step(old_type, new_type)
        before, after = ctx.mapping(OLD, olds[old_type], media.old), ctx.mapping(NEW, news[new_type], media.new)
        diff_schema(
            ctx.at(f"{ctx.where} ({new_type})"), media.child("schema"), before.get("schema"), after.get("schema")
        )
    for new_type in added(olds, news, str.lower):
        ctx.add("media-type-added", base.child(new_type).new, f"media type {new_type!r} was added", False)
