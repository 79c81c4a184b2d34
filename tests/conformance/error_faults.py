"""Fault injection for the errors group: the intact mock behind a wrapper that misanswers one kind of refusal.

:class:`Misanswer` says which answers go wrong (a predicate on the request's scope, the status and the problem) and
how: another status and code (the problem's ``status`` kept consistent, so only the check that expects the
documented answer can tell), an edited ``detail``, dropped headers, or a whole other answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Scope

from tests.conformance.faults import Answer, AnswerRewriter

__all__ = ["Misanswer", "MisansweredRefusal", "problem_code", "request_path"]

Predicate = Callable[[Scope, int, dict[str, Any]], bool]


@dataclass(frozen=True)
class Misanswer:
    """Which answers go wrong, and how."""

    when: Predicate
    status: int | None = None
    code: str | None = None
    edit_detail: Callable[[str], str] | None = None
    drop_headers: tuple[str, ...] = ()
    #: A whole other answer: (status, content type, body).
    instead: tuple[int, str, bytes] | None = None


class MisansweredRefusal(AnswerRewriter):
    """Answers matching ``misanswer.when`` are changed as it says."""

    def __init__(self, app: ASGIApp, misanswer: Misanswer) -> None:
        super().__init__(app)
        self.misanswer = misanswer

    def rewrite(self, scope: Scope, status: int, headers: MutableHeaders, body: bytes) -> Answer:
        problem = _problem(headers, body)
        fault = self.misanswer
        if not fault.when(scope, status, problem):
            return status, headers, body
        for name in fault.drop_headers:
            if name in headers:
                del headers[name]
        if fault.instead is not None:
            headers["content-type"] = fault.instead[1]
            return fault.instead[0], headers, fault.instead[2]
        status = fault.status or status
        problem = {**problem, "status": status, "code": fault.code or problem.get("code")}
        if fault.edit_detail is not None:
            problem["detail"] = fault.edit_detail(str(problem.get("detail", "")))
        return status, headers, json.dumps(problem).encode() if problem.get("type") else body


def _problem(headers: MutableHeaders, body: bytes) -> dict[str, Any]:
    if not headers.get("content-type", "").startswith("application/problem+json"):
        return {}
    try:
        problem = json.loads(body)
    except ValueError:  # an empty body (the answer to HEAD, say)
        return {}
    return problem if isinstance(problem, dict) else {}


def problem_code(code: str, path_prefix: str = "/") -> Predicate:
    """Problems with ``code`` to requests under ``path_prefix``."""
    return lambda scope, status, problem: problem.get("code") == code and request_path(scope).startswith(path_prefix)


def request_path(scope: Scope) -> str:
    return str(scope.get("path", ""))
