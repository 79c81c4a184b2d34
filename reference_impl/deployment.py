"""One deployment's shared state, opened from its settings: the database, the stores, the media store.

``serve``, every ``worker`` and ``voxcontract keys`` open the same deployment (the same database, queue and media);
each process opens it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from reference_impl.db import create_schema, make_engine, make_sessions
from reference_impl.keys import KeyRing
from reference_impl.media_store import MediaStore
from reference_impl.media_store.local import LocalMediaStore
from reference_impl.settings import ReferenceSettings
from reference_impl.store import JobStore
from voxcontract.errors import ConfigError

__all__ = ["Deployment", "open_database", "open_deployment", "open_media_store"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Deployment:
    settings: ReferenceSettings
    database: Engine
    store: JobStore
    keys: KeyRing
    media: MediaStore

    def close(self) -> None:
        self.media.close()
        self.database.dispose()


def open_media_store(settings: ReferenceSettings) -> MediaStore:
    """The store ``settings.media_url`` names: an S3 bucket for ``s3://``, else the data dir's media directory."""
    if settings.media_url:
        from reference_impl.media_store.s3 import S3MediaStore  # boto3: the s3 extra

        return S3MediaStore.from_url(settings.media_url)
    return LocalMediaStore(settings.media_path)


def open_deployment(settings: ReferenceSettings) -> Deployment:
    """Create the data directory and the tables if needed, and open the stores."""
    try:
        settings.data_path.mkdir(parents=True, exist_ok=True)
        media = open_media_store(settings)
    except OSError as exc:
        raise ConfigError(f"cannot use the data directory {settings.data_path}: {exc.strerror or exc}") from exc
    database = open_database(settings)
    sessions = make_sessions(database)
    store = JobStore.for_settings(sessions, settings)
    logger.debug("deployment opened: %s", settings.data_path)
    return Deployment(settings=settings, database=database, store=store, keys=KeyRing(sessions), media=media)


def open_database(settings: ReferenceSettings) -> Engine:
    """The deployment's database alone, its tables created if needed (``voxcontract keys`` needs nothing else: an
    admin host need not reach the media bucket)."""
    if settings.database_url is None:  # SQLite in the data dir
        try:
            settings.data_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot use the data directory {settings.data_path}: {exc.strerror or exc}") from exc
    database = make_engine(settings.effective_database_url)
    create_schema(database)
    return database
