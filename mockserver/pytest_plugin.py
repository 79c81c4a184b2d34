"""pytest plugin: a running VoxScriber mock server for your tests (installed with voxcontract).

The plugin is registered through the ``pytest11`` entry point, so installing ``voxcontract`` is enough::

    import time
    from mockserver.fixtures import speech_fixture

    def test_transcribes(voxscriber_mock):
        hello = speech_fixture("hello.wav")  # a recording whose true text the mock knows
        client = voxscriber_mock.client      # httpx.Client on base_url, sending the API key
        upload = client.post("/v1/upload", files={"file": (hello.file, hello.read_bytes(), hello.content_type)})
        job = client.post("/v1/transcribe", json={"file_id": upload.json()["file_id"]}).json()
        while (job := client.get(f"/v1/status/{job['job_id']}").json())["status"] != "completed":
            time.sleep(0.05)
        assert job["transcript"] == hello.text

Point your own client at ``voxscriber_mock.base_url`` with ``voxscriber_mock.headers`` (or ``api_key``) instead of
``client`` to test it as it runs in production.

Fixtures
    ``voxscriber_mock``           a :class:`MockHandle` on a mock with fresh state for each test.
    ``voxscriber_mock_settings``  the :class:`~mockserver.settings.MockSettings` the mock runs with; override it
                                  (e.g. ``return default_mock_settings(request.config).replace(processing_time=2)``).
    ``voxscriber_mock_server``    the one mock shared by the session (see *scope* below).

Scope
    By default every test gets its own server. With ``voxscriber_mock_scope = session`` in the ini file (or
    ``--voxscriber-mock-scope=session``) one server runs for the whole session and ``voxscriber_mock`` resets it
    through the admin API (``POST /__mock/reset``) before each test: faster, equally isolated. In that mode an
    override of ``voxscriber_mock_settings`` must be session-scoped.

Options
    ``--voxscriber-mock-seed`` / ini ``voxscriber_mock_seed``: the seed of the mock's deterministic ids and texts.
    ``--voxscriber-mock-scope`` / ini ``voxscriber_mock_scope``: ``function`` (default) or ``session``.

The mock's modules are imported only when a fixture needs them, so the plugin costs nothing in test runs that
do not use it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

import httpx
import pytest

if TYPE_CHECKING:
    from mockserver.settings import MockSettings

__all__ = [
    "DEFAULT_AUTH_FAILURE_LIMIT",
    "DEFAULT_PROCESSING_TIME",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_WEBHOOK_RETRY_SCHEDULE",
    "DeliveryAttempt",
    "JournalEntry",
    "MockHandle",
    "WebhookDelivery",
    "default_mock_settings",
    "running_mock",
]

#: Mock-clock seconds from transcribe to completed: long enough to see ``processing``, short enough for tests.
DEFAULT_PROCESSING_TIME = 0.2
#: Webhook retries after 0.1 s, 0.2 s and 0.5 s instead of the contract's minutes and hours.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = (0.1, 0.2, 0.5)
#: Generous, so that a test suite never trips over it; override the settings to test your 429 handling.
DEFAULT_RATE_LIMIT = "100000/minute"
#: The same for failed authentications: a test suite that checks its 401 handling is not locked out by it.
DEFAULT_AUTH_FAILURE_LIMIT = "100000/minute"

_SCOPES = ("function", "session")
_ADMIN_TIMEOUT = 10.0
_PENDING = "pending"


class JournalEntry(TypedDict):
    """One request the mock answered (``GET /__mock/journal``)."""

    method: str
    path: str
    status: int
    request_id: str
    at: str


class DeliveryAttempt(TypedDict):
    """One attempt to deliver a webhook event."""

    attempt: int
    at: str
    status_code: int | None
    error: str | None


class WebhookDelivery(TypedDict):
    """One webhook event and its delivery attempts (``GET /__mock/webhooks``)."""

    event_id: str
    job_id: str
    url: str
    event_type: str
    state: str
    attempts: list[DeliveryAttempt]


class MockHandle:
    """A running mock: where it is, the API key to use, and the admin API (``/__mock/...``) as methods.

    ``client`` is an ``httpx.Client`` on ``base_url`` that already sends ``headers``; use it or your own client.
    """

    def __init__(self, base_url: str, api_key: str, settings: MockSettings) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.settings = settings
        self.headers: dict[str, str] = {"Authorization": f"Bearer {api_key}"}
        self.client = httpx.Client(base_url=base_url, headers=self.headers, timeout=_ADMIN_TIMEOUT)
        self._admin = httpx.Client(base_url=base_url, timeout=_ADMIN_TIMEOUT)
        self._webhook_secret: str | None = None

    @property
    def webhook_secret(self) -> str:
        """The ``whsec_`` secret the mock signs this key's webhooks with (``GET /v1/webhooks/secret``)."""
        if self._webhook_secret is None:
            response = self.client.get("/v1/webhooks/secret")
            response.raise_for_status()
            self._webhook_secret = str(response.json()["secret"])
        return self._webhook_secret

    def url(self, path: str) -> str:
        """An absolute URL on the mock: ``url("/v1/health")``."""
        return self.base_url + path

    def reset(self) -> None:
        """Forget every file, job, webhook delivery and journal entry; back to the default scenario."""
        self._admin.post("/__mock/reset").raise_for_status()
        self._webhook_secret = None

    def now(self) -> str:
        """The mock clock's current time (RFC 3339)."""
        return str(self._get("/__mock/clock")["now"])

    def advance(self, seconds: float) -> str:
        """Move the mock clock forward (jobs progress, webhook retries fall due); the new time."""
        return str(self._post("/__mock/clock/advance", {"seconds": seconds})["now"])

    def journal(self) -> list[JournalEntry]:
        """Every request the mock answered since the last reset, oldest first."""
        return cast(list[JournalEntry], self._get("/__mock/journal")["requests"])

    def webhooks(self) -> list[WebhookDelivery]:
        """Every webhook event the mock has (tried to) deliver since the last reset."""
        return cast(list[WebhookDelivery], self._get("/__mock/webhooks")["deliveries"])

    def scenarios(self) -> list[str]:
        """The names of the scenarios the mock knows."""
        return [str(entry["name"]) for entry in self._get("/__mock/scenarios")["scenarios"]]

    def set_scenario(self, name: str | None) -> None:
        """Apply a scenario (``"job-fails"``) to every following request; ``None`` for normal behaviour."""
        self._admin.put("/__mock/scenario", json={"scenario": name}).raise_for_status()

    def wait_for_webhooks(self, count: int, timeout: float = 10.0, *, settled: bool = True) -> list[WebhookDelivery]:
        """Wait until at least ``count`` deliveries exist (``settled``: and are no longer pending); all of them.

        Raises ``TimeoutError`` with what was there after ``timeout`` seconds of real time.
        """
        deadline = time.monotonic() + timeout
        while True:
            deliveries = self.webhooks()
            if sum(1 for d in deliveries if not settled or d["state"] != _PENDING) >= count:
                return deliveries
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} webhook deliveries within {timeout} s, have {deliveries}")
            time.sleep(0.02)

    def close(self) -> None:
        self.client.close()
        self._admin.close()

    def _get(self, path: str) -> Any:
        response = self._admin.get(path)
        response.raise_for_status()
        return response.json()

    def _post(self, path: str, payload: Mapping[str, Any]) -> Any:
        response = self._admin.post(path, json=payload)
        response.raise_for_status()
        return response.json()

    def __repr__(self) -> str:
        return f"MockHandle(base_url={self.base_url!r}, api_key={self.api_key!r})"


def default_mock_settings(config: pytest.Config | None = None) -> MockSettings:
    """The settings the plugin runs the mock with: a free port on 127.0.0.1, fast jobs and webhook retries.

    ``config`` supplies the seed (``--voxscriber-mock-seed`` or ini ``voxscriber_mock_seed``).
    """
    from mockserver.settings import MockSettings

    overrides: dict[str, Any] = {}
    seed = _seed_option(config) if config is not None else None
    if seed is not None:
        overrides["seed"] = seed
    return MockSettings(
        host="127.0.0.1",
        port=0,
        rate_limit=DEFAULT_RATE_LIMIT,
        auth_failure_limit=DEFAULT_AUTH_FAILURE_LIMIT,
        processing_time=DEFAULT_PROCESSING_TIME,
        webhook_retry_schedule=DEFAULT_WEBHOOK_RETRY_SCHEDULE,
        **overrides,
    )


@contextmanager
def running_mock(settings: MockSettings) -> Iterator[MockHandle]:
    """Serve the mock on a background thread for the ``with`` block; a handle on it.

    Usable outside pytest too (scripts, other test runners).
    """
    from mockserver.app import create_app
    from voxcontract.serving import BackgroundServer

    with BackgroundServer(create_app(settings), host=settings.host, port=settings.port) as server:
        handle = MockHandle(server.base_url, settings.effective_api_keys[0], settings)
        try:
            yield handle
        finally:
            handle.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("voxscriber-mock", "VoxScriber mock server")
    group.addoption("--voxscriber-mock-seed", type=int, default=None, help="seed of the mock's ids and texts")
    group.addoption(
        "--voxscriber-mock-scope",
        choices=_SCOPES,
        default=None,
        help="one mock per test (function, the default) or one per session, reset before each test",
    )
    parser.addini("voxscriber_mock_seed", "seed of the VoxScriber mock's ids and texts", default="")
    parser.addini("voxscriber_mock_scope", "function (a mock per test) or session (one, reset)", default="function")


def pytest_configure(config: pytest.Config) -> None:
    # Bad option values stop the run at start-up, not in the first test that asks for the mock.
    _seed_option(config)
    _scope_option(config)


def _seed_option(config: pytest.Config) -> int | None:
    value = config.getoption("--voxscriber-mock-seed", default=None)
    if value is not None:
        return int(value)
    raw = str(config.getini("voxscriber_mock_seed")).strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise pytest.UsageError(f"voxscriber_mock_seed must be an integer, not {raw!r}") from None


def _scope_option(config: pytest.Config) -> Literal["function", "session"]:
    value = config.getoption("--voxscriber-mock-scope", default=None) or str(config.getini("voxscriber_mock_scope"))
    if value not in _SCOPES:
        raise pytest.UsageError(f"voxscriber_mock_scope must be one of {', '.join(_SCOPES)}, not {value!r}")
    return cast(Literal["function", "session"], value)


@pytest.fixture(scope="session")
def voxscriber_mock_settings(pytestconfig: pytest.Config) -> MockSettings:
    """The mock's settings; override this fixture to change them (see :func:`default_mock_settings`)."""
    return default_mock_settings(pytestconfig)


@pytest.fixture(scope="session")
def voxscriber_mock_server(voxscriber_mock_settings: MockSettings) -> Iterator[MockHandle]:
    """One mock for the whole session (not reset by itself: ``voxscriber_mock`` resets it per test)."""
    with running_mock(voxscriber_mock_settings) as handle:
        yield handle


@pytest.fixture
def voxscriber_mock(request: pytest.FixtureRequest, voxscriber_mock_settings: MockSettings) -> Iterator[MockHandle]:
    """A running mock with fresh state: its own (function scope) or the session's, reset first (session scope)."""
    if _scope_option(request.config) == "session":
        shared = cast(MockHandle, request.getfixturevalue("voxscriber_mock_server"))
        shared.reset()
        yield shared
    else:
        with running_mock(voxscriber_mock_settings) as fresh:
            yield fresh
