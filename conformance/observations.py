"""Every observation of every job the suite sees, and the judgement across them.

The context hands every answer to :meth:`JobObservations.record` (the suite's own requests and Schemathesis'
alike): the ``202`` of ``POST /v1/transcribe``, a ``200`` of ``GET /v1/status/{job_id}`` and each job of a
``GET /v1/jobs`` page become a :class:`JobObservation`, stamped when its answer arrived. A check seeing a job once
cannot judge monotonicity; :func:`history_problems` judges a job across all of them, in order:

- the status only moves forward (``queued`` → ``processing`` → ``completed`` | ``failed``; skipping a state between
  two observations is fine) and a terminal status never changes;
- ``progress`` stays within [0, 1] and never decreases;
- ``file_id``, ``created_at``, ``options`` and ``metadata`` never change; ``completed_at`` never changes once set;
  the transcript and the error never change once the job has ended (between status answers);
- ``updated_at`` never goes back; neither it nor ``completed_at`` is before ``created_at``;
- a status answer of a job that is not finished carries ``Retry-After`` (the contract's polling hint); one of a
  completed job its transcript, one of a failed job an error with a code and a message.

Answers that may legitimately show an old state are not observations of the job's present: an idempotent replay
of ``POST /v1/transcribe`` (the contract answers it from the earlier request) and answers to a ``Prefer`` request
(a mock's canned examples).
"""

from __future__ import annotations

import datetime
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.exchange import Exchange

__all__ = [
    "JobObservation",
    "JobObservations",
    "Violation",
    "distinct_statuses",
    "history_problems",
    "jobs_in",
]

#: How far along each status is; a later observation may not be less far.
STATUS_RANK = {"queued": 0, "processing": 1, "completed": 2, "failed": 2}
TERMINAL = frozenset({"completed", "failed"})
#: Fields fixed when the job is created.
FIXED_FIELDS = ("file_id", "created_at", "options", "metadata")
#: Fields fixed once the job has ended.
RESULT_FIELDS = ("transcript", "error")
#: The fields an observation keeps (the rest of a job, segments above all, is judged elsewhere).
WATCHED_FIELDS = ("status", "progress", "updated_at", "completed_at", *FIXED_FIELDS, *RESULT_FIELDS)
#: Observations kept per job: a rate-limit burst listing the same job must not grow the record without bound.
MAX_PER_JOB = 1000

_STATUS_PATH = re.compile(r"/v1/status/[^/]+$")


@dataclass(frozen=True, slots=True)
class JobObservation:
    """One job as one answer showed it: the watched fields, when the answer arrived, and the exchange."""

    job_id: str
    seen_at: float
    job: Mapping[str, Any]
    exchange: Exchange

    @property
    def status(self) -> str:
        return str(self.job.get("status"))

    @property
    def from_status(self) -> bool:
        """Whether a ``GET /v1/status/{job_id}`` answer showed it."""
        return bool(_STATUS_PATH.search(httpx.URL(self.exchange.url).path))

    @property
    def progress(self) -> float | None:
        value = self.job.get("progress")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule broken across a job's observations, and the answer that broke it."""

    job_id: str
    message: str
    exchange: Exchange

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.message}"


class JobObservations:
    """The run's record of jobs, in the order their answers arrived; safe to fill from several threads."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._by_job: dict[str, list[JobObservation]] = {}
        self._lock = threading.Lock()

    def record(self, exchange: Exchange) -> list[JobObservation]:
        """Record the jobs ``exchange`` shows (none for any other answer); the observations added."""
        seen_at = self._clock()
        added: list[JobObservation] = []
        with self._lock:
            for job in jobs_in(exchange):
                job_id = str(job["job_id"])
                history = self._by_job.setdefault(job_id, [])
                if (_is_replay(exchange) and len(history) > 0) or len(history) >= MAX_PER_JOB:
                    continue
                watched = {name: job[name] for name in WATCHED_FIELDS if name in job}
                history.append(JobObservation(job_id, seen_at, watched, exchange))
                added.append(history[-1])
        return added

    def job_ids(self) -> list[str]:
        """Every job observed, in the order first seen."""
        with self._lock:
            return list(self._by_job)

    def of(self, job_id: str) -> list[JobObservation]:
        """The observations of one job, oldest first."""
        with self._lock:
            return list(self._by_job.get(job_id, ()))

    def __len__(self) -> int:
        with self._lock:
            return sum(len(history) for history in self._by_job.values())

    def violations(self) -> Iterator[Violation]:
        """Every rule broken by any job observed so far."""
        for job_id in self.job_ids():
            yield from history_problems(self.of(job_id))


def jobs_in(exchange: Exchange) -> list[dict[str, Any]]:
    """The jobs an answer shows as they are now: a transcribe 202, a status 200, a job list 200."""
    if exchange.status not in (200, 202) or _requested(exchange, "prefer"):
        return []
    path = httpx.URL(exchange.url).path
    started = exchange.method == "POST" and exchange.status == 202 and path.endswith("/v1/transcribe")
    if started or (exchange.method == "GET" and exchange.status == 200 and _STATUS_PATH.search(path)):
        candidates = [_json(exchange.response_body)]
    elif exchange.method == "GET" and exchange.status == 200 and path.endswith("/v1/jobs"):
        page = _json(exchange.response_body)
        candidates = list(page.get("data") or []) if isinstance(page, dict) else []
    else:
        return []
    return [job for job in candidates if isinstance(job, dict) and isinstance(job.get("job_id"), str)]


def distinct_statuses(observations: Sequence[JobObservation]) -> list[str]:
    """The statuses seen, each once, in the order first seen."""
    return list(dict.fromkeys(observation.status for observation in observations))


def history_problems(observations: Sequence[JobObservation]) -> list[Violation]:
    """Every rule of the job's life that its observations, in order, break."""
    if not observations:
        return []
    first = observations[0]
    violations: list[Violation] = []
    for observation in observations:
        violations += _violations(first, observation, _snapshot_problems(observation))
    for previous, current in itertools.pairwise(observations):
        violations += _violations(first, current, _step_problems(previous, current))
    # A list page may render a job's result apart from its status answer (and faults that rewrite only one are
    # judged by the checks that read results); the result's stability is judged between status answers.
    for previous, current in itertools.pairwise([item for item in observations if item.from_status]):
        violations += _violations(first, current, _result_problems(previous, current))
    return violations


def _result_problems(previous: JobObservation, current: JobObservation) -> list[str]:
    if previous.status not in TERMINAL or current.status != previous.status:
        return []
    return [
        f"the {name} changed after the job {previous.status}"
        for name in RESULT_FIELDS
        if name in previous.job and name in current.job and previous.job[name] != current.job[name]
    ]


def _violations(first: JobObservation, current: JobObservation, messages: list[str]) -> list[Violation]:
    where = f"{current.exchange.summary()} at +{current.seen_at - first.seen_at:.2f} s"
    return [Violation(current.job_id, f"{message} ({where})", current.exchange) for message in messages]


def _snapshot_problems(observation: JobObservation) -> list[str]:
    """What one observation breaks on its own: progress bounds, timestamps before the job's creation, a status
    answer of an unfinished job without its polling hint."""
    problems: list[str] = []
    progress = observation.progress
    if progress is not None and not 0 <= progress <= 1:
        problems.append(f"progress {progress} is outside [0, 1]")
    if (
        observation.from_status
        and observation.status not in TERMINAL
        and observation.exchange.header("retry-after") is None
    ):
        problems.append(f"the status answer of a {observation.status} job carries no Retry-After")
    if observation.from_status:
        problems += _result_presence_problems(observation.status, observation.job)
    created = _timestamp(observation.job.get("created_at"))
    for name in ("updated_at", "completed_at"):
        moment = _timestamp(observation.job.get(name))
        if created is not None and moment is not None and moment < created:
            problems.append(f"{name} {observation.job[name]} is before created_at {observation.job['created_at']}")
    return problems


def _result_presence_problems(status: str, job: Mapping[str, Any]) -> list[str]:
    """A completed job carries its transcript, a failed one an error with a code and a message."""
    if status == "completed" and "transcript" not in job:
        return ["the completed job carries no transcript"]
    error = job.get("error")
    if status == "failed" and not (isinstance(error, Mapping) and error.get("code") and error.get("message")):
        return [f"the failed job carries no error with a code and a message: {_shown(error)}"]
    return []


def _step_problems(previous: JobObservation, current: JobObservation) -> list[str]:
    """What an observation breaks against the one before it."""
    problems = _status_problems(previous.status, current.status)
    if previous.progress is not None and current.progress is not None and current.progress < previous.progress:
        problems.append(f"the progress went down from {previous.progress} to {current.progress}")
    for name in FIXED_FIELDS:
        if name in previous.job and name in current.job and previous.job[name] != current.job[name]:
            problems.append(f"{name} changed from {_shown(previous.job[name])} to {_shown(current.job[name])}")
    if "completed_at" in previous.job and previous.job.get("completed_at") != current.job.get("completed_at"):
        was, now = previous.job["completed_at"], current.job.get("completed_at")
        problems.append(f"completed_at changed from {was} to {now if now is not None else 'nothing'}")
    was, now = _timestamp(previous.job.get("updated_at")), _timestamp(current.job.get("updated_at"))
    if was is not None and now is not None and now < was:
        problems.append(f"updated_at went back from {previous.job['updated_at']} to {current.job['updated_at']}")
    return problems


def _status_problems(previous: str, current: str) -> list[str]:
    if previous not in STATUS_RANK or current not in STATUS_RANK:
        return []  # an unknown status is the schema's business
    if previous in TERMINAL and current != previous:
        return [f"the status went from {previous} to {current}; a terminal status never changes"]
    if STATUS_RANK[current] < STATUS_RANK[previous]:
        return [f"the status went from {previous} back to {current}"]
    return []


def _timestamp(value: object) -> datetime.datetime | None:
    """An RFC 3339 date-time with its offset; None for anything else (the schema judges the format)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _shown(value: object) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # not JSON, or cut at the exchange's preview limit: nothing to observe
        return None


def _requested(exchange: Exchange, name: str) -> bool:
    return any(key.lower() == name for key in exchange.request_headers)


def _is_replay(exchange: Exchange) -> bool:
    """A transcribe with an Idempotency-Key may be answered from the earlier request, with the job as it was then."""
    return exchange.method == "POST" and _requested(exchange, "idempotency-key")
