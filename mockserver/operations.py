"""What only the mock does, wrapped around the core's handlers: refresh the state, honour ``Prefer``, apply request
scenarios. The handlers themselves are the core's (:func:`voxcontract.api.operation_table` over
:class:`mockserver.backend.MockBackend`); :class:`MockOperations` decorates each entry of that table.

The order, per request: the clock-driven state is refreshed (jobs that ended announce their webhooks, expired data
goes); an unknown ``Prefer: scenario`` is a 400; ``Prefer: code=`` / ``example=`` answers a canned example with no
side effects; a request-stage scenario (``Prefer``, else the admin default) fails the request; then the handler runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from connexion.context import scope as connexion_scope
from starlette.datastructures import Headers

from mockserver.prefer import CannedAnswers, Preferences, parse_prefer
from mockserver.scenarios import Scenario, get_scenario, scenario_error
from mockserver.state import MockState
from voxcontract.api import Handler
from voxcontract.context import current_context
from voxcontract.problems import problem_instance

__all__ = ["MockOperations", "RequestView", "current_request"]

_RATE_LIMIT_STATE = re.compile(r";r=\d+;t=\d+$")


@dataclass(frozen=True, slots=True)
class RequestView:
    """What handlers need of the request beyond their parameters."""

    headers: Headers
    path: str
    preferences: Preferences
    #: The scenario named by ``Prefer: scenario=`` (None when none was named).
    scenario: Scenario | None

    def job_scenario(self, *fallbacks: Scenario | None) -> Scenario | None:
        """The first job-stage scenario of: this request's, then ``fallbacks`` in order."""
        for scenario in (self.scenario, *fallbacks):
            if scenario is not None and scenario.stage == "job":
                return scenario
        return None


_current: ContextVar[RequestView] = ContextVar("mock_request")


def current_request() -> RequestView:
    """The running request's view (only inside a handler called through :class:`MockOperations`)."""
    return _current.get()


class MockOperations:
    """The resolver handed to the core's app factory: operationId → the core's handler, wrapped."""

    def __init__(self, state: MockState, canned: CannedAnswers, handlers: Mapping[str, Handler]) -> None:
        self.state = state
        self.canned = canned
        self.handlers = dict(handlers)

    def __call__(self, operation_id: str) -> Handler:
        return self._wrap(operation_id, self.handlers[operation_id])

    def _wrap(self, operation_id: str, handler: Handler) -> Handler:
        # functools.wraps keeps the handler's signature visible: Connexion passes only the arguments it declares.
        @functools.wraps(handler)
        async def wrapper(**kwargs: Any) -> Any:
            self.state.refresh()
            view = _request_view()
            canned = self.canned.answer(operation_id, view.preferences, view.path)
            if canned is not None:
                if canned.status_code == 429:
                    _exhaust_quota_headers()
                return canned
            _apply_request_scenario(view.scenario or self.state.default_scenario)
            token = _current.set(view)
            try:
                return await handler(**kwargs)
            finally:
                _current.reset(token)

        return wrapper


def _request_view() -> RequestView:
    scope = connexion_scope._get_current_object()
    headers = Headers(scope=scope)
    preferences = parse_prefer(headers.getlist("prefer"))
    scenario = get_scenario(preferences.scenario) if preferences.scenario else None
    path = problem_instance(str(scope.get("path", "")))
    return RequestView(headers=headers, path=path, preferences=preferences, scenario=scenario)


def _apply_request_scenario(scenario: Scenario | None) -> None:
    if scenario is None or scenario.stage != "request":
        return
    error = scenario_error(scenario)
    if error is None:
        return
    if error.status == 429:
        _exhaust_quota_headers()
    raise error


def _exhaust_quota_headers() -> None:
    """Keep the quota headers consistent with a simulated 429: nothing left until the retry in 1 s."""
    headers = current_context().response_headers
    if "RateLimit" in headers:
        headers["RateLimit"] = _RATE_LIMIT_STATE.sub(";r=0;t=1", headers["RateLimit"])
