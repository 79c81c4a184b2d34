"""The ``Prefer`` header (RFC 7240) and the contract's examples as canned answers.

``Prefer: code=404`` answers the operation's documented 404 with its example problem; ``Prefer: example=completed``
answers the named example of the operation; ``Prefer: scenario=job-fails`` names a scenario. Canned answers have no
side effects. A problem example gets the real request id and path, so it stays consistent with ``X-Request-Id``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from voxcontract.context import current_context
from voxcontract.errors import PROBLEM_CONTENT_TYPE, BadRequest
from voxcontract.spec import deref, iter_operations

__all__ = ["CannedAnswers", "Preferences", "parse_prefer"]

_KNOWN = ("code", "example", "scenario")
_NON_TERMINAL = {"queued", "processing"}
_EXTENSIONS = {"application/json": "json", "text/plain": "txt", "application/x-subrip": "srt", "text/vtt": "vtt"}


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a request asked for with ``Prefer``; None where it asked nothing (or nothing valid)."""

    code: int | None = None
    example: str | None = None
    scenario: str | None = None


def parse_prefer(values: Iterable[str]) -> Preferences:
    """The ``code``, ``example`` and ``scenario`` preferences of one or more ``Prefer`` header values.

    Preferences are comma-separated ``name=value`` (the value may be quoted; ``;`` parameters are ignored);
    the first occurrence of a name wins, and a code that is not a 3-digit status is ignored.
    """
    found: dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            name, _, raw = item.partition(";")[0].partition("=")
            name = name.strip().lower()
            if name in _KNOWN and name not in found:
                found[name] = raw.strip().strip('"').strip()
    code = found.get("code", "")
    return Preferences(
        code=int(code) if code.isdigit() and len(code) == 3 else None,
        example=found.get("example") or None,
        scenario=found.get("scenario") or None,
    )


@dataclass(frozen=True, slots=True)
class _Example:
    status: int
    media_type: str
    name: str
    value: Any


class CannedAnswers:
    """The documented responses and examples of every operation of a document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._examples: dict[str, list[_Example]] = {}
        self._statuses: dict[str, set[int]] = {}
        for operation in iter_operations(document):
            if operation.operation_id:
                responses = operation.definition.get("responses") or {}
                self._statuses[operation.operation_id] = {int(code) for code in responses if str(code).isdigit()}
                self._examples[operation.operation_id] = list(_examples(document, operation.definition))

    def answer(self, operation_id: str, preferences: Preferences, path: str) -> Response | None:
        """The canned answer ``preferences`` ask for, or None when they ask for none (or an undocumented code)."""
        if preferences.code is not None and preferences.code in self._statuses.get(operation_id, set()):
            return self._by_code(operation_id, preferences.code, preferences.example, path)
        if preferences.example is not None:
            example = self._named(operation_id, preferences.example, status=None)
            return _render(example, operation_id, path, f"example={example.name}")
        return None

    def example_names(self, operation_id: str) -> list[str]:
        return [example.name for example in self._examples.get(operation_id, [])]

    def _by_code(self, operation_id: str, code: int, name: str | None, path: str) -> Response:
        if name is not None:
            example = self._named(operation_id, name, status=code)
            return _render(example, operation_id, path, f"code={code}, example={name}")
        for example in self._examples.get(operation_id, []):
            if example.status == code:
                return _render(example, operation_id, path, f"code={code}")
        return Response(status_code=code, headers={"Preference-Applied": f"code={code}"})

    def _named(self, operation_id: str, name: str, *, status: int | None) -> _Example:
        candidates = [e for e in self._examples.get(operation_id, []) if status is None or e.status == status]
        for example in candidates:
            if example.name == name:
                return example
        known = ", ".join(example.name for example in candidates) or "none"
        raise BadRequest(f"Unknown example {name[:64]!r} for {operation_id}; documented examples: {known}.")


def _examples(document: Mapping[str, Any], definition: Mapping[str, Any]) -> Iterable[_Example]:
    """Every named example of an operation's responses, success responses first."""
    responses = sorted((definition.get("responses") or {}).items(), key=lambda item: str(item[0]))
    for status, raw in responses:
        if not str(status).isdigit():
            continue
        response = deref(document, raw)
        for media_type, media in (response.get("content") or {}).items():
            for name, example in (media.get("examples") or {}).items():
                value = deref(document, example).get("value")
                yield _Example(int(status), media_type, name, value)


def _render(example: _Example, operation_id: str, path: str, applied: str) -> Response:
    headers = {"Preference-Applied": applied, **_headers(example, operation_id)}
    value = copy.deepcopy(example.value)
    if example.media_type == PROBLEM_CONTENT_TYPE and isinstance(value, dict):
        value.update(request_id=current_context().request_id, instance=path)
    if isinstance(value, str):
        return Response(value, status_code=example.status, media_type=example.media_type, headers=headers)
    content = json.dumps(value).encode("utf-8")
    return Response(content, status_code=example.status, media_type=example.media_type, headers=headers)


def _headers(example: _Example, operation_id: str) -> dict[str, str]:
    """The headers the real answer would carry: Location, Retry-After, WWW-Authenticate, Content-Disposition."""
    value = example.value if isinstance(example.value, dict) else {}
    headers: dict[str, str] = {}
    if example.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="voxscriber", error="invalid_token"'
    elif example.status == 429:
        headers["Retry-After"] = "1"
    elif example.status == 201 and "file_id" in value:
        headers["Location"] = f"/v1/files/{value['file_id']}"
    elif example.status == 202 and "job_id" in value:
        headers["Location"] = f"/v1/status/{value['job_id']}"
    if example.status in (200, 202) and value.get("status") in _NON_TERMINAL:
        headers["Retry-After"] = "1"
    if operation_id == "getTranscript" and example.status == 200:
        headers["Content-Disposition"] = f'attachment; filename="transcript.{_EXTENSIONS[example.media_type]}"'
    return headers
