"""The suite's options (defaults set only here) and the set-up of a run: context, receiver, reachability.

``voxcontract conformance`` builds a :class:`ConformanceConfig` from its flags and hands it to :func:`run_suite`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import mimetypes
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from conformance.context import (
    DEFAULT_AUDIO_CONTENT_TYPE,
    DEFAULT_AUDIO_FILENAME,
    ConformanceContext,
    default_audio,
)
from conformance.events import EventHandler, RunResult
from conformance.meaning import DEFAULT_DURATION_TOLERANCE, DEFAULT_KNOWN_AUDIO, DEFAULT_MAX_WORD_ERROR_RATE, KnownAudio
from conformance.receiver import WebhookReceiver, parse_listen
from conformance.runner import Runner, select_groups
from voxcontract.errors import ConfigError, VoxcontractError

__all__ = ["ConformanceConfig", "UnreachableDeployment", "new_context", "open_context", "run_suite"]


class UnreachableDeployment(VoxcontractError):
    """The deployment does not answer ``GET /v1/health`` (wrong URL, down, or not VoxScriber)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConformanceConfig:
    """Everything a run needs to know; every field is a ``voxcontract conformance`` flag."""

    url: str
    api_key: str
    second_api_key: str | None = None
    #: Where the webhook receiver listens (port 0: any free port).
    webhook_listen: str = "127.0.0.1:0"
    #: The receiver's URL as the deployment reaches it (default: the listen address).
    webhook_public_url: str | None = None
    webhook_secret: str | None = None
    #: Media to upload instead of the bundled speech recording.
    audio: Path | None = None
    #: What is said in ``audio`` (without it the transcript's meaning is unverified).
    audio_text: str | None = None
    #: How long ``audio`` lasts, in seconds (without it the durations are unverified).
    audio_duration: float | None = None
    #: The word error rate a transcript may have against the known text.
    max_word_error_rate: float = DEFAULT_MAX_WORD_ERROR_RATE
    #: How far (relative, e.g. 0.05 for 5 %) a reported duration_seconds may be off the real duration.
    duration_tolerance: float = DEFAULT_DURATION_TOLERANCE
    max_examples: int = 25
    seed: int = 0
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    request_budget: int = 2000
    junit: Path | None = None
    report: Path | None = None
    job_deadline: float = 120.0
    webhook_deadline: float = 60.0
    max_wait: float = 65.0
    check_timeout: float = 300.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"--url must be an http(s) URL, not {self.url!r}")
        if not self.api_key.strip():
            raise ConfigError("--api-key must not be empty")
        if self.request_budget < 1 or self.max_examples < 1:
            raise ConfigError("--request-budget and --max-examples must be at least 1")
        for name in ("job_deadline", "webhook_deadline", "max_wait", "check_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive number of seconds, not {value}")
        try:
            parse_listen(self.webhook_listen)
            select_groups(self.only, self.skip)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if self.audio is not None and not self.audio.is_file():
            raise ConfigError(f"--audio {self.audio} is not a readable file")
        self._check_known_audio()

    def _check_known_audio(self) -> None:
        if self.audio is None and (self.audio_text is not None or self.audio_duration is not None):
            raise ConfigError("--audio-text and --audio-duration describe --audio: give it too")
        if self.audio_duration is not None and not (math.isfinite(self.audio_duration) and self.audio_duration > 0):
            raise ConfigError(f"--audio-duration must be a positive number of seconds, not {self.audio_duration}")
        for name in ("max_word_error_rate", "duration_tolerance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be a number >= 0, not {value}")

    @property
    def known_audio(self) -> KnownAudio:
        """What the suite knows of the media it uploads: all of the bundled recording, what was said of --audio."""
        if self.audio is None:
            return DEFAULT_KNOWN_AUDIO
        return KnownAudio(self.audio_text, self.audio_duration)

    @property
    def groups(self) -> list[str]:
        """The selected groups, in run order."""
        return select_groups(self.only, self.skip)


def _media(config: ConformanceConfig) -> tuple[bytes, str, str]:
    """(bytes, filename, media type) of the media to upload."""
    if config.audio is None:
        return default_audio(), DEFAULT_AUDIO_FILENAME, DEFAULT_AUDIO_CONTENT_TYPE
    content_type = mimetypes.guess_type(config.audio.name)[0] or "application/octet-stream"
    return config.audio.read_bytes(), config.audio.name, content_type


def _check_reachable(ctx: ConformanceContext) -> None:
    try:
        response = ctx.client.get("/v1/health")
    except httpx.TransportError as error:
        raise UnreachableDeployment(f"cannot reach {ctx.base_url}/v1/health: {error or type(error).__name__}") from None
    if response.status_code != 200:
        raise UnreachableDeployment(
            f"{ctx.base_url}/v1/health answered {response.status_code}: is --url the deployment's root (without /v1)?"
        )


def _receiver(config: ConformanceConfig) -> WebhookReceiver:
    host, port = parse_listen(config.webhook_listen)
    try:
        return WebhookReceiver(host, port, public_url=config.webhook_public_url)
    except OSError as error:
        raise ConfigError(f"the webhook receiver cannot listen on {config.webhook_listen}: {error}") from None


@contextlib.contextmanager
def open_context(config: ConformanceConfig) -> Iterator[ConformanceContext]:
    """A ready context: the deployment answers, and the webhook receiver listens when webhooks are tested."""
    receiver = _receiver(config) if "webhooks" in config.groups else None
    ctx = new_context(config, receiver)
    with contextlib.ExitStack() as stack:
        stack.callback(ctx.close)
        _check_reachable(ctx)
        if receiver is not None:
            try:
                stack.enter_context(receiver)
            except RuntimeError as error:
                raise ConfigError(f"the webhook receiver cannot listen on {config.webhook_listen}: {error}") from None
        yield ctx


def new_context(config: ConformanceConfig, receiver: WebhookReceiver | None = None) -> ConformanceContext:
    """The context of a run with ``config``'s deployment, media and limits (nothing is sent yet)."""
    audio, filename, content_type = _media(config)
    return ConformanceContext(
        base_url=config.url,
        api_key=config.api_key,
        second_api_key=config.second_api_key,
        max_examples=config.max_examples,
        seed=config.seed,
        request_budget=config.request_budget,
        webhook_secret=config.webhook_secret,
        webhook_receiver=receiver,
        job_deadline=config.job_deadline,
        webhook_deadline=config.webhook_deadline,
        max_wait=config.max_wait,
        audio=audio,
        audio_filename=filename,
        audio_content_type=content_type,
        known_audio=config.known_audio,
        max_word_error_rate=config.max_word_error_rate,
        duration_tolerance=config.duration_tolerance,
    )


def run_suite(config: ConformanceConfig, handlers: Sequence[EventHandler] = ()) -> RunResult:
    """Set up, run every selected check, tear down; ConfigError / UnreachableDeployment before anything ran."""
    with open_context(config) as ctx:
        return Runner(ctx, config.groups, handlers, check_timeout=config.check_timeout).run()
