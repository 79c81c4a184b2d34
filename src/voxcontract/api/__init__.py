"""The contract's operations, implemented once: handlers over a typed :class:`Backend` (the mock and the reference
server each implement it)."""

from voxcontract.api.backend import (
    Backend,
    CursorPosition,
    FileRecord,
    Idempotency,
    JobError,
    JobPage,
    JobQuery,
    JobRecord,
    JobRequest,
    JobStatus,
    Upload,
    not_found,
)
from voxcontract.api.documents import file_document, job_document, rfc3339
from voxcontract.api.handlers import (
    Answer,
    ContractOperations,
    Handler,
    completed_transcript,
    file_created,
    job_answer,
    operation_table,
)
from voxcontract.api.idempotency import request_fingerprint
from voxcontract.api.paging import decode_cursor, encode_cursor, invalid_cursor

__all__ = [
    "Answer",
    "Backend",
    "ContractOperations",
    "CursorPosition",
    "FileRecord",
    "Handler",
    "Idempotency",
    "JobError",
    "JobPage",
    "JobQuery",
    "JobRecord",
    "JobRequest",
    "JobStatus",
    "Upload",
    "completed_transcript",
    "decode_cursor",
    "encode_cursor",
    "file_created",
    "file_document",
    "invalid_cursor",
    "job_answer",
    "job_document",
    "not_found",
    "operation_table",
    "request_fingerprint",
    "rfc3339",
]
