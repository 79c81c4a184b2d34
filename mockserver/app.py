"""The mock server's app factory: the contract through the core's app factory, plus the admin API and webhooks.

::

    MockApp
    ├── /__mock/...   admin API (mockserver.admin): no auth, no rate limit, not journaled
    └── everything else → JournalMiddleware → ContractApp (voxcontract.asgi: auth, rate limit, validation)
                                                └── MockOperations (Prefer, scenarios) around the core's
                                                    handlers (voxcontract.api) over MockBackend(MockState)

The contract app's lifespan starts the webhook dispatcher (and its tick) and stops it on shutdown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.admin import ADMIN_PREFIX, AdminApi, create_admin_app
from mockserver.backend import MockBackend
from mockserver.engine import DeterministicTranscriber
from mockserver.journal import JournalMiddleware
from mockserver.operations import MockOperations
from mockserver.prefer import CannedAnswers
from mockserver.settings import MockSettings
from mockserver.state import MockState
from mockserver.webhooks import WebhookDispatcher
from voxcontract.api import operation_table
from voxcontract.asgi import ContractApp, create_contract_app
from voxcontract.auth import StaticKeyResolver, key_fingerprint
from voxcontract.ratelimit import RateLimiter
from voxcontract.spec import load_spec

__all__ = ["MockApp", "create_app"]

logger = logging.getLogger(__name__)


class MockApp:
    """The mock as one ASGI app; ``.state`` and ``.settings`` for tests and tools, ``.connexion`` for routes."""

    def __init__(
        self,
        *,
        settings: MockSettings,
        state: MockState,
        public: ContractApp,
        admin: ASGIApp,
        dispatcher: WebhookDispatcher,
    ) -> None:
        self.settings = settings
        self.state = state
        self.public = public
        self.admin = admin
        self.dispatcher = dispatcher
        self.connexion = public.connexion
        self._journaled = JournalMiddleware(public, journal=state.journal, now=state.now)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.public(scope, receive, send)
        elif _is_admin(scope.get("path", "")):
            await self.admin(scope, receive, send)
        else:
            await self._journaled(scope, receive, send)

    def webhook_secret(self, api_key: str) -> str:
        """The webhook signing secret of an API key (what ``GET /v1/webhooks/secret`` answers for it)."""
        return self.state.webhook_secret(key_fingerprint(api_key))


def create_app(settings: MockSettings | None = None) -> MockApp:
    """A fresh mock with its own state; ``settings`` default to :meth:`MockSettings.from_env`."""
    settings = settings if settings is not None else MockSettings.from_env()
    state = MockState(settings)
    dispatcher = WebhookDispatcher(state)
    limiter = RateLimiter(settings.rate_limit, settings.rate_limit_storage)
    document = load_spec()
    backend = MockBackend(state, DeterministicTranscriber())
    public = create_contract_app(
        settings=settings,
        operations=MockOperations(state, CannedAnswers(document), operation_table(backend)),
        keys=StaticKeyResolver(settings.effective_api_keys),
        limiter=limiter,
        document=document,
        lifespan=_lifespan(dispatcher),
        request_ids=state.ids.request_id,
    )
    admin = create_admin_app(AdminApi(state, dispatcher, limiter), validate_responses=settings.validate_responses)
    logger.info("mock server created (seed %d, clock %s)", settings.seed, settings.clock)
    return MockApp(settings=settings, state=state, public=public, admin=admin, dispatcher=dispatcher)


def _lifespan(dispatcher: WebhookDispatcher) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()

    return lifespan


def _is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
