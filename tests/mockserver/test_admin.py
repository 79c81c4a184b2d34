"""The admin API under ``/__mock/``: reset, clock, journal, webhooks, scenarios, its own OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mockserver.admin import ADMIN_SPEC_PATH
from mockserver.scenarios import SCENARIOS
from tests.mockserver.support import Harness, auth
from voxcontract.spec import load_spec_file
from voxcontract.tools.lint import lint_document


def test_admin_document_is_served_and_lints_clean(vox: Harness) -> None:
    served = vox.client.get("/__mock/openapi.json").json()

    assert served["info"]["title"] == "VoxScriber mock server admin API"
    assert set(served["paths"]) >= {"/reset", "/clock", "/clock/advance", "/journal", "/webhooks"}
    document = load_spec_file(ADMIN_SPEC_PATH)
    errors = [f for f in lint_document(document) if f.rule.startswith("openapi")]
    assert errors == []


def test_admin_swagger_ui(vox: Harness) -> None:
    response = vox.client.get("/__mock/ui/")

    assert response.status_code == 200
    assert "swagger-ui" in response.text


def test_clock_reads_and_advances(vox: Harness) -> None:
    assert vox.client.get("/__mock/clock").json() == {"now": "2026-01-01T00:00:00Z", "mode": "manual"}

    assert vox.advance(90.25) == "2026-01-01T00:01:30.250Z"
    assert vox.advance(0) == "2026-01-01T00:01:30.250Z"
    assert vox.client.get("/__mock/clock").json()["now"] == "2026-01-01T00:01:30.250Z"


@pytest.mark.parametrize("body", [{"seconds": -1}, {"seconds": "1"}, {}, {"seconds": 1, "extra": 2}, {"seconds": 1e12}])
def test_clock_refuses_bad_advances(vox: Harness, body: dict[str, object]) -> None:
    response = vox.client.post("/__mock/clock/advance", json=body)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "content",
    [b'{"seconds": NaN}', b'{"seconds": Infinity}', b'{"seconds": ' + b"[" * 5000 + b"]" * 5000 + b"}", b"9" * 5001],
    ids=["NaN", "Infinity", "deep", "huge-number"],
)
def test_clock_refuses_hostile_bodies_with_a_problem(vox: Harness, content: bytes) -> None:
    response = vox.client.post("/__mock/clock/advance", content=content, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed_body"


def test_clock_cannot_pass_the_year_9000(vox: Harness) -> None:
    for _ in range(69):  # 2026 + 69 centuries
        vox.client.post("/__mock/clock/advance", json={"seconds": 3153600000})

    response = vox.client.post("/__mock/clock/advance", json={"seconds": 3153600000})
    assert response.status_code == 400
    assert vox.client.get("/__mock/clock").json()["now"] < "9000"


def test_real_clock_mode(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(clock="real", start_time="2030-05-06T07:08:09Z")

    clock = vox.client.get("/__mock/clock").json()

    assert clock["mode"] == "real"
    assert clock["now"].startswith("2030-05-06T07:08:")
    assert vox.advance(3600).startswith("2030-05-06T08:08:")


def test_journal_records_public_requests_in_order(vox: Harness) -> None:
    uploaded = vox.upload()
    vox.client.get("/v1/files/file_unknown0000", headers=auth())
    vox.client.get("/v1/jobs")  # 401
    vox.client.get("/v1/nowhere")
    vox.advance(5)
    vox.client.get("/v1/health")

    entries = vox.client.get("/__mock/journal").json()["requests"]

    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/v1/upload", 201),
        ("GET", "/v1/files/file_unknown0000", 404),
        ("GET", "/v1/jobs", 401),
        ("GET", "/v1/nowhere", 404),
        ("GET", "/v1/health", 200),
    ]
    assert entries[0]["request_id"] == uploaded.headers["x-request-id"]
    assert [e["at"] for e in entries] == ["2026-01-01T00:00:00Z"] * 4 + ["2026-01-01T00:00:05Z"]


def test_scenarios_are_listed_with_descriptions(vox: Harness) -> None:
    listed = vox.client.get("/__mock/scenarios").json()["scenarios"]

    assert [s["name"] for s in listed] == list(SCENARIOS)
    assert all(len(s["description"]) > 20 for s in listed)


def test_default_scenario_round_trip(vox: Harness) -> None:
    assert vox.client.get("/__mock/scenario").json() == {"scenario": None}
    assert vox.client.put("/__mock/scenario", json={"scenario": "slow"}).json() == {"scenario": "slow"}
    assert vox.client.get("/__mock/scenario").json() == {"scenario": "slow"}
    assert vox.client.put("/__mock/scenario", json={"scenario": None}).json() == {"scenario": None}


def test_default_scenario_from_settings_survives_reset(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(default_scenario="stuck")
    vox.client.put("/__mock/scenario", json={"scenario": None})

    vox.reset()

    assert vox.client.get("/__mock/scenario").json() == {"scenario": "stuck"}


def test_reset_forgets_everything(vox: Harness) -> None:
    file_id = vox.file_id()
    job_id = vox.job_id(file_id)
    vox.advance(100)

    vox.reset()

    assert vox.client.get("/__mock/clock").json()["now"] == "2026-01-01T00:00:00Z"
    assert vox.client.get("/__mock/journal").json() == {"requests": []}
    assert vox.status(job_id).status_code == 404
    assert vox.client.get(f"/v1/files/{file_id}", headers=auth()).status_code == 404
    assert vox.file_id() == file_id  # ids start over
    assert list(vox.state.media.root.iterdir()) == [vox.state.media.path(file_id)]


def test_reset_restores_the_rate_limit(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(rate_limit="2/minute")
    for _ in range(2):
        vox.client.get("/v1/jobs", headers=auth())
    assert vox.client.get("/v1/jobs", headers=auth()).status_code == 429

    vox.reset()

    assert vox.client.get("/v1/jobs", headers=auth()).status_code == 200


def test_admin_needs_no_key_and_is_not_rate_limited(make_vox: Callable[..., Harness]) -> None:
    vox = make_vox(rate_limit="1/minute")

    statuses = {vox.client.get("/__mock/clock").status_code for _ in range(5)}

    assert statuses == {200}
    assert "ratelimit" not in vox.client.get("/__mock/clock").headers


def test_admin_ids_do_not_shift_public_ids(make_vox: Callable[..., Harness]) -> None:
    quiet, chatty = make_vox(), make_vox()
    for _ in range(3):
        chatty.client.get("/__mock/clock")

    assert (
        quiet.client.get("/v1/health").headers["x-request-id"]
        == chatty.client.get("/v1/health").headers["x-request-id"]
    )
