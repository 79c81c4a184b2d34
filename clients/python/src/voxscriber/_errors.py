"""The exception tree, keyed by the problem ``code`` of the contract's ``ErrorCode`` enum.

```
VoxScriberError
├── ConfigurationError          no API key, a malformed webhook secret
├── APIConnectionError          the request did not get an answer (wraps httpx.TransportError)
│   └── APITimeoutError
├── WebhookVerificationError    a webhook delivery whose signature or timestamp does not hold
├── WaitTimeout                 wait() ran past its timeout; carries job_id and the last Job (resume with it)
├── JobFailed                   the job ended failed; carries the Job and its error code
└── APIError                    a problem+json answer: status, code, title, detail, request_id, problem
    ├── BadRequest (400)        InvalidRequest, MalformedBody, UnsupportedMedia, MediaTooLong, UrlFetchFailed,
    │                           UrlNotAllowed
    ├── Unauthorized (401)
    ├── NotFound (404)
    ├── Conflict (409)          JobNotCompleted, IdempotencyKeyReused, FileInUse
    ├── PayloadTooLarge (413)
    ├── UnsupportedContentType (415)
    ├── UnprocessableEntity (422) LanguageNotSupported, DiarizationUnavailable
    ├── RateLimited (429)       retry_after
    ├── HeadersTooLarge (431)
    └── ServerError (5xx)       InternalError, ServiceUnavailable, InsufficientStorage
```

:func:`error_class` looks a code up; an answer with an unknown code falls back to its status's class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxscriber._models import Job

__all__ = [
    "ERROR_CLASSES",
    "JOB_ERROR_CODES",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "DiarizationUnavailable",
    "FileInUse",
    "HeadersTooLarge",
    "IdempotencyKeyReused",
    "InsufficientStorage",
    "InternalError",
    "InvalidRequest",
    "JobFailed",
    "JobNotCompleted",
    "LanguageNotSupported",
    "MalformedBody",
    "MediaTooLong",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnprocessableEntity",
    "UnsupportedContentType",
    "UnsupportedMedia",
    "UrlFetchFailed",
    "UrlNotAllowed",
    "VoxScriberError",
    "WaitTimeout",
    "WebhookVerificationError",
    "error_class",
]


class VoxScriberError(Exception):
    """The base of every error this package raises."""


class ConfigurationError(VoxScriberError):
    """The client cannot be used as configured (no API key, a malformed webhook secret)."""


class APIConnectionError(VoxScriberError):
    """The request got no answer: the connection failed or broke (after the allowed retries)."""


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, write, read or pool timeout)."""


class WebhookVerificationError(VoxScriberError):
    """A webhook delivery does not prove that VoxScriber sent this body (signature, timestamp or headers)."""


class WaitTimeout(VoxScriberError):
    """``wait()`` ran past its timeout while the job goes on: wait again on :attr:`job_id` to resume."""

    def __init__(self, job: Job, timeout: float) -> None:
        super().__init__(
            f"job {job.job_id} is still {job.status} after {timeout:g} s; it goes on: call wait({job.job_id!r}) "
            "to resume"
        )
        self.job = job
        self.job_id = job.job_id
        self.timeout = timeout


class JobFailed(VoxScriberError):
    """The job ended ``failed``; :attr:`code` is its error code (``transcription_failed``, ``processing_timeout``)."""

    def __init__(self, job: Job) -> None:
        code = job.error.code if job.error else "unknown"
        message = job.error.message if job.error else "no error was given"
        super().__init__(f"job {job.job_id} failed ({code}): {message}")
        self.job = job
        self.job_id = job.job_id
        self.code = code


class APIError(VoxScriberError):
    """An error answer of the API: an RFC 9457 problem with the contract's stable ``code``."""

    def __init__(
        self,
        status: int,
        problem: Mapping[str, Any],
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.problem = dict(problem)
        self.code: str | None = _text(problem.get("code"))
        self.title: str | None = _text(problem.get("title"))
        self.detail: str | None = _text(problem.get("detail"))
        self.request_id: str | None = _text(problem.get("request_id")) or request_id
        self.retry_after = retry_after
        summary = self.detail or self.title or "no problem document"
        super().__init__(f"{status} {self.code or 'error'}: {summary} (request id {self.request_id or 'unknown'})")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class BadRequest(APIError):
    """400: the request is malformed or invalid, or its media cannot be used."""


class InvalidRequest(BadRequest):
    """``invalid_request``: the request failed validation (a parameter, the body, a header)."""


class MalformedBody(BadRequest):
    """``malformed_body``: the body cannot be parsed."""


class UnsupportedMedia(BadRequest):
    """``unsupported_media``: the media cannot be decoded or is not audio or video."""


class MediaTooLong(BadRequest):
    """``media_too_long``: the media lasts longer than the deployment transcribes."""


class UrlFetchFailed(BadRequest):
    """``url_fetch_failed``: the server could not fetch the media URL."""


class UrlNotAllowed(BadRequest):
    """``url_not_allowed``: the URL (or a redirect) points at a refused address or scheme."""


class Unauthorized(APIError):
    """401 ``unauthorized``: the API key is missing, malformed or unknown."""


class NotFound(APIError):
    """404 ``not_found``: no such resource for this API key."""


class Conflict(APIError):
    """409: the request conflicts with the resource's state."""


class JobNotCompleted(Conflict):
    """``job_not_completed``: the job has no transcript (yet, or ever: it failed)."""


class IdempotencyKeyReused(Conflict):
    """``idempotency_key_reused``: the Idempotency-Key was used before with another body."""


class FileInUse(Conflict):
    """``file_in_use``: a queued or processing job still needs the file."""


class PayloadTooLarge(APIError):
    """413 ``payload_too_large``: the upload exceeds the size limit."""


class UnsupportedContentType(APIError):
    """415 ``unsupported_content_type``: the request's Content-Type is not accepted."""


class UnprocessableEntity(APIError):
    """422: well-formed, but this deployment cannot serve it."""


class LanguageNotSupported(UnprocessableEntity):
    """``language_not_supported``: the deployment's model does not know the language."""


class DiarizationUnavailable(UnprocessableEntity):
    """``diarization_unavailable``: speaker diarization is not enabled on this deployment."""


class RateLimited(APIError):
    """429 ``rate_limited``: retry after :attr:`retry_after` seconds."""


class HeadersTooLarge(APIError):
    """431 ``headers_too_large``: the request's header fields exceed the limits."""


class ServerError(APIError):
    """5xx: the server failed or cannot take the request now."""


class InternalError(ServerError):
    """500 ``internal_error``: an unexpected server error."""


class ServiceUnavailable(ServerError):
    """503 ``service_unavailable``: retry after :attr:`retry_after` seconds."""


class InsufficientStorage(ServerError):
    """507 ``insufficient_storage``: the server's storage is full."""


#: Every HTTP error code of the contract's ``ErrorCode`` enum → its exception class.
ERROR_CLASSES: Mapping[str, type[APIError]] = {
    "invalid_request": InvalidRequest,
    "malformed_body": MalformedBody,
    "unsupported_media": UnsupportedMedia,
    "media_too_long": MediaTooLong,
    "url_fetch_failed": UrlFetchFailed,
    "url_not_allowed": UrlNotAllowed,
    "unauthorized": Unauthorized,
    "not_found": NotFound,
    "job_not_completed": JobNotCompleted,
    "idempotency_key_reused": IdempotencyKeyReused,
    "file_in_use": FileInUse,
    "payload_too_large": PayloadTooLarge,
    "unsupported_content_type": UnsupportedContentType,
    "language_not_supported": LanguageNotSupported,
    "diarization_unavailable": DiarizationUnavailable,
    "headers_too_large": HeadersTooLarge,
    "rate_limited": RateLimited,
    "internal_error": InternalError,
    "service_unavailable": ServiceUnavailable,
    "insufficient_storage": InsufficientStorage,
}

#: The codes of the enum that only a failed job carries (``JobFailed.code``), never an HTTP answer.
JOB_ERROR_CODES = frozenset({"transcription_failed", "processing_timeout"})

_STATUS_CLASSES: Mapping[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedContentType,
    422: UnprocessableEntity,
    429: RateLimited,
    431: HeadersTooLarge,
    500: InternalError,
    503: ServiceUnavailable,
    507: InsufficientStorage,
}


def error_class(status: int, code: str | None) -> type[APIError]:
    """The class of an error answer: by its code, else by its status (an unknown code, a proxy's answer)."""
    if code is not None and code in ERROR_CLASSES:
        return ERROR_CLASSES[code]
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    return ServerError if status >= 500 else APIError
