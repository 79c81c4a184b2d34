"""What ``voxcontract serve``, ``worker`` and ``keys`` do, below the command line's flag parsing and printing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from reference_impl.app import ReferenceApp, create_app
from reference_impl.db import ApiKey, make_sessions
from reference_impl.deployment import Deployment, open_database, open_deployment
from reference_impl.keys import KeyRing
from reference_impl.pipeline import build_pipeline
from reference_impl.settings import ReferenceSettings
from reference_impl.worker import WorkerRuntime

__all__ = ["ServerStart", "create_key", "list_keys", "prepare_server", "revoke_key", "run_worker"]

logger = logging.getLogger(__name__)

FIRST_KEY_NAME = "default"
CONFIGURED_KEY_NAME = "configured"


@dataclass(frozen=True, slots=True)
class ServerStart:
    """A server ready to run, the model it loaded, and the key made on its first start (shown once, stored nowhere
    in plain)."""

    app: ReferenceApp
    new_key: str | None
    model: str


def prepare_server(settings: ReferenceSettings) -> ServerStart:
    """The app for ``serve``: configured keys imported (hashed), and a first key made when there is none."""
    app = create_app(settings)
    keys = app.deployment.keys
    for token in settings.api_keys:
        keys.ensure(token, CONFIGURED_KEY_NAME)
    new_key = None
    if keys.active_count() == 0:
        new_key, _ = keys.create(FIRST_KEY_NAME)
        logger.info("no API key yet: created key %r", FIRST_KEY_NAME)
    return ServerStart(app=app, new_key=new_key, model=_model_description(app))


def _model_description(app: ReferenceApp) -> str:
    """``<model path> (<device>, <compute type>)``, as the banner shows it."""
    engine = app.runtime.runner.pipeline.transcriber
    return f"{engine.model_path} ({engine.device}, {engine.compute_type})"


def run_worker(settings: ReferenceSettings) -> None:
    """``voxcontract worker``: consume jobs of the deployment at ``settings.data_dir`` until SIGINT/SIGTERM."""
    with _deployment(settings) as deployment:
        WorkerRuntime(deployment, build_pipeline(settings), workers=max(settings.workers, 1)).run_foreground()


@contextlib.contextmanager
def _deployment(settings: ReferenceSettings) -> Iterator[Deployment]:
    deployment = open_deployment(settings)
    try:
        yield deployment
    finally:
        deployment.close()


@contextlib.contextmanager
def _key_ring(settings: ReferenceSettings) -> Iterator[KeyRing]:
    """The deployment's keys: its database alone."""
    database = open_database(settings)
    try:
        yield KeyRing(make_sessions(database))
    finally:
        database.dispose()


def create_key(settings: ReferenceSettings, name: str) -> tuple[str, ApiKey]:
    with _key_ring(settings) as keys:
        return keys.create(name)


def list_keys(settings: ReferenceSettings) -> list[ApiKey]:
    with _key_ring(settings) as keys:
        return keys.list()


def revoke_key(settings: ReferenceSettings, key_id: str) -> bool:
    with _key_ring(settings) as keys:
        return keys.revoke(key_id)
