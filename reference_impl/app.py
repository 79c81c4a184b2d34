"""The reference server's app factory: the contract through the core's app factory, backed by a deployment.

::

    ReferenceApp (ContractApp: request id, Allow, Connexion with auth, rate limit, validation)
    ├── StreamingUploadMiddleware   multipart POST /v1/upload streamed to disk (before Connexion's validator)
    └── the core's handlers (voxcontract.api) over ReferenceBackend: the deployment (JobStore, KeyRing, MediaStore)

The lifespan starts this process's :class:`~reference_impl.worker.WorkerRuntime` (a Huey consumer with
``settings.workers`` job threads, and the maintenance round) and stops it on shutdown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread

from reference_impl.backend import ReferenceBackend
from reference_impl.deployment import Deployment, open_deployment
from reference_impl.pipeline import TranscriptionPipeline, build_pipeline
from reference_impl.settings import ReferenceSettings
from reference_impl.uploads import StreamingUploadMiddleware
from reference_impl.worker import WorkerRuntime
from voxcontract.api import operation_table
from voxcontract.asgi import ContractApp, create_contract_app
from voxcontract.ratelimit import RateLimiter
from voxcontract.spec import load_spec

__all__ = ["ReferenceApp", "create_app"]

logger = logging.getLogger(__name__)


class ReferenceApp:
    """The served ASGI app, with the deployment and runtime behind it for the CLI and tests."""

    def __init__(
        self, *, settings: ReferenceSettings, deployment: Deployment, runtime: WorkerRuntime, public: ContractApp
    ) -> None:
        self.settings = settings
        self.deployment = deployment
        self.runtime = runtime
        self.public = public
        self.connexion = public.connexion

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.public(scope, receive, send)


def create_app(
    settings: ReferenceSettings | None = None,
    *,
    deployment: Deployment | None = None,
    pipeline: TranscriptionPipeline | None = None,
) -> ReferenceApp:
    """A reference server over ``settings`` (default :meth:`ReferenceSettings.from_env`); tables are created."""
    settings = settings if settings is not None else ReferenceSettings.from_env()
    deployment = deployment or open_deployment(settings)
    pipeline = pipeline or build_pipeline(settings)
    runtime = WorkerRuntime(deployment, pipeline, workers=settings.workers)

    async def announce(job_id: str) -> None:
        await anyio.to_thread.run_sync(runtime.queue.announce, job_id)

    backend = ReferenceBackend(deployment, pipeline, announce)
    public = create_contract_app(
        settings=settings,
        operations=operation_table(backend).__getitem__,
        keys=deployment.keys,
        limiter=RateLimiter(settings.rate_limit, settings.rate_limit_storage),
        document=load_spec(),
        lifespan=_lifespan(runtime),
        middlewares=[(StreamingUploadMiddleware, {"backend": backend, "max_bytes": settings.max_upload_bytes})],
    )
    return ReferenceApp(settings=settings, deployment=deployment, runtime=runtime, public=public)


def _lifespan(runtime: WorkerRuntime) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(runtime.start)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(runtime.stop)

    return lifespan
