"""Example requests for every operation of the contract."""

from __future__ import annotations

import httpx

from conformance.samples import sample_request
from voxcontract.spec import iter_operations, load_spec

DOCUMENT = load_spec()


def test_every_operation_gets_a_request_from_its_examples() -> None:
    samples = {op.operation_id: sample_request(DOCUMENT, op) for op in iter_operations(DOCUMENT)}
    assert samples["getJobStatus"].path == "/v1/status/job_3kTq9WmZpL2vX8aB"
    assert samples["deleteFile"].label == "DELETE /v1/files/file_8Yq2Lw5ZtB3nK7cD"
    assert samples["uploadFile"].multipart
    assert samples["uploadFile"].json is None
    assert samples["startTranscription"].json == {"file_id": "file_8Yq2Lw5ZtB3nK7cD"}
    assert samples["listJobs"].params == {}  # optional parameters are left out
    assert all("{" not in sample.path for sample in samples.values())


def test_a_sample_is_built_with_exactly_the_given_authorization() -> None:
    upload = next(op for op in iter_operations(DOCUMENT) if op.operation_id == "uploadFile")
    with httpx.Client(base_url="http://api.test", headers={"Authorization": "Bearer default"}) as client:
        sample = sample_request(DOCUMENT, upload)
        none = sample.build(client, authorization=None, media=("a.wav", b"RIFF", "audio/wav"))
        basic = sample.build(client, authorization="Basic eA==", media=("a.wav", b"RIFF", "audio/wav"))
    assert "authorization" not in none.headers
    assert basic.headers["authorization"] == "Basic eA=="
    assert none.headers["content-type"].startswith("multipart/form-data")
