"""Media in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, Ceph RGW, R2...): ``media_url = s3://bucket/prefix``.

The client is boto3, AWS's own SDK: it reads the endpoint (``AWS_ENDPOINT_URL``), region and credentials from the
standard variables and files (and instance roles), retries what S3 says is transient, and is what every S3-compatible
server tests against. It is synchronous, so the servers call it in worker threads.

- **Writing** (an upload, a URL download): a multipart upload to ``<prefix>/.incoming/<random>``, one part of
  :data:`PART_BYTES` at a time, so at most one part is in memory whatever the upload's size; an upload smaller than a
  part is one ``PUT``. Until it completes, a multipart upload is no object: a refused or interrupted upload is aborted
  and leaves nothing. What a killed process leaves (an upload neither completed nor aborted, an incoming object not
  kept) is swept once it is older than :data:`STALE_INCOMING_SECONDS` (set the bucket's lifecycle rule
  ``AbortIncompleteMultipartUpload`` as well: S3 then cleans up even when no worker runs).
- **Keeping**: a server-side copy to ``<prefix>/<random><suffix>``, then the incoming object is deleted (S3 has no
  rename); only kept objects are media a job can read.
- **Reading**: a seekable stream over ranged ``GET`` requests of :data:`READ_BLOCK_BYTES`, buffered one block at a
  time: the decoder reads the media piece by piece (see :mod:`reference_impl.audio`), never the whole object.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import anyio
import anyio.to_thread

from reference_impl.media_store import MediaUnavailable
from voxcontract.errors import ConfigError, ProblemError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedMultipartUploadTypeDef, CompletedPartTypeDef

__all__ = [
    "PART_BYTES",
    "READ_BLOCK_BYTES",
    "STALE_INCOMING_SECONDS",
    "S3MediaStore",
    "client_from_environment",
    "split_s3_url",
]

logger = logging.getLogger(__name__)

#: The size of each part of a multipart upload, give or take one received chunk (S3: at least 5 MiB but the last, at
#: most 10,000 parts: 50 GB); what an upload in progress holds in memory.
PART_BYTES = 5 * 1024 * 1024
#: The size of each ranged read: the read buffer of a worker's media stream.
READ_BLOCK_BYTES = 1024 * 1024
#: Incoming objects and multipart uploads older than this were left by a process that died (no upload takes a day).
STALE_INCOMING_SECONDS = 24 * 3600.0
_INCOMING = ".incoming/"
_READ_ATTEMPTS = 3
_POOL_CONNECTIONS = 40
#: S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})

T = TypeVar("T")


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix/")`` (the prefix empty or ending with ``/``).

    :raises ConfigError: not an ``s3://`` URL with a valid bucket name.
    """
    scheme, _, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not _BUCKET.fullmatch(bucket):
        raise ConfigError(f"media_url must be s3://bucket/prefix with a valid S3 bucket name, not {url!r}")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3MediaStore:
    """The media of one deployment under ``s3://bucket/prefix``: a :class:`reference_impl.media_store.MediaStore`."""

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.incoming_prefix = prefix + _INCOMING

    @classmethod
    def from_url(cls, url: str) -> S3MediaStore:
        """The store at ``url``, with a client configured from the standard AWS environment; the bucket must exist.

        :raises ConfigError: boto3 is not installed, or the bucket cannot be used (missing, no credentials, refused).
        """
        bucket, prefix = split_s3_url(url)
        store = cls(client_from_environment(), bucket, prefix)
        try:
            store.client.head_bucket(Bucket=bucket)
        except Exception as exc:
            raise ConfigError(f"cannot use the media bucket {bucket!r} ({_describe(exc)})") from exc
        return store

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _key(self, location: str) -> str | None:
        """The key of a location in this store's prefix, else ``None``."""
        key = location.removeprefix(f"s3://{self.bucket}/")
        return key if key != location and key.startswith(self.prefix) and ".." not in key.split("/") else None

    # --- writing -----------------------------------------------------------------------------------------------

    def begin(self) -> _MultipartWriter:
        return _MultipartWriter(self, self.incoming_prefix + secrets.token_hex(16))

    async def keep(self, incoming: str, suffix: str = "") -> str:
        """Copy a finished incoming object to its final name (server-side), then delete the incoming one."""
        source = self._key(incoming)
        if source is None or not source.startswith(self.incoming_prefix):
            raise ValueError(f"not an incoming object of this store: {incoming}")
        final = self.prefix + secrets.token_hex(16) + suffix
        with s3_errors("nothing was kept"):
            await _in_thread(self._copy, source, final)
        with contextlib.suppress(ProblemError), s3_errors("the incoming copy stays until the next sweep"):
            await _in_thread(self.client.delete_object, Bucket=self.bucket, Key=source)
        return self.location(final)

    def _copy(self, source: str, target: str) -> None:
        # boto3's managed copy: one CopyObject for a small object, a multipart copy (UploadPartCopy) for a large one
        # (CopyObject stops at 5 GB)
        self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target)

    # --- reading -----------------------------------------------------------------------------------------------

    def exists(self, location: str) -> bool:
        key = self._key(location)
        return key is not None and self._size(key) is not None

    def _size(self, key: str) -> int | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except Exception as exc:
            if _error_code(exc) in _MISSING:
                return None
            if _is_s3_error(exc):
                detail = f"The media store cannot be read now ({_error_code(exc)}). Retry later."
                raise MediaUnavailable(detail) from exc
            raise

    @contextlib.contextmanager
    def open(self, location: str) -> Iterator[BinaryIO]:
        """The object as a seekable stream of ranged reads (``FileNotFoundError`` when it is gone)."""
        key = self._key(location)
        size = None if key is None else self._size(key)
        if key is None or size is None:
            raise FileNotFoundError(location)
        with io.BufferedReader(_RangeReader(self.client, self.bucket, key, size), READ_BLOCK_BYTES) as stream:
            yield stream

    # --- deleting ----------------------------------------------------------------------------------------------

    def remove(self, location: str) -> None:
        key = self._key(location)
        if key is None:
            logger.warning(
                "refusing to delete %s: not in the media store s3://%s/%s", location, self.bucket, self.prefix
            )
            return
        with s3_errors("nothing was deleted"):
            self.client.delete_object(Bucket=self.bucket, Key=key)  # deleting a missing key succeeds

    def discard(self, location: str) -> None:
        try:
            self.remove(location)
        except ProblemError:
            logger.warning("could not delete %s now; the incoming sweep will", location)

    def sweep_incoming(self, older_than: float = STALE_INCOMING_SECONDS) -> int:
        """Abort the multipart uploads and delete the incoming objects older than ``older_than`` seconds."""
        cutoff = datetime.fromtimestamp(time.time() - older_than, UTC)
        try:
            removed = self._abort_stale_uploads(cutoff) + self._delete_stale_objects(cutoff)
        except Exception as exc:
            logger.warning("sweeping s3://%s/%s: %s", self.bucket, self.incoming_prefix, _describe(exc))
            return 0
        if removed:
            logger.info("swept %d incoming upload(s) left by stopped processes", removed)
        return removed

    def _abort_stale_uploads(self, cutoff: datetime) -> int:
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self.incoming_prefix
        )
        stale = [upload for page in pages for upload in page.get("Uploads", []) if upload["Initiated"] < cutoff]
        for upload in stale:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return len(stale)

    def _delete_stale_objects(self, cutoff: datetime) -> int:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.incoming_prefix)
        stale = [item["Key"] for page in pages for item in page.get("Contents", []) if item["LastModified"] < cutoff]
        for key in stale:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return len(stale)

    # --- the process -------------------------------------------------------------------------------------------

    def close(self) -> None:
        self.client.close()


class _MultipartWriter:
    """An incoming object being written: parts of :data:`PART_BYTES` as they fill, one ``PUT`` if it stays small."""

    def __init__(self, store: S3MediaStore, key: str) -> None:
        self.store = store
        self.key = key
        self.size = 0
        self._pending = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._finished = False

    async def write(self, chunk: bytes) -> None:
        self._pending += chunk
        self.size += len(chunk)
        if len(self._pending) >= PART_BYTES:  # a part is PART_BYTES plus at most one chunk: never copied
            part, self._pending = self._pending, bytearray()
            await self._send_part(part)

    async def _send_part(self, data: bytearray) -> None:
        client, bucket = self.store.client, self.store.bucket
        with s3_errors("nothing was kept"):
            if self._upload_id is None:
                started = await _in_thread(client.create_multipart_upload, Bucket=bucket, Key=self.key)
                self._upload_id = started["UploadId"]
            number = len(self._parts) + 1
            target = {"Bucket": bucket, "Key": self.key, "UploadId": self._upload_id}
            sent = await _in_thread(client.upload_part, **target, PartNumber=number, Body=_body(data))
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    async def finish(self) -> str:
        client, bucket = self.store.client, self.store.bucket
        if self._upload_id is None:
            body = self._pending
            with s3_errors("nothing was kept"):
                await _in_thread(client.put_object, Bucket=bucket, Key=self.key, Body=_body(body))
        else:
            if self._pending:
                await self._send_part(self._pending)
            parts: CompletedMultipartUploadTypeDef = {"Parts": self._parts}
            with s3_errors("nothing was kept"):
                target = {"Bucket": bucket, "Key": self.key, "UploadId": self._upload_id}
                await _in_thread(client.complete_multipart_upload, **target, MultipartUpload=parts)
        self._pending.clear()
        self._finished = True
        return self.store.location(self.key)

    async def abort(self) -> None:
        """Abort the multipart upload (its parts are freed), or delete the object if it may exist."""
        self._pending.clear()
        with anyio.CancelScope(shield=True):
            try:
                await _in_thread(self._abort)
            except Exception as exc:
                logger.warning("could not abort the upload of %s now (%s); the sweep will", self.key, _describe(exc))

    def _abort(self) -> None:
        client, bucket = self.store.client, self.store.bucket
        if self._upload_id is not None and not self._finished:
            client.abort_multipart_upload(Bucket=bucket, Key=self.key, UploadId=self._upload_id)
        else:  # finished, or a single PUT that may have landed though its answer was lost: no key is fine too
            client.delete_object(Bucket=bucket, Key=self.key)


class _RangeReader(io.RawIOBase):
    """An object read by ranged ``GET`` requests as the reader asks: seekable, bounded by what is asked."""

    def __init__(self, client: S3Client, bucket: str, key: str, size: int) -> None:
        super().__init__()
        self.client, self.bucket, self.key, self.size = client, bucket, key, size
        self.name = key.rsplit("/", 1)[-1]
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self.position = base + offset
        return self.position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self.size - self.position)
        if wanted <= 0:
            return 0
        data = self._range(self.position, self.position + wanted - 1)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def _range(self, first: int, last: int) -> bytes:
        for attempt in range(1, _READ_ATTEMPTS + 1):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={first}-{last}")
                return answer["Body"].read()
            except Exception as exc:  # a connection lost mid-body is not retried by botocore itself
                if _error_code(exc) in _MISSING:
                    raise FileNotFoundError(f"s3://{self.bucket}/{self.key} was deleted while it was read") from exc
                if attempt == _READ_ATTEMPTS:
                    logger.error("reading s3://%s/%s: %s", self.bucket, self.key, _describe(exc))
                    raise MediaUnavailable("The media store cannot be read now. Retry later.") from exc
                logger.info("reading %s again after %s", self.key, _describe(exc))
        raise AssertionError("unreachable")


@contextlib.contextmanager
def s3_errors(action: str) -> Iterator[None]:
    """The bucket refusing or unreachable is the server's trouble, not the client's: :class:`MediaUnavailable`, a
    ``503 service_unavailable`` (with ``Retry-After``), after botocore's own retries; ``action`` ends the detail."""
    try:
        yield
    except ProblemError:
        raise
    except Exception as exc:
        if not _is_s3_error(exc):
            raise
        logger.error("media store: %s", _describe(exc))
        raise MediaUnavailable(
            f"The media store cannot be used now ({_error_code(exc)}); {action}. Retry later."
        ) from exc


def _is_s3_error(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "error"))
    return type(exc).__name__


def _describe(exc: BaseException) -> str:
    return f"{_error_code(exc)}: {exc}"


def client_from_environment() -> S3Client:
    """An S3 client from the standard AWS variables, files and roles; path-style addressing for a custom endpoint
    (an S3-compatible server is usually addressed by host and port, where bucket subdomains do not resolve)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ConfigError("an s3:// media_url needs the s3 extra: pip install 'voxcontract[s3]'") from None
    custom = bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        # as many connections as the threads that call the client at once (anyio's default limiter)
        max_pool_connections=_POOL_CONNECTIONS,
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path" if custom else "auto"},
    )
    # botocore reads the region from AWS_DEFAULT_REGION only; AWS_REGION is the name the other AWS SDKs and the CLI
    # v2 read: both work here, AWS_REGION first.
    return boto3.session.Session().client("s3", region_name=os.environ.get("AWS_REGION") or None, config=config)


def _body(data: bytearray) -> bytes:
    """A part's bytes as the request body, not copied: botocore sends (and checksums) a bytearray as it does bytes;
    the stubs only say bytes."""
    return cast(bytes, data)


async def _in_thread(call: Callable[..., T], *arguments: Any, **keywords: Any) -> T:
    """``call(*arguments, **keywords)`` in a worker thread: boto3 blocks."""
    return await anyio.to_thread.run_sync(functools.partial(call, *arguments, **keywords))
