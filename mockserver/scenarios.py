"""Failure modes on demand: named scenarios, chosen per request without a restart.

A scenario is named by ``Prefer: scenario=<name>``, by a magic input (an uploaded filename or a URL containing
``scenario-<name>`` or ``scenario=<name>``), or by the admin default (``PUT /__mock/scenario``), in that order.
Each acts at one stage:

- ``request``: the request that names it fails at once (any operation);
- ``upload``: the upload that names it fails;
- ``job``: the jobs it applies to behave so (named at upload it sticks to the file and to every job on it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from voxcontract.errors import (
    BadRequest,
    InternalError,
    ProblemError,
    TooManyRequests,
    UnsupportedMedia,
    UrlFetchFailed,
)

__all__ = ["SCENARIOS", "Scenario", "find_magic_scenario", "get_scenario", "scenario_error"]

Stage = Literal["request", "upload", "job"]

_MAGIC = re.compile(r"scenario[-=]([a-z0-9]+(?:-[a-z0-9]+)*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One failure mode and what it changes."""

    name: str
    description: str
    stage: Stage
    #: Jobs: end ``failed`` (half-way through their processing time) instead of ``completed``.
    fails: bool = False
    #: Jobs: processing time multiplier; ``inf`` never finishes.
    time_factor: float = 1.0
    #: Jobs: complete with an empty transcript (no text, no segments).
    empty_transcript: bool = False
    #: Jobs: the language "detected" for ``language=auto``.
    detected_language: str | None = None
    #: Webhooks: the first n attempts count as failed whatever the receiver answers (-1: every attempt).
    webhook_forced_failures: int = 0
    #: Webhooks: a successful event is delivered a second time with the same webhook-id.
    webhook_duplicate: bool = False

    @property
    def stuck(self) -> bool:
        return math.isinf(self.time_factor)


_ALL = (
    Scenario(
        name="job-fails",
        stage="job",
        fails=True,
        description="The job ends failed (error code transcription_failed) half-way through its processing time; "
        "its transcript stays 409 and a transcription.failed webhook is sent.",
    ),
    Scenario(
        name="slow",
        stage="job",
        time_factor=10.0,
        description="The job takes 10 times the configured processing time.",
    ),
    Scenario(
        name="stuck",
        stage="job",
        time_factor=math.inf,
        description="The job goes to processing and stays there forever (progress stops at 0.5): "
        "for testing client-side timeouts.",
    ),
    Scenario(
        name="empty-transcript",
        stage="job",
        empty_transcript=True,
        description="The job completes with an empty transcript: no text and no segments.",
    ),
    Scenario(
        name="language-detected-fr",
        stage="job",
        detected_language="fr",
        description='With language "auto", French is detected (language "fr") and the transcript is French words.',
    ),
    Scenario(
        name="webhook-fails-then-succeeds",
        stage="job",
        webhook_forced_failures=2,
        description="The first 2 webhook delivery attempts count as failed whatever the receiver answers; the 3rd "
        "counts: the receiver sees 3 POSTs with one webhook-id.",
    ),
    Scenario(
        name="webhook-never-succeeds",
        stage="job",
        webhook_forced_failures=-1,
        description='Every webhook delivery attempt counts as failed: the delivery ends "failed" after the whole '
        "retry schedule.",
    ),
    Scenario(
        name="webhook-duplicate",
        stage="job",
        webhook_duplicate=True,
        description="A successfully delivered event is delivered a second time with the same webhook-id "
        "(receivers must deduplicate).",
    ),
    Scenario(
        name="unsupported-media",
        stage="upload",
        description="The upload is answered 400 unsupported_media, whatever the media.",
    ),
    Scenario(
        name="url-fetch-fails",
        stage="upload",
        description="An upload by URL is answered 400 url_fetch_failed (as if the URL could not be fetched).",
    ),
    Scenario(
        name="rate-limited",
        stage="request",
        description="The request is answered 429 rate_limited with Retry-After: 1, whatever the quota.",
    ),
    Scenario(
        name="server-error",
        stage="request",
        description="The request is answered 500 internal_error.",
    ),
)

#: Every scenario by name.
SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in _ALL}


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; 400 ``invalid_request`` naming the known ones otherwise."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        known = ", ".join(sorted(SCENARIOS))
        raise BadRequest(f"Unknown scenario {name[:64]!r}; the mock knows: {known}.")
    return scenario


def find_magic_scenario(text: str | None) -> Scenario | None:
    """The scenario a filename or URL names (``call.scenario-job-fails.wav``, ``…?scenario=slow``), if any.

    The name runs over letters, digits and inner dashes; a name the mock does not know is a 400.
    """
    if not text:
        return None
    match = _MAGIC.search(text)
    return get_scenario(match.group(1).lower()) if match else None


def scenario_error(scenario: Scenario, *, url: str | None = None) -> ProblemError | None:
    """The error a request- or upload-stage scenario answers (``url``: the upload is by URL); None otherwise."""
    named = f"(mock scenario {scenario.name})"
    if scenario.name == "rate-limited":
        return TooManyRequests(f"The rate limit is exhausted; retry in 1 seconds {named}.", retry_after=1)
    if scenario.name == "server-error":
        return InternalError(f"An unexpected error occurred; retry with backoff {named}.")
    if scenario.name == "unsupported-media":
        return UnsupportedMedia(f"The upload is not decodable audio or video {named}.")
    if scenario.name == "url-fetch-fails" and url is not None:
        return UrlFetchFailed(f"The URL could not be fetched: the server answered 404 {named}.")
    return None
