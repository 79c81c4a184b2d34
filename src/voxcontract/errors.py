"""The exception tree of voxcontract. HTTP errors render themselves as RFC 9457 problems.

::

    VoxcontractError
    ├── SpecError                  the contract (or another document) cannot be read or resolved
    ├── ConfigError                a setting has an invalid value
    ├── WebhookVerificationError   a webhook's signature or timestamp does not verify (voxcontract.webhooks)
    └── ProblemError               an HTTP error answered as application/problem+json
        ├── BadRequest             400 invalid_request
        │   ├── MalformedBody      400 malformed_body
        │   ├── UnsupportedMedia   400 unsupported_media
        │   ├── MediaTooLong       400 media_too_long
        │   ├── UrlFetchFailed     400 url_fetch_failed
        │   └── UrlNotAllowed      400 url_not_allowed
        ├── Unauthorized           401 unauthorized (with WWW-Authenticate)
        ├── NotFound               404 not_found
        ├── JobNotCompleted        409 job_not_completed
        ├── IdempotencyKeyReused   409 idempotency_key_reused
        ├── FileInUse              409 file_in_use
        ├── PayloadTooLarge        413 payload_too_large
        ├── UnsupportedContentType 415 unsupported_content_type
        ├── LanguageNotSupported   422 language_not_supported
        ├── DiarizationUnavailable 422 diarization_unavailable
        ├── HeadersTooLarge        431 headers_too_large
        ├── TooManyRequests        429 rate_limited (with Retry-After)
        ├── InternalError          500 internal_error
        ├── ServiceUnavailable     503 service_unavailable (with Retry-After)
        └── InsufficientStorage    507 insufficient_storage

The ``code`` of every class is one of the contract's ``ErrorCode`` values (a test keeps them in step), and each
class is named after its code, not its status: a framework's own 409 or 422 is not one of these
(:mod:`voxcontract.problems` answers it ``invalid_request`` with its status).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE_BASE",
    "BadRequest",
    "ConfigError",
    "DiarizationUnavailable",
    "FileInUse",
    "HeadersTooLarge",
    "IdempotencyKeyReused",
    "InsufficientStorage",
    "InternalError",
    "JobNotCompleted",
    "LanguageNotSupported",
    "MalformedBody",
    "MediaTooLong",
    "NotFound",
    "PayloadTooLarge",
    "ProblemError",
    "ServiceUnavailable",
    "SpecError",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedContentType",
    "UnsupportedMedia",
    "UrlFetchFailed",
    "UrlNotAllowed",
    "VoxcontractError",
    "problem_document",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://api.voxscriber.com/problems/"


class VoxcontractError(Exception):
    """Base of every error voxcontract raises on purpose."""


class SpecError(VoxcontractError):
    """An OpenAPI document cannot be read, parsed or resolved."""


class ConfigError(VoxcontractError):
    """A setting has an invalid value."""


def problem_document(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None,
    request_id: str,
    errors: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """An RFC 9457 problem body as the contract's ``Problem`` schema describes it."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [dict(item) for item in errors]
    return body


class ProblemError(VoxcontractError):
    """An error answered to the client as ``application/problem+json``."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = tuple(errors)
        self.headers: dict[str, str] = dict(headers or {})

    def to_problem(self, *, instance: str | None, request_id: str) -> dict[str, Any]:
        return problem_document(
            status=self.status,
            code=self.code,
            title=self.title,
            detail=self.detail,
            instance=instance,
            request_id=request_id,
            errors=self.errors,
        )

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.detail}"


class BadRequest(ProblemError):
    status, code, title = 400, "invalid_request", "Invalid request"


class MalformedBody(BadRequest):
    code, title = "malformed_body", "Malformed body"


class UnsupportedMedia(BadRequest):
    code, title = "unsupported_media", "Unsupported media"


class MediaTooLong(BadRequest):
    code, title = "media_too_long", "Media too long"


class UrlFetchFailed(BadRequest):
    code, title = "url_fetch_failed", "URL fetch failed"


class UrlNotAllowed(BadRequest):
    code, title = "url_not_allowed", "URL not allowed"


class Unauthorized(ProblemError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str, *, error: str = "invalid_token", realm: str = "voxscriber") -> None:
        challenge = f'Bearer realm="{realm}"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class NotFound(ProblemError):
    status, code, title = 404, "not_found", "Not found"


class JobNotCompleted(ProblemError):
    status, code, title = 409, "job_not_completed", "Job not completed"


class IdempotencyKeyReused(ProblemError):
    status, code, title = 409, "idempotency_key_reused", "Idempotency key reused"


class FileInUse(ProblemError):
    status, code, title = 409, "file_in_use", "File in use"

    @classmethod
    def for_jobs(cls, file_id: str, job_ids: Sequence[str]) -> FileInUse:
        """The refusal to delete ``file_id`` while the queued or processing ``job_ids`` need it."""
        return cls(
            f"The file {file_id} is used by queued or processing jobs ({', '.join(job_ids)}); "
            "delete them or wait for them to end, then delete the file."
        )


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedContentType(ProblemError):
    status, code, title = 415, "unsupported_content_type", "Unsupported content type"


class LanguageNotSupported(ProblemError):
    status, code, title = 422, "language_not_supported", "Language not supported"


class DiarizationUnavailable(ProblemError):
    status, code, title = 422, "diarization_unavailable", "Diarization unavailable"


class HeadersTooLarge(ProblemError):
    status, code, title = 431, "headers_too_large", "Request header fields too large"


class TooManyRequests(ProblemError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail, headers={**(headers or {}), "Retry-After": str(max(0, retry_after))})
        self.retry_after = max(0, retry_after)


class InternalError(ProblemError):
    status, code, title = 500, "internal_error", "Internal server error"


class ServiceUnavailable(ProblemError):
    """The server cannot take the request now (its storage is not writable, say); safe to retry later."""

    status, code, title = 503, "service_unavailable", "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 30) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(0, retry_after))})
        self.retry_after = max(0, retry_after)


class InsufficientStorage(ProblemError):
    """The server's storage is full: the upload was not kept."""

    status, code, title = 507, "insufficient_storage", "Insufficient storage"
