"""``Prefer: code=`` and ``Prefer: example=`` for every documented status and example of every operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.mockserver.support import DOCUMENT, Harness, auth
from voxcontract.spec import Operation, deref, iter_operations

SAMPLE_PATHS = {"file_id": "file_8Yq2Lw5ZtB3nK7cD", "job_id": "job_3kTq9WmZpL2vX8aB"}
BODIES: dict[str, Any] = {
    "uploadFile": {"url": "https://media.example.com/a.mp3"},
    "startTranscription": {"file_id": "file_8Yq2Lw5ZtB3nK7cD"},
}


def _path(operation: Operation) -> str:
    path = operation.path
    for name, value in SAMPLE_PATHS.items():
        path = path.replace(f"{{{name}}}", value)
    return path


def _statuses() -> Iterator[Any]:
    for operation in iter_operations(DOCUMENT):
        for status in operation.definition["responses"]:
            yield pytest.param(operation, int(status), id=f"{operation.operation_id}-{status}")


def _examples() -> Iterator[Any]:
    for operation in iter_operations(DOCUMENT):
        for status, raw in operation.definition["responses"].items():
            for media_type, content in deref(DOCUMENT, raw).get("content", {}).items():
                for name, example in content.get("examples", {}).items():
                    value = deref(DOCUMENT, example)["value"]
                    yield pytest.param(
                        operation, int(status), media_type, name, value, id=f"{operation.operation_id}-{name}"
                    )


def send(vox: Harness, operation: Operation, prefer: str) -> Any:
    body = BODIES.get(str(operation.operation_id))
    return vox.client.request(operation.method.upper(), _path(operation), headers=auth(Prefer=prefer), json=body)


@pytest.mark.parametrize(("operation", "status"), list(_statuses()))
def test_every_documented_status_on_demand(vox: Harness, operation: Operation, status: int) -> None:
    if status >= 500:
        vox.expect_server_error()

    response = send(vox, operation, f"code={status}")

    assert response.status_code == status, response.text
    assert response.headers["preference-applied"] == f"code={status}"
    if status >= 400:
        problem = response.json()
        assert problem["status"] == status
        assert problem["request_id"] == response.headers["x-request-id"]
        assert problem["instance"] == _path(operation)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if status == 429:
        assert response.headers["retry-after"] == "1"
        if operation.security(DOCUMENT):
            assert response.headers["ratelimit"].endswith(";r=0;t=1")
    assert vox.state.files == {}
    assert vox.state.jobs == {}


@pytest.mark.parametrize(("operation", "status", "media_type", "name", "value"), list(_examples()))
def test_every_named_example_on_demand(
    vox: Harness, operation: Operation, status: int, media_type: str, name: str, value: Any
) -> None:
    if status >= 500:
        vox.expect_server_error()

    response = send(vox, operation, f"example={name}")

    assert response.status_code == status
    assert response.headers["content-type"].split(";")[0] == media_type
    if isinstance(value, str):
        assert response.text == value
    elif status < 400:
        assert response.json() == value


def test_code_and_example_together_pick_within_the_status(vox: Harness) -> None:
    operation = next(op for op in iter_operations(DOCUMENT) if op.operation_id == "startTranscription")

    response = send(vox, operation, "code=409, example=idempotencyKeyReused")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"


def test_status_example_carries_a_poll_hint(vox: Harness) -> None:
    queued = vox.status("job_3kTq9WmZpL2vX8aB", Prefer="example=queued")
    completed = vox.status("job_3kTq9WmZpL2vX8aB", Prefer='example="completed"')

    assert queued.headers["retry-after"] == "1"
    assert "retry-after" not in completed.headers
    assert completed.json()["status"] == "completed"


def test_undocumented_code_is_ignored(vox: Harness) -> None:
    response = vox.client.get("/v1/jobs", headers=auth(Prefer="code=418"))

    assert response.status_code == 200
    assert "preference-applied" not in response.headers


def test_unknown_example_is_400(vox: Harness) -> None:
    response = vox.status("job_3kTq9WmZpL2vX8aB", Prefer="example=nope")

    assert response.status_code == 400
    assert "queued" in response.json()["detail"]


def test_prefer_still_needs_a_valid_key(vox: Harness) -> None:
    response = vox.client.get("/v1/jobs", headers={"Prefer": "code=200"})

    assert response.status_code == 401
