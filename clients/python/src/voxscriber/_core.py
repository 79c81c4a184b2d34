"""What ``Client`` and ``AsyncClient`` share: their settings, the operations, and how a call's flow is planned."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from voxscriber._errors import ConfigurationError
from voxscriber._flows import Flow
from voxscriber._models import File, Job, WebhookEvent
from voxscriber._operations import Operations, PollPolicy, transcription_body
from voxscriber._retry import RetryPolicy
from voxscriber._uploads import ProgressCallback, Source, is_url, open_source
from voxscriber._version import __version__
from voxscriber._webhooks import verify_webhook

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "ClientCore"]

#: The contract's first server.
DEFAULT_BASE_URL = "https://api.voxscriber.com"
#: Connecting may take 10 s; any read or write 60 s (an upload's chunks, a slow answer).
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES = 3
API_KEY_ENV = "VOXSCRIBER_API_KEY"
BASE_URL_ENV = "VOXSCRIBER_BASE_URL"
WEBHOOK_SECRET_ENV = "VOXSCRIBER_WEBHOOK_SECRET"


class ClientCore:
    """Settings and flows; the subclasses only run the flows (blocking or async)."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        *,
        max_retries: int,
        webhook_secret: str | None,
        clock: Callable[[], float] | None,
    ) -> None:
        key = api_key or os.environ.get(API_KEY_ENV)
        if not key:
            raise ConfigurationError(f"no API key: pass api_key=... or set {API_KEY_ENV}")
        self.api_key = key
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        self.webhook_secret = webhook_secret or os.environ.get(WEBHOOK_SECRET_ENV)
        self._ops = Operations(RetryPolicy(max_retries=max_retries), clock or time.monotonic)

    @property
    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": f"voxscriber-python/{__version__}",
            "Accept": "application/json, application/problem+json;q=0.9, */*;q=0.8",
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @contextlib.contextmanager
    def _upload_flow(
        self, source: Source, filename: str | None, progress: ProgressCallback | None, compact: bool
    ) -> Iterator[Flow[File]]:
        """The flow of one upload, with its local file open for as long as the flow runs."""
        if is_url(source):
            if compact:
                raise ValueError("compact=True needs local media; the server fetches a URL itself")
            yield self._ops.upload_url(str(source), filename)
            return
        if compact:
            source, filename = _compacted(source, filename)
        with open_source(source, filename, progress) as opened:
            yield self._ops.upload(opened)

    @contextlib.contextmanager
    def _transcribe_file_flow(
        self,
        source: Source,
        *,
        filename: str | None,
        progress: ProgressCallback | None,
        compact: bool,
        timeout: float | None,
        on_progress: Callable[[Job], None] | None,
        options: Mapping[str, Any],
    ) -> Iterator[Flow[Job]]:
        """Upload, start and wait, as one flow."""
        with self._upload_flow(source, filename, progress, compact) as upload:

            def flow() -> Flow[Job]:
                file = yield from upload
                idempotency_key = options.get("idempotency_key")
                body = transcription_body(file.file_id, **{k: v for k, v in options.items() if k != "idempotency_key"})
                job = yield from self._ops.transcribe(body, idempotency_key)
                return (yield from self._ops.wait(job, timeout, PollPolicy(), on_progress))

            yield flow()

    def _verify(
        self, body: bytes, headers: Mapping[str, str], secret: str | None, tolerance_seconds: float, now: float | None
    ) -> WebhookEvent:
        secret = secret or self.webhook_secret
        if not secret:
            raise ConfigurationError(
                f"no webhook secret: pass secret=..., webhook_secret=... or set {WEBHOOK_SECRET_ENV} "
                "(fetch it once with webhooks.secret())"
            )
        return verify_webhook(body, headers, secret, tolerance_seconds=tolerance_seconds, now=now)


def _compacted(source: Source, filename: str | None) -> tuple[bytes, str]:
    from voxscriber._compact import compact_audio  # PyAV only when asked for

    name = filename or (Path(os.fspath(source)).name if isinstance(source, (str, os.PathLike)) else "upload")
    return compact_audio(source), Path(name).stem + ".ogg"
