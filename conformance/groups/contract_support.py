"""Driving Schemathesis for the contract group: one engine run per phase, distinct findings out.

Each run is what ``schemathesis run --phases <phase> --checks all --mode all --rate-limit auto`` does, through
the same engine (``schemathesis.engine.from_schema(schema).execute()``) and its event stream, configured in code:
the contract from the one loader (``ctx.document``), the deployment's root as base URL (the contract's paths
carry ``/v1``), the API key as a bearer header, positive and negative data, ``ctx.max_examples`` per operation and
``ctx.seed``. Nothing is written to disk: no Hypothesis database, no Schemathesis cache, no ``schemathesis.toml``.

Multipart file parts carry ``ctx.audio`` for every media type the contract's encodings list, else Schemathesis
sends random bytes that a real server rightly refuses. Media-type strategies live in a process-wide registry, so a
run registers them, restores the registry afterwards, and runs hold a lock: they never overlap.

Requests: Schemathesis sends with its own ``requests`` session, not ``ctx.client``. Every call it makes for a
generated case (its rate-limit retries included) passes the schema's ``after_call`` / ``after_network_error``
hooks, which charge it to ``ctx.budget`` and stop the engine once the budget is spent or the check is cancelled
(it stops before its next case, so it overshoots by at most the request in flight). Requests made inside
Schemathesis checks (``ignored_auth`` probes, content-type controls) bypass the hooks but are in the scenario
recorders, and the engine's start-up probes (two requests) are in its probing payload: both are charged after the
run. The count is exact but for rate-limit retries, each of which can hide one such in-check request.

Answers: every answer a scenario recorded is handed to ``ctx.observe`` when the scenario ends, so it joins the
check's exchanges (the result's request count) and the run's history, and the suite's shared inspections
(``X-Request-Id``, no 5xx, problem+json) judge it like any other answer.

Reproductions: curl commands rendered from the recorded requests by the suite's own :meth:`Exchange.curl` (file
parts as ``-F``, the suite's keys as ``$VOXSCRIBER_API_KEY``), as in its other reports. Schemathesis's masking is
off, since it would also hide the deliberately wrong keys of auth probes; :class:`Redactor` keeps the suite's keys
out of every other text.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.config import CacheConfig, OutputConfig, SanitizationConfig, SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.core.media_types import MEDIA_TYPE_STRATEGIES
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.recorder import Interaction, ScenarioRecorder
from schemathesis.engine.run import PhaseName
from schemathesis.engine.run.probes import ProbePayload
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.schemas import BaseSchema

from conformance.client import BudgetExhausted, RequestBudget
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.scope import CheckScope, current_scope
from voxcontract.spec import deref, iter_operations
from voxcontract.transcription import metadata_key_fits

__all__ = [
    "Finding",
    "PhaseReport",
    "Redactor",
    "RequestMeter",
    "documented_refusal",
    "file_media_types",
    "keeps_unwritten_bounds",
    "run_phase",
]

#: Steps of one stateful scenario: enough for upload → transcribe → status → transcript → delete, and detours.
MAX_STATEFUL_STEPS = 10
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY_PREVIEW = 64 * 1024
_RUN_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Finding:
    """One distinct failure: which Schemathesis check, on which operation, what went wrong, how to reproduce it."""

    check: str
    operation: str
    title: str
    detail: str
    reproduction: str

    @property
    def key(self) -> tuple[str, str, str]:
        # As coarse as Schemathesis's own de-duplication: one finding per check, operation and failure kind.
        return (self.check, self.operation, self.title)

    def __str__(self) -> str:
        text = f"{self.check} on {self.operation}: {self.title}"
        return f"{text} ({self.detail})" if self.detail else text

    def redacted(self, redact: Callable[[str], str]) -> Finding:
        """The same finding with ``redact`` applied to its texts (keys out of messages and reproductions)."""
        return dataclasses.replace(self, detail=redact(self.detail), reproduction=redact(self.reproduction))


@dataclass(slots=True)
class PhaseReport:
    """What one phase's run found, and how many requests it sent."""

    phase: str
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    requests: int = 0
    budget_spent: bool = False

    def add(self, finding: Finding) -> None:
        self.findings.setdefault(finding.key, finding)


class RequestMeter:
    """Charges Schemathesis's requests to the suite's budget; calls ``on_stop`` when it is spent or cancelled."""

    def __init__(self, budget: RequestBudget, scope: CheckScope) -> None:
        self.budget = budget
        self.scope = scope
        #: Requests seen by the hooks (charged as they go), held by the recorders, sent by the engine's probes.
        self.counted = 0
        self.recorded = 0
        self.probes = 0
        self.spent = False
        self.on_stop: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def record(self) -> None:
        """One request went out (called from the engine's threads)."""
        with self._lock:
            self.counted += 1
        try:
            self.budget.spend()
        except BudgetExhausted:
            self.spent = True
        if (self.spent or self.scope.cancelled.is_set()) and self.on_stop is not None:
            self.on_stop()

    def settle(self) -> int:
        """Charge the requests the hooks did not see (best effort: the budget may be spent); the total sent."""
        unseen = max(self.recorded - self.counted, 0) + self.probes
        for _ in range(unseen):
            if self.budget.exhausted:
                break
            self.budget.spend()
        return self.counted + unseen

    def install(self, schema: BaseSchema) -> None:
        """Count through the schema's own hooks (schema-scoped: other Schemathesis runs are not affected)."""

        def after_call(context: Any, case: Case[Any], response: Response) -> None:
            self.record()

        def after_network_error(context: Any, case: Case[Any], request: Any) -> None:
            self.record()

        schema.hooks.register_hook_with_name(after_call, "after_call")
        schema.hooks.register_hook_with_name(after_network_error, "after_network_error")


def file_media_types(document: Mapping[str, Any]) -> list[str]:
    """Every media type the contract lists in a multipart encoding of a binary (file) property, in order."""
    found: list[str] = []
    for operation in iter_operations(document):
        body = deref(document, operation.definition.get("requestBody") or {})
        for media_type, content in (body.get("content") or {}).items():
            if not str(media_type).startswith("multipart/"):
                continue
            properties = deref(document, content.get("schema") or {}).get("properties") or {}
            for name, encoding in (content.get("encoding") or {}).items():
                if deref(document, properties.get(name) or {}).get("format") != "binary":
                    continue
                for item in str(encoding.get("contentType", "")).split(","):
                    if item.strip() and item.strip() not in found:
                        found.append(item.strip())
    return found


@contextlib.contextmanager
def registered_audio(media_types: Sequence[str], audio: bytes) -> Iterator[None]:
    """Make Schemathesis send ``audio`` for ``media_types`` inside the block; the registry is restored after."""
    saved = {name: MEDIA_TYPE_STRATEGIES[name] for name in media_types if name in MEDIA_TYPE_STRATEGIES}
    strategy = st.just(audio)
    for name in media_types:
        schemathesis.openapi.media_type(name, strategy)
    try:
        yield
    finally:
        for name in media_types:
            if name in saved:
                MEDIA_TYPE_STRATEGIES[name] = saved[name]
            else:
                MEDIA_TYPE_STRATEGIES.pop(name, None)


#: Refusals the contract documents for data no schema can rule out: they depend on the deployment and the world.
_DOCUMENTED_REFUSALS: dict[tuple[str, int], frozenset[str]] = {
    # A well-formed language code the model lacks; diarization on a deployment without it.
    ("POST /v1/transcribe", 422): frozenset({"language_not_supported", "diarization_unavailable"}),
    # A webhook URL whose host resolves to a refused (private, loopback, ...) address.
    ("POST /v1/transcribe", 400): frozenset({"url_not_allowed"}),
    # A media URL that cannot be fetched (no network, no such host), is refused, or is not media.
    ("POST /v1/upload", 400): frozenset({"url_fetch_failed", "url_not_allowed", "unsupported_media"}),
    ("POST /v1/upload", 413): frozenset({"payload_too_large"}),
}


def documented_refusal(failure: Failure, case: Case[Any], response: Response) -> bool:
    """Whether a "schema-valid request rejected" is the contract's documented answer to data no schema rules out.

    A well-formed language code the service does not support is ``422 language_not_supported``; a media URL the
    service cannot fetch is ``400 url_fetch_failed``; a cursor the service never issued is ``400`` (cursors are
    opaque: only ``next_cursor`` is valid). See :data:`_DOCUMENTED_REFUSALS`; nothing else is excused.
    """
    if not isinstance(failure, RejectedPositiveData):
        return False
    codes = _DOCUMENTED_REFUSALS.get((case.operation.label, response.status_code))
    if codes is not None and _problem_code(response) in codes:
        return True
    return response.status_code == 400 and case.operation.label == "GET /v1/jobs" and "cursor" in (case.query or {})


def _problem_code(response: Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def build_schema(ctx: ConformanceContext, phase: str) -> BaseSchema:
    """The contract as a Schemathesis schema, set up for one phase against the deployment."""
    config = SchemathesisConfig(
        seed=ctx.seed,
        cache=CacheConfig(enabled=False),
        output=OutputConfig(sanitization=SanitizationConfig(enabled=False)),
    )
    schema = schemathesis.openapi.from_dict(copy.deepcopy(ctx.document), config=config)
    project = schema.config
    project.update(
        base_url=ctx.base_url,
        headers={"Authorization": f"Bearer {ctx.api_key}"},
        rate_limit="auto",
        request_timeout=ctx.request_timeout,
    )
    project.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=ctx.max_examples, database="none"
    )
    project.phases.update(phases=[phase])
    project.phases.stateful.max_steps = MAX_STATEFUL_STEPS
    project.checks.update(included_check_names=["all"])

    def filter_failure(context: Any, failure: Failure, case: Case[Any], response: Response) -> bool:
        return not documented_refusal(failure, case, response)

    schema.hooks.register_hook_with_name(filter_failure, "filter_failure")
    keep_unwritten_bounds(schema)
    return schema


def keep_unwritten_bounds(schema: BaseSchema) -> None:
    """Drop generated bodies that break a bound the contract states outside its schemas (OpenAPI 3.0 cannot say
    it): metadata keys of 1 to ``x-voxscriber-max-key-length`` characters. Without this, "schema-valid" data with an
    empty or long key would be refused, rightly, and reported as wrongly refused."""

    def filter_body(context: Any, body: Any) -> bool:
        return keeps_unwritten_bounds(body)

    schema.hooks.register_hook_with_name(filter_body, "filter_body")


def keeps_unwritten_bounds(body: Any) -> bool:
    """Whether a generated body keeps the bounds the contract states outside its schemas (metadata key lengths)."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    return not isinstance(metadata, dict) or all(metadata_key_fits(str(key)) for key in metadata)


def run_phase(ctx: ConformanceContext, phase: str) -> PhaseReport:
    """Run one Schemathesis phase to its end (or the budget's, or a cancellation) and collect what it found."""
    report = PhaseReport(phase)
    meter = RequestMeter(ctx.budget, current_scope())
    keys = ctx.key_variables()
    redact = Redactor(keys)
    with _RUN_LOCK, registered_audio(file_media_types(ctx.document), ctx.audio):
        schema = build_schema(ctx, phase)
        meter.install(schema)
        stream = from_schema(schema).execute()
        meter.on_stop = stream.stop
        with contextlib.closing(stream.generator):
            for event in stream:
                if isinstance(event, events.ScenarioFinished):
                    meter.recorded += len(event.recorder.interactions)
                    _observe(ctx, event.recorder)
                elif isinstance(event, events.PhaseFinished) and event.phase.name == PhaseName.PROBING:
                    meter.probes += _probes_sent(event.payload)
                for finding in _findings(event, keys):
                    report.add(finding.redacted(redact))
    report.requests = meter.settle()
    report.budget_spent = meter.spent
    return report


def _probes_sent(payload: object) -> int:
    """How many requests the engine's start-up probes sent (they pass neither the hooks nor the recorders)."""
    if not isinstance(payload, Ok) or not isinstance(payload.ok(), ProbePayload):
        return 0
    return sum(1 for probe in payload.ok().probes if probe.request is not None)


def _observe(ctx: ConformanceContext, recorder: ScenarioRecorder) -> None:
    """Hand every answer to the suite's record: the check's exchanges, the run's history, the shared inspections."""
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            ctx.observe(exchange(interaction, limit=_BODY_PREVIEW))


def exchange(interaction: Interaction, *, limit: int | None = None) -> Exchange:
    """A recorded request and its answer as the suite's :class:`Exchange` (bodies cut at ``limit`` bytes)."""
    request, response = interaction.request, interaction.response
    return Exchange(
        method=request.method,
        url=request.uri,
        request_headers={name: values[0] for name, values in request.headers.items() if values},
        request_body=request.body[:limit] if request.body else None,
        status=response.status_code if response is not None else None,
        response_headers={name: values[0] for name, values in response.headers.items() if values} if response else {},
        response_body=response.content[:limit] if response is not None else b"",
    )


def reproduce(recorder: ScenarioRecorder, case_ids: Sequence[str], key_variables: Mapping[str, str]) -> str:
    """Curl commands for recorded requests, in the suite's own format (file parts as ``-F``, keys as variables)."""
    interactions = [recorder.interactions[case_id] for case_id in case_ids if case_id in recorder.interactions]
    return "\n".join(exchange(interaction).curl(key_variables) for interaction in interactions)


def _findings(event: events.EngineEvent, key_variables: Mapping[str, str]) -> Iterator[Finding]:
    if isinstance(event, events.ScenarioFinished):
        yield from recorded_failures(event.recorder, key_variables)
        if event.phase == PhaseName.STATEFUL_TESTING:
            yield from linked_use_after_free(event.recorder, key_variables)
    elif isinstance(event, events.NonFatalError):
        info = event.info
        yield Finding("schemathesis_error", event.label, info.title, summary(info.message), info.code_sample or "")
    elif isinstance(event, events.FatalError):
        yield Finding(
            "schemathesis_error", "(engine)", type(event.exception).__name__, summary(str(event.exception)), ""
        )
    elif isinstance(event, events.EngineFinished):
        for failure in event.failures:
            yield Finding("after_run", failure.operation or "(run)", failure.title, summary(failure.message), "")


def recorded_failures(recorder: ScenarioRecorder, key_variables: Mapping[str, str]) -> Iterator[Finding]:
    """The failed checks of one scenario, each with the curl commands that reproduce it (all steps, in order)."""
    for case_id, nodes in recorder.checks.items():
        for node in nodes:
            info = node.failure_info
            if node.status != Status.FAILURE or info is None:
                continue
            failure = info.failure
            steps = [step.case_id for step in info.steps] or [failure.case_id or case_id]
            curls = reproduce(recorder, steps, key_variables) or info.code_sample
            yield Finding(
                node.name, failure.operation or recorder.label, failure.title, summary(failure.message), curls
            )


def linked_use_after_free(recorder: ScenarioRecorder, key_variables: Mapping[str, str]) -> Iterator[Finding]:
    """A resource still served after a successful DELETE, found by the path parameter the operations share.

    Schemathesis's ``use_after_free`` relates a DELETE to later reads by path prefix only, and this contract
    deletes a job at ``/v1/jobs/{job_id}`` but reads it at ``/v1/status/{job_id}`` and
    ``/v1/transcripts/{job_id}``: the links say these are one resource (the same ``job_id``), so a read of the
    same value after the DELETE must be 404. A successful write whose answer names the value again re-creates it.
    """
    deleted: dict[tuple[str, str], Case[Any]] = {}
    for case_id, node in recorder.cases.items():
        case = node.value
        response = recorder.find_response(case_id=case_id)
        if response is None or not 200 <= response.status_code < 300:
            continue
        values = {(name, str(value)) for name, value in (case.path_parameters or {}).items()}
        method = case.method.upper()
        if method == "DELETE":
            deleted.update(dict.fromkeys(values - deleted.keys(), case))
        elif method in _SAFE_METHODS:
            for value in sorted(values & deleted.keys()):
                steps = reproduce(recorder, [deleted[value].id, case_id], key_variables)
                yield _use_after_free(deleted[value], case, response, steps)
        else:
            text = response.content.decode("utf-8", "replace")
            for value in [value for value in deleted if value[1] in text]:
                del deleted[value]


def _use_after_free(delete: Case[Any], read: Case[Any], response: Response, reproduction: str) -> Finding:
    # Named after the DELETE, like Schemathesis's own use_after_free, so that the two report a file only once.
    usage = f"{read.method.upper()} {read.formatted_path}"
    detail = f"{usage} answered {response.status_code} after DELETE {delete.formatted_path} succeeded"
    return Finding("use_after_free", delete.operation.label, "Deleted resource still available", detail, reproduction)


def summary(message: str, limit: int = 200) -> str:
    """The first meaningful line of a Schemathesis message, shortened."""
    line = next((line.strip() for line in message.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Redactor:
    """Replaces the suite's API keys by their variables, in double quotes where curl must expand them."""

    def __init__(self, key_variables: Mapping[str, str]) -> None:
        self.key_variables = dict(key_variables)

    def __call__(self, text: str) -> str:
        for key, variable in self.key_variables.items():
            text = text.replace(f"'Authorization: Bearer {key}'", f'"Authorization: Bearer ${variable}"')
            text = text.replace(key, f"${variable}")
        return text
