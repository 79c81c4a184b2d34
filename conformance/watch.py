"""Watching one job closely: media long enough to be seen working, polled as often as ``Retry-After`` allows.

The observations themselves are recorded by the context as the answers pass (:mod:`conformance.observations`);
this module only makes sure there are enough of them.
"""

from __future__ import annotations

import io
import math
import time
import wave

import httpx

from conformance.client import retry_after_seconds
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.observations import TERMINAL
from conformance.outcomes import CheckFailed
from conformance.scope import current_scope
from conformance.workflow import expect_status, find_listed_job, json_body

__all__ = ["WATCH_SECONDS", "long_media", "watch_deadline", "watch_job"]

#: How long the watched job's media lasts at least: a few seconds of work even for a fast engine
#: (the reference server's tiny.en runs 20-35x real time on 2 cores).
WATCH_SECONDS = 60.0
#: Status polls after the job has ended, to see that it stays ended.
AFTER_END_POLLS = 2
_AFTER_END_DELAY = 0.2
#: The first wait when a non-terminal answer carries no Retry-After (doubled each time, as the contract advises).
_NO_HINT_DELAY = 0.5
_MAX_NO_HINT_DELAY = 8.0


def long_media(audio: bytes, seconds: float = WATCH_SECONDS) -> bytes | None:
    """A PCM WAV recording repeated until it lasts ``seconds`` (as it is when longer); None for anything else."""
    try:
        with wave.open(io.BytesIO(audio)) as source:
            params = source.getparams()
            frames = source.readframes(params.nframes)
    except (wave.Error, EOFError):
        return None
    if params.nframes == 0 or params.comptype != "NONE":
        return None
    repeats = max(1, math.ceil(seconds * params.framerate / params.nframes))
    target = io.BytesIO()
    with wave.open(target, "wb") as out:
        out.setparams(params)
        out.writeframes(frames * repeats)
    return target.getvalue()


def watch_deadline(ctx: ConformanceContext) -> float:
    """Seconds the watched job may take: ``--job-deadline`` (sized for the suite's short audio) plus twice the watch
    media's length, since the job also waits behind the jobs the run queued before it (the contract group's)."""
    return ctx.job_deadline + 2 * WATCH_SECONDS


def watch_job(ctx: ConformanceContext, started: httpx.Response) -> None:
    """Poll the started job's status as soon as each ``Retry-After`` allows (the 202's first, never sooner) until
    it ends, a few times more, then find it in ``GET /v1/jobs``; :class:`CheckFailed` when it has not ended by
    :func:`watch_deadline`."""
    job_id = str(expect_status(started, 202, what="the started job")["job_id"])
    allowed = watch_deadline(ctx)
    deadline = time.monotonic() + allowed
    fallback = _NO_HINT_DELAY
    answer = started
    while _status_of(answer) not in TERMINAL:
        asked = retry_after_seconds(answer.headers.get("retry-after"))
        wait = float(asked) if asked is not None else fallback
        if asked is None:
            fallback = min(fallback * 2, _MAX_NO_HINT_DELAY)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CheckFailed(
                f"job {job_id} is still {_status_of(answer)} after {allowed:g} s of polling",
                exchange=Exchange.from_httpx(answer),
            )
        current_scope().sleep(min(wait, remaining))
        answer = _status(ctx, job_id)
    for _ in range(AFTER_END_POLLS):
        current_scope().sleep(_AFTER_END_DELAY)
        _status(ctx, job_id)
    find_listed_job(ctx.client, job_id)


def _status(ctx: ConformanceContext, job_id: str) -> httpx.Response:
    answer = ctx.client.get(f"/v1/status/{job_id}")
    expect_status(answer, 200, what=f"watching job {job_id}")
    return answer


def _status_of(answer: httpx.Response) -> str:
    return str(json_body(answer, what="a job answer").get("status"))
