"""A throwaway PostgreSQL server for tests: Debian's binaries, a cluster in a temporary directory, 127.0.0.1 on a free
port, trust authentication, stopped at the end. Run as the ``postgres`` user when the tests run as root (PostgreSQL
refuses to run as root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg

from voxcontract.serving import free_port

STARTUP_SECONDS = 30.0


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "PostgreSQL is missing: run ./dev setup (it installs the Debian package postgresql)"
    return Path(found[-1]).parent


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PostgresServer:
    """One cluster; :meth:`new_database` gives each test its own database."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        # Not under pytest's temporary directory: that one is private to the user running the tests (0700), and
        # the server may run as another user (postgres).
        self.root = Path(tempfile.mkdtemp(prefix="voxcontract-postgres-"))
        #: The address it listens on (clients on that address's subnet are trusted too: other network namespaces).
        self.host = host
        self.port = free_port(host)
        self.data = self.root / "data"
        self._process: subprocess.Popen[bytes] | None = None
        self._databases = 0

    @property
    def admin_dsn(self) -> str:
        return f"host={self.host} port={self.port} user=postgres dbname=postgres"

    def start(self) -> Self:
        binaries = _binaries()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        initdb = [str(binaries / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        subprocess.run(_as_postgres(initdb), check=True, capture_output=True)
        with (self.data / "pg_hba.conf").open("a") as rules:
            rules.write("host all all samenet trust\n")  # initdb trusts loopback only; samenet: the host's subnets
        server = [str(binaries / "postgres"), "-D", str(self.data), "-h", self.host, "-p", str(self.port)]
        server += ["-k", str(self.root), "-c", "fsync=off", "-c", "full_page_writes=off"]
        self._process = subprocess.Popen(_as_postgres(server), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                psycopg.connect(self.admin_dsn, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                assert self._process is not None
                assert self._process.poll() is None, "postgres exited"
                assert time.monotonic() < deadline, "postgres did not accept connections"
                time.sleep(0.1)

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        self._databases += 1
        name = f"vox_test_{self._databases}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{name}"

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
