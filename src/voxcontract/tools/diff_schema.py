"""How two schemas (and the pieces around them) differ, judged by which way the data flows.

The machinery under :mod:`voxcontract.tools.diff`: a request must keep accepting what it accepted (narrowing
breaks senders), a response must stay within what it promised (widening breaks receivers). Schemas are
compared through ``$ref`` and ``allOf``; a pair of schemas already on the way down is a cycle and stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from voxcontract.errors import SpecError
from voxcontract.spec import deref, escape_pointer

__all__ = [
    "NEW",
    "OLD",
    "REQUEST",
    "RESPONSE",
    "Change",
    "DiffContext",
    "Location",
    "add_new",
    "added",
    "diff_required",
    "diff_schema",
    "pairs",
]

OLD, NEW = "old", "new"
REQUEST, RESPONSE = "request", "response"
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_UPPER_BOUNDS = ("maximum", "maxLength", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minimum", "minLength", "minItems", "minProperties")
_FLAGS = ("exclusiveMinimum", "exclusiveMaximum", "uniqueItems")
_EXACT = ("pattern", "format", "multipleOf")

Seen = frozenset[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two documents; ``breaking`` when existing clients may fail on it."""

    kind: str
    pointer: str
    message: str
    breaking: bool

    def __str__(self) -> str:
        return f"{'BREAKING' if self.breaking else 'ok':<10}{self.pointer}: {self.message}"


@dataclass(frozen=True, slots=True)
class Location:
    """A place in both documents, and the field path that messages show."""

    old: str
    new: str
    field: str = ""

    def child(self, *parts: str, field: str | None = None) -> Location:
        tail = "".join(f"/{escape_pointer(part)}" for part in parts)
        return Location(self.old + tail, self.new + tail, self.field if field is None else field)

    def step(self, old: str, new: str) -> Location:
        """Into keys matched under different spellings (``Text/Plain``, a renamed template, an index)."""
        return Location(f"{self.old}/{escape_pointer(old)}", f"{self.new}/{escape_pointer(new)}", self.field)

    @property
    def subject(self) -> str:
        return f"{self.field!r} " if self.field else ""


@dataclass(frozen=True, slots=True)
class DiffContext:
    """Both documents, where the walk is (for messages), which way data flows, and the findings."""

    old: Mapping[str, Any]
    new: Mapping[str, Any]
    changes: list[Change]
    where: str = ""
    direction: str = REQUEST

    def at(self, where: str, direction: str | None = None) -> DiffContext:
        return replace(self, where=where.strip(), direction=direction or self.direction)

    def add(self, kind: str, pointer: str, text: str, breaking: bool) -> None:
        self.changes.append(Change(kind, pointer, f"{self.where}: {text}" if self.where else text, breaking))

    def breaks(self, *, narrowed: bool) -> bool:
        """Narrowing breaks senders (requests), widening breaks receivers (responses)."""
        return narrowed if self.direction == REQUEST else not narrowed

    def mapping(self, side: str, node: Any, pointer: str) -> Mapping[str, Any]:
        """``node`` dereferenced and checked to be an object; a missing node is an empty one."""
        if node is None:
            return _EMPTY
        try:
            node = deref(self.old if side == OLD else self.new, node)
        except SpecError as exc:
            raise SpecError(f"{side} document, at {pointer}: {exc}") from exc
        if not isinstance(node, Mapping):
            raise SpecError(f"{side} document: {pointer} should be an object, not {type(node).__name__}")
        return node

    def section(self, side: str, parent: Mapping[str, Any], key: str, pointer: str) -> dict[str, Any]:
        """``parent[key]`` as an object with string keys (YAML reads ``200:`` as an int)."""
        node = self.mapping(side, parent.get(key), f"{pointer}/{escape_pointer(key)}")
        return {str(name): value for name, value in node.items()}

    def sequence(self, side: str, node: Any, pointer: str) -> list[Any]:
        """``node`` checked to be a list; a missing node is an empty one."""
        if node is None:
            return []
        if not isinstance(node, list):
            raise SpecError(f"{side} document: {pointer} should be a list, not {type(node).__name__}")
        return node


def pairs(
    old: Mapping[str, Any], new: Mapping[str, Any], fold: Callable[[str], str] = str
) -> Iterator[tuple[str, str | None]]:
    """Every old key with the new key of the same folded name, or None when it is gone."""
    folded = {fold(key): key for key in new}
    for key in old:
        yield key, folded.get(fold(key))


def added(old: Mapping[str, Any], new: Mapping[str, Any], fold: Callable[[str], str] = str) -> Iterator[str]:
    """The new keys whose folded name the old mapping lacks."""
    known = {fold(key) for key in old}
    return (key for key in new if fold(key) not in known)


def add_new(ctx: DiffContext, thing: str, pointer: str, label: str, required: bool) -> None:
    """Something new: only a required thing that senders must now send breaks them."""
    breaking = required and ctx.direction == REQUEST
    text = f"{'required' if required else 'optional'} {label} was added"
    ctx.add(f"required-{thing}-added" if breaking else f"{thing}-added", pointer, text, breaking)


def diff_required(ctx: DiffContext, thing: str, loc: Location, before: bool, after: bool, subject: str) -> None:
    """A ``required`` flag that flipped: added breaks senders, removed breaks receivers."""
    if before != after:
        text = f"{subject}is {'now' if after else 'no longer'} required"
        ctx.add(f"{thing}-required-{'added' if after else 'removed'}", loc.new, text, ctx.breaks(narrowed=after))


def diff_schema(ctx: DiffContext, loc: Location, old: Any, new: Any, seen: Seen = frozenset()) -> None:
    """Compare two schemas and everything below them; a pair already on the way down is a cycle."""
    (old_id, before), (new_id, after) = _resolve(ctx, OLD, old, loc.old), _resolve(ctx, NEW, new, loc.new)
    if (old_id, new_id) in seen:
        return
    seen = seen | {(old_id, new_id)}
    if _diff_type(ctx, loc, before, after):
        return
    _diff_enum(ctx, loc, before, after)
    _diff_constraints(ctx, loc, before, after)
    _diff_properties(ctx, loc, before, after, seen)
    _diff_additional(ctx, loc, before, after, seen)
    if "items" in before or "items" in after:
        items = loc.child("items", field=f"{loc.field}[]")
        diff_schema(ctx, items, before.get("items"), after.get("items"), seen)
    for keyword in ("oneOf", "anyOf"):
        _diff_variants(ctx, loc, keyword, before, after, seen)


def _resolve(ctx: DiffContext, side: str, node: Any, pointer: str) -> tuple[int, Mapping[str, Any]]:
    """The schema's identity (for the cycle guard) and the schema with ``allOf`` folded in."""
    schema = ctx.mapping(side, node, pointer)
    return id(schema), _flatten(ctx, side, schema, pointer, frozenset({id(schema)}))


def _flatten(
    ctx: DiffContext, side: str, schema: Mapping[str, Any], pointer: str, seen: frozenset[int]
) -> Mapping[str, Any]:
    """Fold ``allOf`` members in (outer keys win), so moving fields into ``allOf`` is no change."""
    members = ctx.sequence(side, schema.get("allOf"), f"{pointer}/allOf")
    if not members:
        return schema
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    for index, raw in enumerate(members):
        member_pointer = f"{pointer}/allOf/{index}"
        member = ctx.mapping(side, raw, member_pointer)
        if id(member) not in seen:
            part = _flatten(ctx, side, member, member_pointer, seen | {id(member)})
            _merge(ctx, side, merged, part, member_pointer)
    return merged


def _merge(ctx: DiffContext, side: str, merged: dict[str, Any], part: Mapping[str, Any], pointer: str) -> None:
    properties = ctx.section(side, merged, "properties", pointer)
    for name, schema in ctx.section(side, part, "properties", pointer).items():
        properties.setdefault(name, schema)
    required = [*_required(ctx, side, merged, pointer), *_required(ctx, side, part, pointer)]
    for key, value in part.items():
        merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = list(dict.fromkeys(required))
    if part.get("additionalProperties") is False:
        merged["additionalProperties"] = False


def _type_of(schema: Mapping[str, Any]) -> str | None:
    if schema.get("type") is not None:
        return str(schema["type"])
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    return "array" if "items" in schema else None


def _diff_type(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Report a type change; True when the types are unrelated (comparing below would be noise)."""
    before, after = _type_of(old), _type_of(new)
    if before == after:
        return False
    widened = after is None or (before, after) == ("integer", "number")
    narrowed = before is None or (before, after) == ("number", "integer")
    breaking = not widened if ctx.direction == REQUEST else not narrowed
    text = f"{loc.subject}type changed from {before or 'any'} to {after or 'any'}"
    ctx.add("type-changed", loc.new, text, breaking)
    return not (widened or narrowed)


def _diff_enum(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    before = None if old.get("enum") is None else ctx.sequence(OLD, old["enum"], f"{loc.old}/enum")
    after = None if new.get("enum") is None else ctx.sequence(NEW, new["enum"], f"{loc.new}/enum")
    if after is None and before is not None:
        _enum_change(ctx, loc, "enum-widened", "is no longer limited to an enum")
    elif before is None and after is not None:
        _enum_change(ctx, loc, "enum-narrowed", f"is now limited to {_values(after)}")
    elif before is not None and after is not None:
        if lost := [value for value in before if value not in after]:
            _enum_change(ctx, loc, "enum-narrowed", f"enum lost {_values(lost)}")
        if gained := [value for value in after if value not in before]:
            _enum_change(ctx, loc, "enum-widened", f"enum gained {_values(gained)}")


def _enum_change(ctx: DiffContext, loc: Location, kind: str, text: str) -> None:
    narrowed = kind == "enum-narrowed"
    breaking = ctx.breaks(narrowed=narrowed)
    if breaking and not narrowed:
        text += "; clients may not handle the new value(s)"
    ctx.add(kind, loc.new, f"{loc.subject}{text}", breaking)


def _values(values: list[Any]) -> str:
    return ", ".join(repr(value) for value in values)


def _diff_constraints(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS, *_FLAGS, *_EXACT):
        before, after = old.get(key), new.get(key)
        if key in _FLAGS:
            before, after = before is True, after is True
        if before == after:
            continue
        tightened = _tightened(key, before, after)
        verb = "changed" if tightened is None else "tightened" if tightened else "loosened"
        text = f"{loc.subject}{key} {verb} from {_show(before)} to {_show(after)}"
        breaking = True if tightened is None else ctx.breaks(narrowed=tightened)
        ctx.add(f"constraint-{verb}", loc.new, text, breaking)
    if (old.get("nullable") is True) != (new.get("nullable") is True):
        removed = new.get("nullable") is not True
        text = f"{loc.subject}is {'no longer' if removed else 'now'} nullable"
        ctx.add("nullable-removed" if removed else "nullable-added", loc.new, text, ctx.breaks(narrowed=removed))
    _diff_default(ctx, loc, old, new)


def _tightened(key: str, before: Any, after: Any) -> bool | None:
    """True when ``after`` accepts less than ``before``, False when more, None when that is unclear."""
    if key in _FLAGS:
        return bool(after)
    if before is None or after is None:
        return before is None
    numbers = all(isinstance(value, int | float) and not isinstance(value, bool) for value in (before, after))
    if key in _EXACT or not numbers:
        return None
    return bool(after < before) if key in _UPPER_BOUNDS else bool(after > before)


def _show(value: Any) -> str:
    return "none" if value is None else repr(value)


def _diff_default(ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A changed default changes what senders get when they leave the field out."""
    if ctx.direction == REQUEST and "default" in old and "default" in new and old["default"] != new["default"]:
        text = f"{loc.subject}default changed from {old['default']!r} to {new['default']!r}"
        ctx.add("default-changed", loc.new, text, True)


def _required(ctx: DiffContext, side: str, schema: Mapping[str, Any], pointer: str) -> list[str]:
    return [str(name) for name in ctx.sequence(side, schema.get("required"), f"{pointer}/required")]


def _fields(ctx: DiffContext, side: str, schema: Mapping[str, Any], pointer: str) -> dict[str, Any]:
    """Properties by name; a name only listed in ``required`` counts as an unconstrained property."""
    fields = ctx.section(side, schema, "properties", pointer)
    for name in _required(ctx, side, schema, pointer):
        fields.setdefault(name, None)
    return fields


def _hidden(ctx: DiffContext, side: str, schema: Any, pointer: str) -> bool:
    """readOnly properties are never sent in requests, writeOnly ones never in responses."""
    return ctx.mapping(side, schema, pointer).get("readOnly" if ctx.direction == REQUEST else "writeOnly") is True


def _diff_properties(
    ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any], seen: Seen
) -> None:
    olds, news = _fields(ctx, OLD, old, loc.old), _fields(ctx, NEW, new, loc.new)
    old_required, new_required = _required(ctx, OLD, old, loc.old), _required(ctx, NEW, new, loc.new)
    for old_name, new_name in pairs(olds, news):
        child = loc.child("properties", new_name or old_name, field=_join(loc.field, new_name or old_name))
        if new_name is None:
            if not _hidden(ctx, OLD, olds[old_name], child.old):
                _property_removed(ctx, child, new)
        elif not (_hidden(ctx, OLD, olds[old_name], child.old) and _hidden(ctx, NEW, news[new_name], child.new)):
            required = (old_name in old_required, new_name in new_required)
            diff_required(ctx, "property", child, *required, f"property {child.field!r} ")
            diff_schema(ctx, child, olds[old_name], news[new_name], seen)
    for new_name in added(olds, news):
        child = loc.child("properties", new_name, field=_join(loc.field, new_name))
        if not _hidden(ctx, NEW, news[new_name], child.new):
            add_new(ctx, "property", child.new, f"property {child.field!r}", new_name in new_required)


def _property_removed(ctx: DiffContext, loc: Location, new_parent: Mapping[str, Any]) -> None:
    text = f"property {loc.field!r} was removed"
    if ctx.direction == RESPONSE:
        ctx.add("property-removed", loc.old, f"{text}; clients reading it find nothing", True)
    elif new_parent.get("additionalProperties") is False:
        ctx.add("property-removed", loc.old, f"{text} and additionalProperties is false: senders are rejected", True)
    else:
        ctx.add("property-removed", loc.old, f"{text}; additional properties are allowed, so senders pass", False)


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _diff_additional(
    ctx: DiffContext, loc: Location, old: Mapping[str, Any], new: Mapping[str, Any], seen: Seen
) -> None:
    before, after = old.get("additionalProperties"), new.get("additionalProperties")
    child = loc.child("additionalProperties", field=_join(loc.field, "*"))
    if after is False and before is not False:
        text = f"{loc.subject}no longer allows additional properties"
        ctx.add("additional-properties-forbidden", child.new, text, ctx.direction == REQUEST)
    elif before is False and after is not False:
        ctx.add("additional-properties-allowed", child.new, f"{loc.subject}now allows additional properties", False)
    elif before is not False and not (before in (None, True) and after in (None, True)):
        diff_schema(ctx, child, None if before is True else before, None if after is True else after, seen)


def _diff_variants(
    ctx: DiffContext, loc: Location, keyword: str, old: Mapping[str, Any], new: Mapping[str, Any], seen: Seen
) -> None:
    """``oneOf``/``anyOf`` members, matched by their ``$ref`` (else by position)."""
    olds, news = _variants(ctx, OLD, old, keyword, loc.old), _variants(ctx, NEW, new, keyword, loc.new)
    for old_key, new_key in pairs(olds, news):
        old_index, old_raw = olds[old_key]
        if new_key is None:
            text = f"{loc.subject}{keyword} variant {old_key} was removed"
            ctx.add("variant-removed", f"{loc.old}/{keyword}/{old_index}", text, ctx.breaks(narrowed=True))
        else:
            new_index, new_raw = news[new_key]
            variant = Location(f"{loc.old}/{keyword}/{old_index}", f"{loc.new}/{keyword}/{new_index}", loc.field)
            diff_schema(ctx, variant, old_raw, new_raw, seen)
    for new_key in added(olds, news):
        text = f"{loc.subject}{keyword} variant {new_key} was added"
        ctx.add("variant-added", f"{loc.new}/{keyword}/{news[new_key][0]}", text, ctx.breaks(narrowed=False))


def _variants(
    ctx: DiffContext, side: str, schema: Mapping[str, Any], keyword: str, pointer: str
) -> dict[str, tuple[int, Any]]:
    found: dict[str, tuple[int, Any]] = {}
    for index, raw in enumerate(ctx.sequence(side, schema.get(keyword), f"{pointer}/{keyword}")):
        ref = raw.get("$ref") if isinstance(raw, Mapping) else None
        found[ref if isinstance(ref, str) else f"#{index}"] = (index, raw)
    return found
