"""The suite's HTTP client: every request counted against the budget, every answer recorded and inspected.

:class:`SuiteTransport` wraps httpx's own transport (injected, as httpx does it) and, for each request:

1. aborts when the running check was cancelled, and refuses to send past the request budget;
2. sends it and records the answer as an :class:`~conformance.exchange.Exchange` (the observer inspects it);
3. on ``429`` with a usable ``Retry-After`` (and ``retry_rate_limited``), waits and sends it again, so that a
   deployment's quota slows the suite down instead of failing checks that have nothing to do with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx

from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed
from conformance.scope import current_scope
from voxcontract import __version__

__all__ = ["BudgetExhausted", "RequestBudget", "SuiteTransport", "build_client", "retry_after_seconds"]

logger = logging.getLogger(__name__)

_RATE_LIMIT_RETRIES = 3


class BudgetExhausted(CheckFailed):
    """The suite would send more requests than ``--request-budget`` allows."""


class RequestBudget:
    """A thread-safe count of the requests sent, with a hard limit."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the request budget must allow at least one request")
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    @property
    def remaining(self) -> int:
        return self.limit - self._used

    @property
    def exhausted(self) -> bool:
        return self._used >= self.limit

    def spend(self) -> None:
        """Count one request, or raise :class:`BudgetExhausted` (and count nothing) when none is left."""
        with self._lock:
            if self._used >= self.limit:
                raise BudgetExhausted(f"the request budget of {self.limit} requests is spent")
            self._used += 1


def retry_after_seconds(value: str | None) -> int | None:
    """``Retry-After`` as whole seconds >= 0, or None when absent or not an integer (dates are not used here)."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class SuiteTransport(httpx.BaseTransport):
    """Budget, recording and patient 429 handling around another transport."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        budget: RequestBudget,
        observer: Callable[[Exchange], None],
        retry_rate_limited: bool = True,
        max_wait: float,
    ) -> None:
        self.inner = inner
        self.budget = budget
        self.observer = observer
        self.retry_rate_limited = retry_rate_limited
        self.max_wait = max_wait

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # buffered: the body is recorded, and sent again after a 429
        for _ in range(_RATE_LIMIT_RETRIES):
            response = self._send_once(request)
            wait = self._rate_limit_wait(response)
            if wait is None:
                return response
            logger.info("429 on %s %s: waiting %s s as Retry-After asks", request.method, request.url.path, wait)
            current_scope().sleep(wait)
        return self._send_once(request)

    def _send_once(self, request: httpx.Request) -> httpx.Response:
        scope = current_scope()
        scope.raise_if_cancelled()
        self.budget.spend()
        raw = self.inner.handle_request(request)
        try:
            # Undecoded bytes as they came; an answer built in memory (MockTransport) is already consumed.
            body = raw.content if raw.is_stream_consumed else b"".join(raw.iter_raw())
        finally:
            raw.close()
        self.observer(_exchange(raw, body, request))
        return httpx.Response(
            raw.status_code,
            headers=raw.headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions=raw.extensions,
        )

    def _rate_limit_wait(self, response: httpx.Response) -> int | None:
        if not self.retry_rate_limited or response.status_code != 429:
            return None
        wait = retry_after_seconds(response.headers.get("retry-after"))
        return wait if wait is not None and wait <= self.max_wait else None

    def close(self) -> None:
        self.inner.close()


def _exchange(raw: httpx.Response, body: bytes, request: httpx.Request) -> Exchange:
    decoded = httpx.Response(raw.status_code, headers=raw.headers, stream=httpx.ByteStream(body), request=request)
    try:
        decoded.read()
    except httpx.DecodingError:  # a body that does not match its Content-Encoding: record it as it came
        decoded = httpx.Response(raw.status_code, headers=raw.headers, content=body, request=request)
    return Exchange.from_httpx(decoded)


def build_client(
    base_url: str,
    api_key: str | None,
    *,
    budget: RequestBudget,
    observer: Callable[[Exchange], None],
    retry_rate_limited: bool = True,
    max_wait: float,
    timeout: float,
    inner: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client of ``base_url`` with ``Authorization: Bearer <api_key>`` and the suite's transport."""
    transport = SuiteTransport(
        inner or httpx.HTTPTransport(),
        budget=budget,
        observer=observer,
        retry_rate_limited=retry_rate_limited,
        max_wait=max_wait,
    )
    headers = {"User-Agent": f"voxcontract-conformance/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        # No proxies from the environment: a mounted proxy transport would bypass the budget.
        trust_env=False,
    )
