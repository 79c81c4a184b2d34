"""What every check gets: the deployment, the keys, the media, the limits, and a counting, recording client.

Checks share expensive things (an uploaded file, a finished job) through :meth:`ConformanceContext.fixture`,
and leave clean-up work with :meth:`ConformanceContext.add_cleanup`; the runner runs it after each group.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from conformance.client import RequestBudget, build_client
from conformance.exchange import API_KEY_VARIABLE, Exchange
from conformance.meaning import KnownAudio
from conformance.observations import JobObservations
from conformance.outcomes import CheckSkipped, CheckUnverified
from conformance.problems import inspect_answer
from conformance.scope import Finding, current_scope
from voxcontract.spec import load_spec

if TYPE_CHECKING:
    from conformance.receiver import WebhookReceiver

__all__ = [
    "DEFAULT_AUDIO_CONTENT_TYPE",
    "DEFAULT_AUDIO_FILENAME",
    "ConformanceContext",
    "default_audio",
    "key_variables",
    "normalise_base_url",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The speech the suite uploads unless ``--audio`` names other media (espeak-ng, 4.25 s, English).
DEFAULT_AUDIO_FILENAME = "hello.wav"
DEFAULT_AUDIO_CONTENT_TYPE = "audio/wav"
SECOND_API_KEY_VARIABLE = "VOXSCRIBER_SECOND_API_KEY"
_HISTORY = 5000


def default_audio() -> bytes:
    """The bundled speech recording (:data:`DEFAULT_AUDIO_FILENAME`)."""
    return (resources.files("conformance") / "media" / DEFAULT_AUDIO_FILENAME).read_bytes()


@dataclass(frozen=True, slots=True)
class _Failed:
    message: str
    #: Set when the set-up was refused in a documented way: the checks that need it are unverified, not skipped.
    unverified: CheckUnverified | None = None


@dataclass(kw_only=True)
class ConformanceContext:
    """The deployment under test and the suite's shared state; ``client`` is authenticated with ``api_key``.

    The suite's limits have no defaults here: their one default is :class:`~conformance.config.ConformanceConfig`'s,
    and :func:`~conformance.config.new_context` builds a context from a config.
    """

    base_url: str
    api_key: str
    max_examples: int
    seed: int
    request_budget: int
    #: Seconds a job may take to end before the lifecycle checks give up.
    job_deadline: float
    #: Seconds to wait for webhook deliveries (and the retry after the deliberate failure).
    webhook_deadline: float
    #: The longest Retry-After the suite waits for.
    max_wait: float
    #: The words and duration of ``audio`` as far as known (the meaning checks say "unverified" for the rest).
    known_audio: KnownAudio
    #: The word error rate a transcript of ``audio`` may have against its known text.
    max_word_error_rate: float
    #: How far (relative) a reported duration_seconds may be off the known one.
    duration_tolerance: float
    second_api_key: str | None = None
    audio: bytes = field(default_factory=default_audio)
    audio_filename: str = DEFAULT_AUDIO_FILENAME
    audio_content_type: str = DEFAULT_AUDIO_CONTENT_TYPE
    webhook_secret: str | None = None
    webhook_receiver: WebhookReceiver | None = None
    #: Seconds one HTTP request may take.
    request_timeout: float = 30.0
    client: httpx.Client = field(init=False, repr=False)
    document: dict[str, Any] = field(init=False, repr=False)
    budget: RequestBudget = field(init=False, repr=False)
    #: The most recent exchanges of the whole run (all checks), oldest first, without their bodies.
    history: collections.deque[Exchange] = field(init=False, repr=False)
    #: Every job any answer showed, every time it showed it (judged across observations by lifecycle/job-history).
    observations: JobObservations = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = normalise_base_url(self.base_url)
        self.budget = RequestBudget(self.request_budget)
        self.document = load_spec()
        self.history = collections.deque(maxlen=_HISTORY)
        self.observations = JobObservations()
        self._clients: dict[tuple[str | None, bool], httpx.Client] = {}
        self._fixtures: dict[str, Any] = {}
        self._fixture_lock = threading.RLock()
        self._cleanups: list[tuple[str, Callable[[], object]]] = []
        self.client = self.open_client(self.api_key)

    # --- clients ----------------------------------------------------------------------------------------------

    def open_client(self, api_key: str | None, *, retry_rate_limited: bool = True) -> httpx.Client:
        """A client with another key (None: no Authorization), sharing the budget and the recording; cached."""
        cache_key = (api_key, retry_rate_limited)
        if cache_key not in self._clients:
            self._clients[cache_key] = build_client(
                self.base_url,
                api_key,
                budget=self.budget,
                observer=self.observe,
                retry_rate_limited=retry_rate_limited,
                max_wait=self.max_wait,
                timeout=self.request_timeout,
            )
        return self._clients[cache_key]

    def observe(self, exchange: Exchange) -> None:
        """Record an answer in the active check's scope and the history, with what it breaks."""
        scope = current_scope()
        scope.exchanges.append(exchange)
        # The run-wide history keeps methods, URLs, statuses and headers: enough for run-wide rules, and small.
        self.history.append(dataclasses.replace(exchange, request_body=None, response_body=b""))
        self.observations.record(exchange)
        for message in inspect_answer(exchange):
            logger.info("%s: %s", scope.check_id, message)
            scope.findings.append(Finding(message, exchange))

    def key_variables(self) -> dict[str, str]:
        """API key → the variable that stands for it in reproductions."""
        return key_variables(self.api_key, self.second_api_key)

    def contract_limit(self, name: str, default: int | None = None) -> int:
        """``x-voxscriber-limits.<name>`` of the contract; ``default`` when it documents none, else the running
        check is skipped (it has no limit to check against)."""
        value = (self.document.get("x-voxscriber-limits") or {}).get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if default is None:
            raise CheckSkipped(f"the contract documents no x-voxscriber-limits.{name}")
        return default

    def is_authenticated(self, exchange: Exchange) -> bool:
        """Whether the request carried one of the suite's valid keys."""
        authorization = next((v for k, v in exchange.request_headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and token in (self.api_key, self.second_api_key)

    # --- sharing and cleaning up -------------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """Attach a remark to the running check's result (e.g. a fallback it took)."""
        current_scope().notes.append(text)

    def fixture(self, name: str, factory: Callable[[], T]) -> T:
        """``factory()``, computed once per run and shared by every check that asks for ``name``.

        The check that computes it owns its failure; any later check that needs it is skipped with the reason.
        """
        with self._fixture_lock:
            if name in self._fixtures:
                value = self._fixtures[name]
                if isinstance(value, _Failed):
                    if (refused := value.unverified) is not None:
                        raise CheckUnverified(f"needs {name}: {refused.reason}", remedy=refused.remedy)
                    raise CheckSkipped(f"needs {name}, which could not be set up: {value.message}")
                return value  # type: ignore[no-any-return]
            try:
                result = factory()
            except Exception as exc:
                unverified = exc if isinstance(exc, CheckUnverified) else None
                self._fixtures[name] = _Failed(str(exc) or type(exc).__name__, unverified)
                raise
            self._fixtures[name] = result
            return result

    def add_cleanup(self, group: str, action: Callable[[], object]) -> None:
        """Run ``action`` when ``group`` has finished (latest first); failures there are logged, not reported."""
        self._cleanups.append((group, action))

    def run_cleanups(self, group: str | None = None) -> None:
        """Run the clean-up actions of ``group`` (None: all that are left), latest first."""
        mine = [item for item in self._cleanups if group is None or item[0] == group]
        self._cleanups = [item for item in self._cleanups if item not in mine]
        for _, action in reversed(mine):
            if self.budget.exhausted:
                logger.warning("request budget spent: %d clean-up action(s) skipped", len(mine))
                return
            try:
                action()
            except Exception:
                logger.warning("a clean-up action failed", exc_info=True)

    def close(self) -> None:
        """Close every client (the webhook receiver belongs to whoever started it)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def key_variables(api_key: str, second_api_key: str | None = None) -> dict[str, str]:
    """API key → the variable that stands for it in reproductions and reports."""
    variables = {api_key: API_KEY_VARIABLE}
    if second_api_key:
        variables[second_api_key] = SECOND_API_KEY_VARIABLE
    return variables


def normalise_base_url(url: str) -> str:
    """The deployment's root URL: no trailing slash, no ``/v1`` (the suite adds the contract's paths)."""
    url = url.strip().rstrip("/")
    return url.removesuffix("/v1")
