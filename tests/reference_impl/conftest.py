"""Fixtures for the reference server's tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.reference_impl.postgres import PostgresServer
from tests.reference_impl.seaweedfs import SeaweedFS
from tests.reference_impl.support import RunningReference, serve_reference
from voxcontract.serving import free_port


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningReference]:
    """One reference server per test module (the model loads once per process anyway)."""
    with serve_reference(tmp_path_factory.mktemp("reference-data")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the session (started only when a test asks for it)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    """One throwaway SeaweedFS S3 server for the session (started only when a test asks for it)."""
    with SeaweedFS() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1 (Debian's, no persistence), for the session."""
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
