"""The reference server's settings: the core's, plus storage, engine, queue, outbound network and retention.

Every field can be set by a ``VOXCONTRACT_<FIELD>`` variable (``VOXCONTRACT_DATA_DIR=/srv/vox``,
``VOXCONTRACT_WEBHOOK_RETRY_SCHEDULE=5,30,120``) or by the ``voxcontract serve`` / ``worker`` flags; the defaults are
set only here. ``serve`` and every ``worker`` of a deployment share the database, the queue and the media: the data
dir on one machine, or PostgreSQL, Redis and an S3 bucket across hosts (``reference_impl/README.md``, Deployment).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from reference_impl.db import default_url
from reference_impl.media_store.s3 import split_s3_url
from reference_impl.net import NetworkPolicy
from voxcontract.errors import ConfigError
from voxcontract.settings import CoreSettings

__all__ = ["QUEUE_FILENAME", "ReferenceSettings"]

QUEUE_FILENAME = "queue.db"
_DEVICES = ("auto", "cpu", "cuda")
_QUEUE_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceSettings(CoreSettings):
    """Settings of the reference server and its workers (see ``reference_impl/README.md``)."""

    #: Database, media files, queue and assembled models live here.
    data_dir: str = "voxcontract-data"
    #: Any SQLAlchemy URL; empty: SQLite ``voxcontract.db`` in ``data_dir``.
    database_url: str | None = None
    #: Where media files live: empty for ``media/`` in ``data_dir``, or ``s3://bucket/prefix`` for an S3-compatible
    #: bucket (the ``s3`` extra) that nodes on any host share; its endpoint, region and credentials come from the
    #: standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ...). The bucket must exist.
    media_url: str | None = None
    #: Where the job queue lives: empty for SQLite ``queue.db`` in ``data_dir``, or ``redis://host:6379/0`` (the
    #: ``redis`` extra): workers then block on the queue instead of polling it, on any host.
    queue_url: str | None = None
    #: ``tiny.en`` (bundled), ``base`` (the multilingual extra), or a CTranslate2 Whisper directory.
    model: str = "tiny.en"
    device: str = "auto"
    #: ``auto``: int8 on CPU, float16 on CUDA; or any CTranslate2 compute type (int8_float16, float32, ...).
    compute_type: str = "auto"
    #: CPU threads per model (0: CTranslate2's default).
    cpu_threads: int = 0
    beam_size: int = 5
    vad_filter: bool = True
    #: Jobs the process transcribes at once (queue consumer threads); ``serve --workers 0`` only serves the API.
    workers: int = 1
    #: A worker owns a job for this long and renews the lease every third of it; a dead worker's job is taken
    #: up again when its lease expires (at once when it died on this host).
    lease_seconds: float = 30.0
    #: Claims before a job whose worker keeps dying fails with ``transcription_failed``.
    max_attempts: int = 3
    #: An attempt at a job stops and fails it with ``processing_timeout`` after job_deadline_factor * the media's
    #: duration + job_deadline_min_seconds. A backstop against runaway work, never a limit on slow jobs: tiny.en on
    #: 2 CPU cores transcribes 15-35x faster than real time (noise without VAD, Whisper's worst case, 5x), base 13x;
    #: 10x the duration leaves 50x headroom or more for a loaded machine and diarization, and the floor covers
    #: loading (or assembling) a model before a short file.
    job_deadline_factor: float = 10.0
    job_deadline_min_seconds: float = 300.0
    #: Jobs of one API key that run at once across all workers (0: no limit); its other jobs wait in the queue.
    #: Whatever the limit, workers take jobs fairly across keys.
    max_running_jobs_per_key: int = 4
    #: Seconds between maintenance rounds: recovering jobs, delivering due webhooks.
    poll_interval: float = 0.5
    #: Seconds between purges of expired files and jobs.
    purge_interval: float = 60.0
    #: Uploaded files are deleted this long after upload.
    file_ttl_seconds: int = 7 * 24 * 3600
    #: Ended jobs without ``retention.ttl_seconds`` are deleted this long after they end.
    job_ttl_seconds: int = 30 * 24 * 3600
    #: Seconds before webhook retries 1..n (each jittered by ±20 %); at most len + 1 attempts.
    webhook_retry_schedule: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 1800.0, 7200.0)
    #: Seconds a webhook receiver has to answer one attempt.
    webhook_timeout: float = 10.0
    #: Outbound requests (URL uploads, webhooks) may reach private, loopback and link-local addresses.
    #: Development only: this turns SSRF protection off.
    allow_private_urls: bool = False
    #: CIDRs or host[:port] that outbound requests may reach even though they are private ("10.1.2.0/24").
    url_allowlist: tuple[str, ...] = ()
    url_max_redirects: int = 5
    #: Seconds a URL upload may take in all.
    url_timeout: float = 300.0

    def __post_init__(self) -> None:
        # Explicit base call: zero-argument super() breaks in slotted dataclasses before Python 3.14.
        CoreSettings.__post_init__(self)
        if self.device not in _DEVICES:
            raise ConfigError(f"device must be one of {', '.join(_DEVICES)}, not {self.device!r}")
        for name in ("cpu_threads", "workers", "max_running_jobs_per_key"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0")
        if self.beam_size < 1 or self.max_attempts < 1:
            raise ConfigError("beam_size and max_attempts must be >= 1")
        if not (math.isfinite(self.job_deadline_factor) and self.job_deadline_factor >= 0):
            raise ConfigError(f"job_deadline_factor must be a finite number >= 0, not {self.job_deadline_factor}")
        for name in (
            "lease_seconds",
            "poll_interval",
            "purge_interval",
            "webhook_timeout",
            "url_timeout",
            "job_deadline_min_seconds",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number of seconds, not {value}")
        if min(self.file_ttl_seconds, self.job_ttl_seconds) <= 0:
            raise ConfigError("file_ttl_seconds and job_ttl_seconds must be positive")
        if self.queue_url and not self.queue_url.startswith(_QUEUE_SCHEMES):
            raise ConfigError(f"queue_url must be empty (SQLite) or a redis:// URL, not {self.queue_url!r}")
        if self.media_url:
            split_s3_url(self.media_url)
        if any(not (math.isfinite(delay) and delay >= 0) for delay in self.webhook_retry_schedule):
            raise ConfigError("webhook_retry_schedule must hold finite delays >= 0 (seconds)")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def media_path(self) -> Path:
        return self.data_path / "media"

    @property
    def queue_path(self) -> Path:
        return self.data_path / QUEUE_FILENAME

    @property
    def effective_database_url(self) -> str:
        return self.database_url or default_url(self.data_path)

    def network_policy(self, *, max_bytes: int | None = None) -> NetworkPolicy:
        """The SSRF rules and limits for URL uploads (``max_bytes``: the upload limit) and webhooks."""
        return NetworkPolicy(
            allow_private=self.allow_private_urls,
            allowlist=self.url_allowlist,
            max_redirects=self.url_max_redirects,
            total_timeout=self.url_timeout,
            max_bytes=max_bytes if max_bytes is not None else self.max_upload_bytes,
            ca_bundle=self.ca_bundle,
        )
