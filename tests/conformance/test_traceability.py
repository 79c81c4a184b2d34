"""Traceability: the contract's statements, the map to the checks that verify them, results, ``--coverage``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.events import CheckResult, RunResult, Status
from conformance.exchange import Exchange
from conformance.problems import inspect_answer
from conformance.statements import Statement, extract_statements
from conformance.traceability import (
    INSPECTIONS,
    StatementResult,
    Traceability,
    aggregate,
    known_check_ids,
    load_rules,
)
from tests.conformance.support import run_conformance, serve_mock
from voxcontract.spec import load_spec


@pytest.fixture(scope="module")
def contract() -> Traceability:
    return Traceability.of_contract()


def _by_id(statements: list[Statement]) -> dict[str, Statement]:
    return {statement.id: statement for statement in statements}


def _sentence_id(document: dict[str, Any], where: str, text: str) -> str:
    found = [item.id for item in extract_statements(document) if item.text == text and item.id.startswith(where)]
    assert len(found) == 1, found
    return found[0]


def _write_map(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the map over the contract ------------------------------------------------------------------------------------


def test_every_statement_is_checked_or_marked_not_checkable(contract: Traceability) -> None:
    unchecked = [
        f"{item.statement.id}: {item.rule.gap if item.rule and item.rule.gap else 'no rule maps it'}"
        for item in contract.unchecked
    ]
    assert not unchecked, f"{len(unchecked)} statements no check verifies:\n" + "\n".join(unchecked)


def test_the_map_names_only_checks_that_exist(contract: Traceability) -> None:
    assert contract.unknown_checks == {}


def test_the_map_has_no_stale_rule(contract: Traceability) -> None:
    assert [rule.label for rule in contract.stale_rules] == []


def test_an_unmapped_sentence_added_to_the_contract_is_unchecked() -> None:
    document = copy.deepcopy(load_spec())
    document["info"]["description"] += "\nEvery answer is also sent by carrier pigeon.\n"
    traceability = Traceability(extract_statements(document), load_rules(), known_check_ids())
    added = _sentence_id(document, "sentence info ", "Every answer is also sent by carrier pigeon.")
    assert added in {item.statement.id for item in traceability.unchecked}
    assert added not in {item.statement.id for item in Traceability.of_contract().unchecked}


def test_a_rule_naming_an_unknown_check_or_a_gone_statement_is_reported(tmp_path: Path) -> None:
    path = _write_map(
        tmp_path,
        "rules:\n"
        '  - match: "security bearerAuth"\n    checks: [auth/missing-key, auth/no-such-check, nogroup/*]\n'
        '  - match: "status GET /v1/gone 200"\n    checks: [auth/missing-key]\n'
        '  - match: "security *"\n    not_checkable: "shadowed by nothing"\n'
        '  - match: "security bearerAuth"\n    checks: [auth/missing-key]\n',
    )
    traceability = Traceability(extract_statements(load_spec()), load_rules(path), known_check_ids())
    assert traceability.unknown_checks == {"rule 1 (security bearerAuth)": ["auth/no-such-check", "nogroup/*"]}
    assert [rule.index for rule in traceability.stale_rules] == [2, 4]  # gone, and taken by rule 1


def test_a_rule_must_say_exactly_one_thing(tmp_path: Path) -> None:
    path = _write_map(tmp_path, 'rules:\n  - match: "limit *"\n    checks: [auth/missing-key]\n    gap: "both"\n')
    with pytest.raises(ValueError, match="exactly one of checks, not_checkable, gap"):
        load_rules(path)


def test_group_globs_expand_to_the_groups_checks(contract: Traceability) -> None:
    mapped = {item.statement.id: item.checks for item in contract.mappings}
    assert mapped["constraint components/schemas/Health required"] == (
        "contract/examples",
        "contract/coverage",
        "contract/fuzzing",
        "contract/stateful",
    )


# --- extraction ---------------------------------------------------------------------------------------------------


def test_extraction_of_a_response_header_and_a_status() -> None:
    statements = _by_id(extract_statements(load_spec()))
    header = statements["response-header GET /v1/status/{job_id} 200 Retry-After"]
    assert (header.kind, header.location) == (
        "response-header",
        "#/paths/~1v1~1status~1{job_id}/get/responses/200/headers/Retry-After",
    )
    assert header.text.startswith("Seconds to wait before the next request")
    status = statements["status DELETE /v1/files/{file_id} 409"]
    assert status.text == "The file cannot be deleted while a queued or processing job uses it."
    assert "response-header GET /v1/files/{file_id} 401 WWW-Authenticate" in statements


def test_extraction_of_constraints_beyond_types() -> None:
    statements = _by_id(extract_statements(load_spec()))
    assert statements["constraint components/schemas/Job/properties/progress maximum"].text == "maximum: 1"
    assert "constraint components/schemas/Job additionalProperties" in statements
    assert "constraint components/schemas/Metadata x-voxscriber-max-key-length" in statements
    assert "constraint components/parameters/Limit/schema default" in statements
    assert "constraint POST /v1/transcribe requestBody required" in statements
    # A type alone is no constraint, and an open additionalProperties (a schema) is none either.
    assert not [key for key in statements if key.endswith(" type")]
    assert "constraint components/schemas/Metadata additionalProperties" not in statements


def test_extraction_of_promising_sentences_only() -> None:
    document = load_spec()
    texts = {item.text for item in extract_statements(document) if item.kind == "sentence"}
    assert "Every answer carries `X-Request-Id`." in texts
    assert "From 0 to 1; never decreases." in texts
    assert "The server's version." not in texts  # describes, promises nothing


def test_a_sentence_id_survives_edits_elsewhere() -> None:
    document = copy.deepcopy(load_spec())
    before = _sentence_id(document, "sentence info ", "Every answer carries `X-Request-Id`.")
    description = document["info"]["description"]
    document["info"]["description"] = "A new first sentence that is never wrong.\n\n" + description.replace(
        "Larger uploads are answered `413`.", "Larger uploads are always answered `413`."
    )
    assert _sentence_id(document, "sentence info ", "Every answer carries `X-Request-Id`.") == before


def test_extraction_of_the_callback_limits_and_security() -> None:
    statements = _by_id(extract_statements(load_spec()))
    callback = statements["callback POST /v1/transcribe transcriptionEvent"]
    assert (
        callback.location
        == "#/paths/~1v1~1transcribe/post/callbacks/transcriptionEvent/{$request.body#~1webhook_url}/post"
    )
    assert "status callback transcriptionEvent default" in statements
    assert statements["limit max_upload_bytes"].text == "max_upload_bytes: 104857600"
    assert statements["security bearerAuth"].kind == "security"
    assert statements["security GET /v1/health"].text == "GET /v1/health: no authentication"


def test_statement_ids_are_unique() -> None:
    statements = extract_statements(load_spec())
    assert len({item.id for item in statements}) == len(statements)


# --- results ------------------------------------------------------------------------------------------------------


def _result(check_id: str, status: Status, message: str = "", findings: tuple[str, ...] = ()) -> CheckResult:
    group, name = check_id.split("/")
    return CheckResult(group, name, "", status, 0.1, message, findings=findings)


def _run(*results: CheckResult) -> RunResult:
    return RunResult("http://api.test", tuple(results), 1.0, 10, 100, "2026-01-01T00:00:00Z")


def test_aggregation_of_check_verdicts() -> None:
    assert aggregate([Status.PASSED, Status.FAILED, Status.ERROR]) is StatementResult.FAILED
    assert aggregate([Status.PASSED, Status.ERROR, Status.UNVERIFIED]) is StatementResult.ERROR
    assert aggregate([Status.PASSED, Status.UNVERIFIED]) is StatementResult.UNVERIFIED
    assert aggregate([Status.PASSED, Status.SKIPPED]) is StatementResult.PASSED
    assert aggregate([Status.SKIPPED]) is StatementResult.NOT_RUN
    assert aggregate([]) is StatementResult.NOT_RUN


def test_statement_results_in_a_run(contract: Traceability) -> None:
    run = _run(
        _result("auth/missing-key", Status.PASSED),
        _result("auth/malformed-key", Status.PASSED),
        _result("auth/wrong-scheme", Status.FAILED, "GET /v1/jobs: expected 401, got 200"),
        _result("auth/invalid-key", Status.PASSED),
        _result("auth/public-operations", Status.PASSED),
    )
    results = {row.mapping.statement.id: row.result for row in contract.resolve(run)}
    assert results["security GET /v1/health"] is StatementResult.PASSED
    assert results["status GET /v1/jobs 401"] is StatementResult.FAILED
    assert results["status DELETE /v1/jobs/{job_id} 204"] is StatementResult.NOT_RUN
    assert results["status POST /v1/upload 500"] is StatementResult.NOT_CHECKABLE


def test_an_inspection_fails_only_where_a_check_reported_its_rule(contract: Traceability) -> None:
    quiet = {
        row.mapping.statement.id: row.result for row in contract.resolve(_run(_result("http/location", Status.PASSED)))
    }
    assert quiet["sentence info " + _digest_of("Every answer carries `X-Request-Id`.")] is StatementResult.PASSED
    broken = _run(_result("http/location", Status.FAILED, "GET /v1/jobs -> 200: the answer carries no X-Request-Id"))
    results = {row.mapping.statement.id: row.result for row in contract.resolve(broken)}
    assert results["sentence info " + _digest_of("Every answer carries `X-Request-Id`.")] is StatementResult.FAILED
    assert results["sentence info " + _digest_of(_PROBLEM_SENTENCE)] is StatementResult.PASSED
    assert {row.result for row in contract.resolve(_run())} >= {StatementResult.NOT_RUN}


_PROBLEM_SENTENCE = (
    "Every 4xx and 5xx answer is an RFC 9457 problem (`application/problem+json`) with `type`, `title`, `status`, "
    "`detail`, `instance`, a stable machine-readable `code` (see the `ErrorCode` schema) and the `request_id`."
)


def _digest_of(text: str) -> str:
    return _sentence_id(load_spec(), "sentence info ", text).rsplit(" ", 1)[1]


def test_each_inspection_recognises_the_messages_its_rule_writes() -> None:
    request = httpx.Request("GET", "http://api.test/v1/jobs", headers={"X-Request-Id": "sane-id"})
    answers = {
        "inspection/x-request-id": httpx.Response(200, json={}, request=request),
        "inspection/no-server-error": httpx.Response(502, headers={"X-Request-Id": "sane-id"}, request=request),
        "inspection/problem": httpx.Response(404, headers={"X-Request-Id": "sane-id"}, json={}, request=request),
        "inspection/retry-after": httpx.Response(
            200, headers={"X-Request-Id": "sane-id", "Retry-After": "soon"}, json={}, request=request
        ),
        "inspection/rate-limit": httpx.Response(
            200, headers={"X-Request-Id": "sane-id", "RateLimit": '"default";r=1;t=1'}, json={}, request=request
        ),
        "inspection/request-id-echo": httpx.Response(200, headers={"X-Request-Id": "other"}, json={}, request=request),
        "inspection/media-type": httpx.Response(
            200, headers={"X-Request-Id": "sane-id", "Content-Type": "text/html"}, content=b"<p>", request=request
        ),
    }
    assert set(answers) == set(INSPECTIONS)
    for inspection_id, response in answers.items():
        messages = inspect_answer(Exchange.from_httpx(response))
        assert any(INSPECTIONS[inspection_id].pattern.search(message) for message in messages), (
            inspection_id,
            messages,
        )


def test_the_report_document_has_the_agreed_shape(contract: Traceability) -> None:
    from conformance.traceability import traceability_document

    document = traceability_document(_run(_result("auth/missing-key", Status.PASSED)), contract)
    assert set(document) == {"statements", "summary"}
    assert set(document["statements"][0]) == {"id", "kind", "location", "text", "checks", "not_checkable", "result"}
    summary = document["summary"]
    assert summary["statements"] == len(contract.mappings) == sum(summary["by_result"].values())
    assert summary["mapped"] == sum(1 for item in contract.mappings if item.checked)
    assert summary["not_checkable"] == sum(1 for item in contract.mappings if item.not_checkable is not None)


# --- the command line ---------------------------------------------------------------------------------------------


def test_coverage_prints_the_table_and_the_report_holds_it(tmp_path: Path, contract: Traceability) -> None:
    with serve_mock() as mock:
        outcome = run_conformance(mock.url, "--only", "auth", "--coverage", report_dir=tmp_path)
    assert "Traceability: statement → checks → result" in outcome.output
    assert f"Traceability: {len(contract.mappings)} statements of the contract:" in outcome.output
    assert "security bearerAuth" in outcome.output
    assert outcome.report is not None
    statements = {item["id"]: item for item in outcome.report["traceability"]["statements"]}
    assert statements["status GET /v1/jobs 401"]["result"] == "passed"
    assert statements["status GET /v1/jobs 401"]["checks"][:2] == ["auth/missing-key", "auth/malformed-key"]
    assert statements["status DELETE /v1/jobs/{job_id} 204"]["result"] == "not run"
    assert statements["status POST /v1/upload 500"]["not_checkable"]
    assert outcome.report["traceability"]["summary"]["statements"] == len(contract.mappings)
