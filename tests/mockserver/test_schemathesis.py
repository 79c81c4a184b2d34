"""Schemathesis 4 against the mock over real HTTP: every built-in check, positive and negative data, all phases.

- ``test_operations``: one run per operation of the examples, coverage and fuzzing phases, with positive and
  negative data; every built-in check runs on every answer (not_a_server_error, status code, content type, header
  and schema conformance, positive data acceptance, negative data rejection, missing required header, ignored auth,
  unsupported method, Allow header conformance, ...).
- ``test_stateful``: the stateful phase over the contract's links (upload → transcribe → status → transcript →
  delete), where the stateful checks (use_after_free, ensure_resource_availability) run too.

Uploads carry real audio: each media type the contract lists for the multipart ``file`` part is registered with a
speech fixture in a matching container, else Schemathesis would send random bytes the mock rightly refuses.
Examples are bounded and derandomized, so the run is repeatable and quick (about 15 s on two cores).

Two answers are the contract's documented behaviour although the data is schema-valid, so they are allowed here
and nowhere else: ``422 language_not_supported`` for a well-formed language the model does not know, and ``400
invalid_request`` for a ``cursor`` the server never issued (a cursor is opaque; only ``next_cursor`` is valid).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conformance.groups.contract_support import keep_unwritten_bounds
from mockserver.fixtures import SpeechFixture, speech_fixture, speech_fixtures
from mockserver.pytest_plugin import MockHandle, default_mock_settings, running_mock
from voxcontract.spec import load_spec, spec_path

API_KEY = "vox_schemathesis_key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
MAX_EXAMPLES = 60
STATEFUL_EXAMPLES = 60
STATEFUL_STEPS = 10
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)

# Which recording stands in for each media type (by container); the others get the WAV.
_FIXTURE_FOR_TYPE = {
    "audio/mpeg": "weather.mp3",
    "audio/ogg": "meeting.ogg",
    "audio/opus": "meeting.ogg",
    "audio/mp4": "reminder.m4a",
    "audio/aac": "reminder.m4a",
    "video/mp4": "reminder.m4a",
    "video/quicktime": "reminder.m4a",
}


def upload_media_types() -> list[str]:
    """The media types the contract lists for the multipart ``file`` part of ``POST /v1/upload``."""
    form = load_spec()["paths"]["/v1/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]
    return [name.strip() for name in form["encoding"]["file"]["contentType"].split(",")]


def audio_for(media_type: str) -> SpeechFixture:
    return speech_fixture(_FIXTURE_FOR_TYPE.get(media_type, "hello.wav"))


def register_audio() -> None:
    for media_type in upload_media_types():
        schemathesis.openapi.media_type(media_type, st.just(audio_for(media_type).read_bytes()))


def configure(schema: Any) -> None:
    schema.config.update(headers=AUTH, request_timeout=30)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
    )
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
    schema.config.phases.stateful.max_steps = STATEFUL_STEPS
    schema.config.checks.update(included_check_names=["all"])
    acceptance = schema.config.checks.positive_data_acceptance
    # A new list: the default one is shared by every config object.
    acceptance.expected_statuses = [*acceptance.expected_statuses, "422"]


def foreign_cursor_refused(case: schemathesis.Case, response: Any) -> bool:
    """``GET /v1/jobs`` answered 400 invalid_request because of a cursor this server never issued."""
    if case.operation.label != "GET /v1/jobs" or "cursor" not in (case.query or {}) or response.status_code != 400:
        return False
    body = response.json()
    return bool(body.get("code") == "invalid_request" and "cursor" in str(body.get("detail", "")))


def excluded_checks(case: schemathesis.Case, response: Any) -> list[Any]:
    return [positive_data_acceptance] if foreign_cursor_refused(case, response) else []


register_audio()
schema = schemathesis.openapi.from_path(spec_path())
configure(schema)
keep_unwritten_bounds(schema)


@pytest.fixture(scope="module")
def fuzzed_mock() -> Iterator[MockHandle]:
    """One mock for the module: jobs finish at once, a quota Schemathesis never reaches, quick webhook give-up."""
    settings = default_mock_settings().replace(
        api_keys=(API_KEY,),
        rate_limit="100000/minute",
        processing_time=0.0,
        webhook_retry_schedule=(0.05,),
        webhook_timeout=0.5,
    )
    with running_mock(settings) as handle:
        yield handle


@schema.parametrize()
@hypothesis.settings(SETTINGS)
def test_operations(case: schemathesis.Case, fuzzed_mock: MockHandle) -> None:
    # The key is passed explicitly (not only by the config) so that ignored_auth knows it is real and probes the
    # operation without it and with a wrong one.
    response = case.call(base_url=fuzzed_mock.base_url, headers=AUTH)
    case.validate_response(
        response,
        excluded_checks=excluded_checks(case, response),
        headers=AUTH,
        transport_kwargs={"base_url": fuzzed_mock.base_url, "headers": AUTH},
    )


def test_stateful(fuzzed_mock: MockHandle) -> None:
    base = schema.as_state_machine()

    class MockStateMachine(base):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            # Every scenario starts from the same (empty, seeded) mock, so that Hypothesis can replay and shrink it.
            fuzzed_mock.reset()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": fuzzed_mock.base_url, "headers": AUTH}

        def validate_response(self, response: Any, case: schemathesis.Case, *_: Any, **kwargs: Any) -> None:
            case.validate_response(
                response,
                excluded_checks=excluded_checks(case, response),
                headers=AUTH,
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    MockStateMachine.run(
        settings=hypothesis.settings(SETTINGS, max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS)
    )


def test_every_listed_media_type_gets_real_audio() -> None:
    """Each media type of the contract's encoding list is registered, and every recording is used."""
    types = upload_media_types()
    assert "audio/wav" in types
    assert {audio_for(media_type).file for media_type in types} == {f.file for f in speech_fixtures()}
