"""Issue 5's first acceptance point: the whole conformance suite passes against the reference server with the real
model (every group, Schemathesis' four phases included), over real HTTP, with a real local webhook receiver."""

from __future__ import annotations

import pytest

from tests.conformance.support import Outcome, run_conformance
from tests.reference_impl.support import KEY_A, KEY_B, serve_reference
from voxcontract.serving import free_port


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    listen = free_port()
    data_dir = tmp_path_factory.mktemp("reference-conformance")
    # The suite's receiver listens on 127.0.0.1: the server allows exactly that address and port (SSRF rules).
    overrides = {"rate_limit": "60/5 seconds", "url_allowlist": (f"127.0.0.1:{listen}",)}
    with serve_reference(data_dir, **overrides) as server:
        return run_conformance(
            server.url,
            *("--api-key", KEY_A, "--second-api-key", KEY_B, "--webhook-listen", f"127.0.0.1:{listen}"),
            report_dir=tmp_path_factory.mktemp("report"),
            keys=False,
        )


def test_the_reference_server_conforms(outcome: Outcome) -> None:
    assert outcome.exit_code == 0, outcome.output
    assert outcome.report is not None
    assert outcome.report["conformant"] is True
    statuses = {check_id: item["status"] for check_id, item in outcome.checks().items()}
    assert set(statuses.values()) == {"passed"}, statuses


def test_every_group_ran_against_it(outcome: Outcome) -> None:
    groups = {check_id.split("/", 1)[0] for check_id in outcome.checks()}
    assert groups == {"contract", "auth", "lifecycle", "data", "webhooks", "http", "errors", "rate-limit"}
    assert {"contract/examples", "contract/coverage", "contract/fuzzing", "contract/stateful"} <= set(outcome.checks())
