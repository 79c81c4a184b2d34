"""Other backends by configuration only: the job queue in Redis (``queue_url``), the tables in PostgreSQL
(``database_url``). Real servers (Debian's redis-server and PostgreSQL, started by the fixtures on free ports) behind a
real reference server that transcribes through them. (The store's own tests run on PostgreSQL too.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from huey import RedisHuey, SqliteHuey

from reference_impl.queue import JobQueue, make_huey
from reference_impl.settings import ReferenceSettings
from tests.reference_impl.postgres import PostgresServer
from tests.reference_impl.support import KEY_A, serve_reference, transcribe
from voxcontract.auth import key_fingerprint
from voxcontract.errors import ConfigError

HELLO = Path("mockserver/fixtures/hello.wav")


def test_the_queue_is_sqlite_by_default_and_redis_by_url(tmp_path: Path, redis_url: str) -> None:
    assert isinstance(make_huey(ReferenceSettings(data_dir=str(tmp_path))), SqliteHuey)
    huey = make_huey(ReferenceSettings(data_dir=str(tmp_path), queue_url=redis_url))
    assert isinstance(huey, RedisHuey)
    queue = JobQueue(huey)
    huey.flush()
    assert queue.announce("job_a")
    assert queue.pending() == 1
    huey.flush()


def test_a_job_runs_through_a_redis_queue(tmp_path: Path, redis_url: str) -> None:
    with serve_reference(tmp_path, queue_url=redis_url) as server, server.client() as client:
        job = transcribe(client, HELLO)
    assert job["status"] == "completed", job
    assert "welcome" in job["transcript"].lower()


def test_other_queue_urls_are_refused() -> None:
    with pytest.raises(ConfigError, match="redis://"):
        ReferenceSettings(queue_url="amqp://broker")


def test_a_job_runs_on_postgresql_and_redis(tmp_path: Path, redis_url: str, postgres: PostgresServer) -> None:
    database_url = postgres.new_database()
    with serve_reference(tmp_path, queue_url=redis_url, database_url=database_url) as server:
        with server.client() as client:
            job = transcribe(client, HELLO)
        assert job["status"] == "completed", job
        deployment = server.app.deployment
        assert deployment.database.url.get_backend_name() == "postgresql"
        stored = deployment.store.get_job(key_fingerprint(KEY_A), job["job_id"])
        assert stored is not None
        assert stored.status == "completed"
    assert not (tmp_path / "voxcontract.db").exists()
    assert not (tmp_path / "queue.db").exists()
