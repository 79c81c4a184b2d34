"""The job queue in Redis by configuration only (``queue_url``): a real redis-server (Debian's, started here on a
free port) behind a real reference server that transcribes a job through it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from huey import RedisHuey, SqliteHuey

from reference_impl.queue import JobQueue, make_huey
from reference_impl.settings import ReferenceSettings
from tests.reference_impl.support import serve_reference, transcribe
from voxcontract.errors import ConfigError
from voxcontract.serving import free_port

HELLO = Path("mockserver/fixtures/hello.wav")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = shutil.which("redis-server")
    assert server, "redis-server is missing: run ./dev setup (it installs the Debian package)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    args = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert process.poll() is None, "redis-server exited"
                assert time.monotonic() < deadline, "redis-server did not answer"
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


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
