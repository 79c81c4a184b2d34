"""A local webhook receiver: records every delivery, and fails or stalls the first attempt of each event on purpose.

Answering ``500`` to the first attempt of each ``webhook-id`` makes the deployment retry, so that the suite
sees whether the retry carries the same id. Any later attempt of the same id is answered ``200``.

A URL whose last path segment is ``stall-<seconds>`` (:meth:`WebhookReceiver.stalling_url`) answers the first attempt
of each event ``200`` only after that many seconds instead: the suite's way to see how long the deployment waits for
an answer (the contract's ``webhook_timeout_seconds``). Later attempts are answered ``200`` at once.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.scope import current_scope
from voxcontract.serving import BackgroundServer, free_port
from voxcontract.tls import ServerCertificate

__all__ = ["DEFAULT_PATH", "Delivery", "WebhookReceiver", "parse_listen", "stall_seconds"]

#: The path of the receiver's URL when no public URL is given (any path is accepted).
DEFAULT_PATH = "/voxscriber-webhooks"
_POLL = 0.05
_STALL_SEGMENT = re.compile(r"stall-([0-9]{1,4}(?:\.[0-9]{1,3})?)")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST the receiver got, and what it answered."""

    webhook_id: str | None
    headers: dict[str, str]
    body: bytes
    received_at: float
    """Unix time of arrival."""
    attempt: int
    """1 for the first POST with this ``webhook-id``, 2 for the next, ..."""
    answered: int
    """The status the receiver answers (a stalled attempt's, although the deployment may have given up by then)."""
    path: str = DEFAULT_PATH
    """The path it was POSTed to (a stalling path names how long the first attempt is held)."""

    @property
    def job_id(self) -> str | None:
        """The job whose event this delivery carries (``data.job_id``), or None for a body that is no event."""
        try:
            event = json.loads(self.body)
        except ValueError:
            return None
        data = event.get("data") if isinstance(event, dict) else None
        job_id = data.get("job_id") if isinstance(data, dict) else None
        return job_id if isinstance(job_id, str) else None


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (port 0: any free port) → (host, port); ValueError when malformed."""
    host, separator, port = value.rpartition(":")
    if not separator or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:0), not {value!r}")
    return host.strip("[]"), int(port)


class WebhookReceiver:
    """A real HTTP server on a background thread (HTTPS with a ``certificate``); a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        public_url: str | None = None,
        certificate: ServerCertificate | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._public_url = public_url
        self._deliveries: list[Delivery] = []
        self._condition = threading.Condition()
        # Set on stop, so that a stalled answer ends at once and the server's graceful shutdown never waits for it.
        self._stopping = threading.Event()
        routes = [Route("/{path:path}", self._receive, methods=["POST", "PUT"])]
        self._server = BackgroundServer(Starlette(routes=routes), host=host, port=self.port, certificate=certificate)
        self._started = False

    @property
    def public_url(self) -> str:
        """Where the deployment must send events: the given public URL, or this listener's own address."""
        if self._public_url:
            return self._public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{self._server.scheme}://{host}:{self.port}{DEFAULT_PATH}"

    def stalling_url(self, seconds: float) -> str:
        """The public URL with a last path segment ``stall-<seconds>``: first attempts answered 200 that late."""
        parts = urllib.parse.urlsplit(self.public_url)
        amount = f"{seconds:.3f}".rstrip("0").rstrip(".")
        path = f"{parts.path.rstrip('/')}/stall-{amount}"
        return urllib.parse.urlunsplit(parts._replace(path=path))

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        webhook_id = headers.get("webhook-id")
        path = request.url.path
        stall = stall_seconds(path)
        with self._condition:
            attempt = 1 + sum(1 for item in self._deliveries if item.webhook_id == webhook_id)
            status = 500 if attempt == 1 and stall is None else 200
            self._deliveries.append(Delivery(webhook_id, headers, body, time.time(), attempt, status, path))
            self._condition.notify_all()
        if attempt == 1 and stall is not None:
            await self._hold(stall)
        return Response(b"", status_code=status)

    async def _hold(self, seconds: float) -> None:
        """Sleep ``seconds`` in small steps, ending early when the receiver stops."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set() and (remaining := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(remaining, _POLL))

    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, in arrival order."""
        with self._condition:
            return list(self._deliveries)

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float) -> list[Delivery]:
        """Wait until ``predicate(deliveries)`` holds or ``timeout`` seconds pass; the deliveries either way."""
        deadline = time.monotonic() + timeout
        scope = current_scope()
        with self._condition:
            while not predicate(list(self._deliveries)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                scope.raise_if_cancelled()
                self._condition.wait(min(remaining, _POLL * 4))
            return list(self._deliveries)

    def start(self) -> Self:
        """Start listening (RuntimeError when the address cannot be bound)."""
        if not self._started:
            self._stopping.clear()
            self._server.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._stopping.set()
            self._server.stop()
            self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def stall_seconds(path: str) -> float | None:
    """How long a first attempt to ``path`` is held: its last segment's ``stall-<seconds>``, else None."""
    match = _STALL_SEGMENT.fullmatch(path.rstrip("/").rpartition("/")[2])
    return float(match.group(1)) if match else None
