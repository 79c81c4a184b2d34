from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_documents import TRANSCRIPT, job
from voxcontract.api import JobRecord, completed_transcript, operation_table
from voxcontract.errors import JobNotCompleted
from voxcontract.spec import iter_operations, load_spec


def test_the_table_has_one_handler_for_every_operation_of_the_contract() -> None:
    backend: Any = object()  # the table only binds it
    table = operation_table(backend)
    documented = {operation.operation_id for operation in iter_operations(load_spec()) if operation.operation_id}
    assert set(table) == documented


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (job(status="queued"), "Job job_1 is queued; poll /v1/status/job_1 until it is completed."),
        (job(status="failed"), "Job job_1 failed; it has no transcript"),
    ],
)
def test_a_transcript_before_completion_is_a_409(record: JobRecord, message: str) -> None:
    with pytest.raises(JobNotCompleted, match=message.split(";")[0]):
        completed_transcript(record)


def test_a_completed_jobs_transcript() -> None:
    assert completed_transcript(job(status="completed", transcript=TRANSCRIPT)) is TRANSCRIPT
