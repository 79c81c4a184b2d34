"""The admin API under ``/__mock/`` (described by ``admin.yaml``): reset, clock, journal, webhooks, scenarios.

It is a Connexion app of its own, mounted beside the public API by :class:`mockserver.app.MockApp`: it needs no API
key, is not rate limited, is not journaled, and its request ids come from a counter of their own so that admin calls
never shift the public API's deterministic ids.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import connexion
from connexion.options import SwaggerUIOptions
from starlette.types import ASGIApp

from mockserver.clock import parse_timestamp
from mockserver.scenarios import SCENARIOS, get_scenario
from mockserver.state import MockState
from mockserver.webhooks import WebhookDispatcher
from voxcontract.errors import BadRequest
from voxcontract.middleware import RequestContextMiddleware
from voxcontract.middleware.validators import bounded_validator_map
from voxcontract.problems import HANDLED_EXCEPTIONS, problem_response
from voxcontract.ratelimit import RateLimiter
from voxcontract.spec import load_spec_file

__all__ = ["ADMIN_PREFIX", "ADMIN_SPEC_PATH", "AdminApi", "create_admin_app"]

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/__mock"
ADMIN_SPEC_PATH = Path(__file__).resolve().parent / "admin.yaml"
JSON = "application/json"
# The mock clock must stay printable as RFC 3339 (datetime stops at year 9999).
_LATEST_TIME = parse_timestamp("9000-01-01T00:00:00Z")


class AdminApi:
    """The admin operations over one mock's state, webhook dispatcher and rate limiter."""

    def __init__(self, state: MockState, dispatcher: WebhookDispatcher, limiter: RateLimiter) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self.limiter = limiter

    async def reset_mock(self) -> Any:
        self.dispatcher.reset()
        self.state.reset()
        await self.limiter.reset()
        return None, 204, {}

    async def get_clock(self) -> Any:
        return {"now": self.state.clock.now_text(), "mode": self.state.clock.mode}, 200, {"Content-Type": JSON}

    async def advance_clock(self, body: dict[str, Any]) -> Any:
        seconds = float(body["seconds"])
        if self.state.now() + seconds > _LATEST_TIME:
            raise BadRequest("The mock clock cannot go past the year 9000.")
        self.state.clock.advance(seconds)
        self.state.refresh()
        logger.info("mock clock advanced by %g s to %s", seconds, self.state.clock.now_text())
        return {"now": self.state.clock.now_text()}, 200, {"Content-Type": JSON}

    async def get_journal(self) -> Any:
        requests = [entry.to_dict() for entry in self.state.journal.entries()]
        return {"requests": requests}, 200, {"Content-Type": JSON}

    async def get_webhook_deliveries(self) -> Any:
        self.state.refresh()
        return {"deliveries": self.dispatcher.to_dicts()}, 200, {"Content-Type": JSON}

    async def list_scenarios(self) -> Any:
        scenarios = [{"name": s.name, "description": s.description} for s in SCENARIOS.values()]
        return {"scenarios": scenarios}, 200, {"Content-Type": JSON}

    async def get_default_scenario(self) -> Any:
        return self._default_scenario()

    async def set_default_scenario(self, body: dict[str, Any]) -> Any:
        name = body.get("scenario")
        self.state.default_scenario = None if name is None else get_scenario(str(name))
        logger.info("default scenario: %s", name)
        return self._default_scenario()

    def _default_scenario(self) -> Any:
        scenario = self.state.default_scenario
        return {"scenario": scenario.name if scenario else None}, 200, {"Content-Type": JSON}


_OPERATIONS = {
    "resetMock": "reset_mock",
    "getClock": "get_clock",
    "advanceClock": "advance_clock",
    "getJournal": "get_journal",
    "getWebhookDeliveries": "get_webhook_deliveries",
    "listScenarios": "list_scenarios",
    "getDefaultScenario": "get_default_scenario",
    "setDefaultScenario": "set_default_scenario",
}


def create_admin_app(api: AdminApi, *, validate_responses: bool = True) -> ASGIApp:
    """The admin API as an ASGI app; every error is the core's problem+json."""
    app = connexion.AsyncApp(__name__)
    for exception in HANDLED_EXCEPTIONS:
        app.add_error_handler(exception, problem_response)
    app.add_api(
        load_spec_file(ADMIN_SPEC_PATH),
        resolver=lambda operation_id: getattr(api, _OPERATIONS[operation_id]),
        validate_responses=validate_responses,
        strict_validation=True,
        validator_map=bounded_validator_map(),
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/ui", swagger_ui_config={"validatorUrl": None}),
    )
    return RequestContextMiddleware(app, id_factory=lambda: api.state.ids.next("admin"))
