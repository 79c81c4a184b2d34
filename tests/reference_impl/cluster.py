"""A VoxScriber deployment run as separate hosts, for tests and benchmarks: API nodes (``voxcontract serve --workers
0``) and worker nodes (``voxcontract worker``), each a separate process with its own data dir and host name, sharing
nothing but PostgreSQL, Redis (the job queue and the rate-limit counters) and an S3 store (SeaweedFS, the media).

Where the machine allows it (root, ``ip netns`` works), every node runs in its own network namespace, behind a
bridge in the root namespace: the shared services (and the test's webhook receiver) listen on the bridge's address,
each node on its own address of the bridge's subnet, with its own host name (a UTS namespace), so a node sees the
others only over the network, as on separate machines. Elsewhere the nodes run as separate processes on 127.0.0.1
(``mode == "processes"``, said on stdout), their host name the machine's.

>>> with Cluster(tmp_path) as cluster:                        # services started; namespaces made when possible
...     key = cluster.create_key("tests")
...     api = cluster.add_api_node("api-1", {"VOXCONTRACT_RATE_LIMIT": "50/minute"})
...     worker = cluster.add_worker_node("worker-a")
...     api.wait_healthy()
...     with api.client(key) as client: ...
...     worker.kill()                                          # kill -9 of the node's whole process group

A node runs what ``deploy/`` runs: the command of its systemd unit (``deploy/systemd/voxcontract-api.service``,
``voxcontract-worker@.service``; the installed ``voxcontract`` is this interpreter's ``-m voxcontract``) over the
settings of ``deploy/voxcontract.env.example``, the addresses of this cluster's services and :data:`NODE_SETTINGS`
put over them (:meth:`Cluster.node_environment`). Its output goes to
``<root>/logs/<name>.log`` (:meth:`Cluster.logs` for a failure message). Namespaces, veth pairs and the bridge are
named ``vcl<pid>...`` after the test process's pid (hex): ``stop`` removes this run's, and ``start`` removes those
of runs whose process is gone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import httpx
import redis
from sqlalchemy import Engine, select

from reference_impl.db import Job, make_engine, make_sessions
from reference_impl.settings import ReferenceSettings
from tests.deploy_files import env_file, unit_exec_start
from tests.reference_impl.postgres import PostgresServer
from tests.reference_impl.seaweedfs import SeaweedFS
from voxcontract.serving import free_port

__all__ = ["NODE_SETTINGS", "Cluster", "ClusterMode", "Node"]

ClusterMode = Literal["netns", "processes"]
STARTUP_SECONDS = 90.0
#: Settings every node gets (a caller's overrides win): CPU int8 on one thread per node (the machine has two
#: cores), quick maintenance and a short lease so that a dead host's job resumes within seconds, quick webhook
#: retries.
NODE_SETTINGS: dict[str, str] = {
    "VOXCONTRACT_DEVICE": "cpu",
    "VOXCONTRACT_COMPUTE_TYPE": "int8",
    "VOXCONTRACT_CPU_THREADS": "1",
    "VOXCONTRACT_LEASE_SECONDS": "4",
    "VOXCONTRACT_POLL_INTERVAL": "0.2",
    "VOXCONTRACT_WEBHOOK_RETRY_SCHEDULE": "0.2,0.5,1,2",
    "VOXCONTRACT_LOG_LEVEL": "info",
}
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_UNITS = {
    "api": DEPLOY / "systemd" / "voxcontract-api.service",
    "worker": DEPLOY / "systemd" / "voxcontract-worker@.service",
}
_PREFIX = "vcl"
#: Names of this machine's namespaces and links left by a run: the run's pid in hex, then (links) a kind letter
#: outside hex: g the bridge, p a veth's root end, q its namespace end.
_NAMESPACE_NAME = re.compile(rf"^{_PREFIX}-([0-9a-f]+)-")
_LINK_NAME = re.compile(rf"^{_PREFIX}([0-9a-f]+)[gpq]")
#: Subnets come from 10.213.0.0/16, one /24 per run, the first one no interface of this machine uses.
_SUBNETS = ipaddress.IPv4Network("10.213.0.0/16")


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=30)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Network:
    """Where nodes live: the services' address, and for each node its address and the command prefix that puts
    a process there. This base class is the fallback: every node a process of this host on 127.0.0.1."""

    mode: ClusterMode = "processes"

    def __init__(self, reason: str = "") -> None:
        self.reason = reason

    @property
    def services_host(self) -> str:
        return "127.0.0.1"

    def add_host(self, name: str) -> tuple[str, list[str]]:
        """A host for node ``name``: its address and the prefix of its commands."""
        return "127.0.0.1", []

    def close(self) -> None:
        """Remove what the hosts were made of."""


class _NamespaceNetwork(_Network):
    """One network namespace (and UTS namespace: its own host name) per node, a veth pair from each to a bridge in
    the root namespace; the bridge holds the subnet's first address, where the shared services listen."""

    mode: ClusterMode = "netns"

    def __init__(self) -> None:
        super().__init__()
        self.tag = f"{os.getpid():x}"
        remove_stale_networks()
        self._remove_own()  # an earlier cluster of this process that could not clean up
        self.subnet = _free_subnet()
        hosts = self.subnet.hosts()
        self.gateway = str(next(hosts))
        self._addresses = hosts
        self.bridge = f"{_PREFIX}{self.tag}g"
        self.namespaces: list[str] = []
        try:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
            _run("ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
            _run("ip", "link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise

    @property
    def services_host(self) -> str:
        return self.gateway

    def add_host(self, name: str) -> tuple[str, list[str]]:
        index = len(self.namespaces) + 1
        namespace = f"{_PREFIX}-{self.tag}-{name}"
        outer, inner = f"{_PREFIX}{self.tag}p{index}", f"{_PREFIX}{self.tag}q{index}"
        address = str(next(self._addresses))
        _run("ip", "netns", "add", namespace)
        self.namespaces.append(namespace)
        _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        _run("ip", "link", "set", outer, "master", self.bridge)
        _run("ip", "link", "set", outer, "up")
        _run("ip", "link", "set", inner, "netns", namespace)
        inside = ("ip", "-n", namespace)
        _run(*inside, "link", "set", inner, "name", "eth0")
        _run(*inside, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        _run(*inside, "link", "set", "eth0", "up")
        _run(*inside, "link", "set", "lo", "up")
        hostname = f"{_PREFIX}-{self.tag}-{name}"
        # ip netns exec and unshare exec (no fork), and so does the shell: the node's pid is the process's pid.
        prefix = ["ip", "netns", "exec", namespace, "unshare", "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"']
        return address, [*prefix, hostname]

    def close(self) -> None:
        for namespace in self.namespaces:
            _run("ip", "netns", "del", namespace, check=False)  # its veth ends go with it
        self.namespaces.clear()
        _run("ip", "link", "del", self.bridge, check=False)
        self._remove_own()

    def _remove_own(self) -> None:
        for namespace in _own_names(_namespace_names(), _NAMESPACE_NAME, self.tag):
            _run("ip", "netns", "del", namespace, check=False)
        for link in _own_names(_link_names(), _LINK_NAME, self.tag):
            _run("ip", "link", "del", link, check=False)


def _namespace_names() -> list[str]:
    return [line.split()[0] for line in _run("ip", "netns", "list").stdout.splitlines() if line.strip()]


def _link_names() -> list[str]:
    """The names of this namespace's links (``ip -o link`` writes ``5: name@peer: <...>``)."""
    lines = _run("ip", "-o", "link", "show").stdout.splitlines()
    return [line.split(":")[1].strip().split("@")[0] for line in lines if line.count(":") >= 2]


def _own_names(names: Sequence[str], pattern: re.Pattern[str], tag: str) -> list[str]:
    return [name for name in names if (match := pattern.match(name)) and match.group(1) == tag]


def remove_stale_networks() -> None:
    """Remove the namespaces and links of earlier runs whose process is gone (a run killed before its cleanup)."""
    for names, pattern, kind in ((_namespace_names(), _NAMESPACE_NAME, "netns"), (_link_names(), _LINK_NAME, "link")):
        for name in names:
            match = pattern.match(name)
            if match and not _pid_alive(int(match.group(1), 16)):
                _run("ip", kind, "del", name, check=False)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.213.0.0/16 that no address of this machine is in, chosen by pid (parallel runs differ)."""
    used: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
    for line in _run("ip", "-o", "-4", "addr", "show").stdout.splitlines():
        fields = line.split()
        if "inet" in fields:
            used.add(ipaddress.ip_interface(fields[fields.index("inet") + 1]).network)
    subnets = list(_SUBNETS.subnets(new_prefix=24))
    start = os.getpid() % len(subnets)
    for subnet in subnets[start:] + subnets[:start]:
        if not any(subnet.overlaps(other) for other in used):
            return subnet
    raise RuntimeError("no free /24 in 10.213.0.0/16")


def _network() -> _Network:
    """Namespaces when this process may make them, else the fallback (with the reason)."""
    if os.geteuid() != 0:
        reason = "not root"
    elif not (shutil.which("ip") and shutil.which("unshare")):
        reason = "ip or unshare missing"
    else:
        try:
            return _NamespaceNetwork()
        except (subprocess.CalledProcessError, OSError, RuntimeError) as exc:
            detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
            reason = f"ip netns failed: {detail or exc}"
    return _Network(reason)


def unit_command(kind: Literal["api", "worker"]) -> list[str]:
    """The ``ExecStart`` of the node's systemd unit in ``deploy/``, run by this interpreter."""
    executable, *arguments = unit_exec_start(_UNITS[kind])
    assert Path(executable).name == "voxcontract", f"{_UNITS[kind].name} does not run voxcontract"
    return [sys.executable, "-m", "voxcontract", *arguments]


@dataclasses.dataclass
class Node:
    """One host of the cluster: a ``voxcontract serve`` (``kind == "api"``) or ``voxcontract worker`` process."""

    name: str
    kind: Literal["api", "worker"]
    #: Its address (the namespace's, or 127.0.0.1); an API node listens on ``address:port``.
    address: str
    port: int | None
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} is a worker node: it serves no API"
        return f"http://{self.address}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def holds(self, lease_owner: str | None) -> bool:
        """Whether a job's ``lease_owner`` (``host:pid:nonce``) is this node's process."""
        return lease_owner is not None and lease_owner.split(":")[1:2] == [str(self.pid)]

    def client(self, key: str, **options: object) -> httpx.Client:
        """An HTTP client of this API node with ``key``."""
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **options)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_healthy(self, timeout: float = STARTUP_SECONDS) -> None:
        """Until the API node answers ``GET /v1/health`` 200 (AssertionError with its log when it exits or not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"{self.name} exited ({self.process.returncode}):\n{self.log()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} was not healthy at {self.url} after {timeout} s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """``kill -9`` of the node's process group, and wait for it."""
        if self.process.poll() is None:  # not yet reaped: its pid (the group's id) is still its own
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (running jobs go back to the queue), SIGKILL after ``timeout`` s."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    """Shared services started on entry, nodes added one by one, everything stopped and removed on exit."""

    def __init__(self, root: Path, *, use_namespaces: bool = True) -> None:
        self.root = root
        self.use_namespaces = use_namespaces
        self.nodes: list[Node] = []
        self._network: _Network | None = None
        self._postgres: PostgresServer | None = None
        self._seaweedfs: SeaweedFS | None = None
        self._redis: subprocess.Popen[bytes] | None = None
        self.database_url = ""
        self.redis_url = ""
        self.bucket = ""
        self._engine: Engine | None = None

    # The cluster

    @property
    def network(self) -> _Network:
        assert self._network is not None, "the cluster is not started"
        return self._network

    @property
    def mode(self) -> ClusterMode:
        """``netns`` (a network namespace per node) or ``processes`` (the fallback: separate processes, 127.0.0.1)."""
        return self.network.mode

    @property
    def mode_description(self) -> str:
        if self.mode == "netns":
            return f"netns: one network namespace and host name per node, services on {self.services_host}"
        return f"processes: network namespaces unavailable ({self.network.reason}), nodes on 127.0.0.1"

    @property
    def services_host(self) -> str:
        """Where the shared services (and receivers of the test) listen, reachable from every node."""
        return self.network.services_host

    @property
    def media_url(self) -> str:
        return f"s3://{self.bucket}/media"

    @property
    def seaweedfs(self) -> SeaweedFS:
        assert self._seaweedfs is not None, "the cluster is not started"
        return self._seaweedfs

    def start(self) -> Self:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        try:
            self._network = _network() if self.use_namespaces else _Network("not asked for")
            if self.mode == "processes":
                reason = self._network.reason
                print(f"network namespaces unavailable ({reason}): nodes run as separate processes on 127.0.0.1")
            host = self.services_host
            self._postgres = PostgresServer(host=host).start()
            self.database_url = self._postgres.new_database()
            self.redis_url = self._start_redis(host)
            self._seaweedfs = SeaweedFS(host=host).start()
            self.bucket = self._seaweedfs.new_bucket()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_redis(self, host: str) -> str:
        server = shutil.which("redis-server")
        assert server, "redis-server is missing: run ./dev setup (it installs the Debian package)"
        port = free_port(host)
        workdir = self.root / "redis"
        workdir.mkdir(exist_ok=True)
        args = [
            server,
            "--port",
            str(port),
            "--bind",
            host,
            "--protected-mode",
            "no",
            "--save",
            "",
            "--dir",
            str(workdir),
        ]
        with (self.root / "logs" / "redis.log").open("wb") as log:
            self._redis = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        url = f"redis://{host}:{port}"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    client.ping()
                    return url
                except redis.ConnectionError:
                    assert self._redis.poll() is None, "redis-server exited"
                    assert time.monotonic() < deadline, "redis-server did not answer"
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop every node (SIGKILL: their state lives in the services), the services, and remove the network."""
        for node in self.nodes:
            node.kill()
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None and self._redis.poll() is None:
            self._redis.terminate()
            self._redis.wait(timeout=10)
        for service in (self._seaweedfs, self._postgres):
            if service is not None:
                service.stop()
        if self._network is not None:
            self._network.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    # Nodes

    def admin_settings(self) -> ReferenceSettings:
        """Settings for administration from the test process (keys, reading the jobs): the shared database."""
        return ReferenceSettings(data_dir=str(self.root / "admin"), database_url=self.database_url)

    def create_key(self, name: str) -> str:
        """A new API key in the shared database (what ``voxcontract keys create`` does); the key."""
        from reference_impl.commands import create_key

        token, _ = create_key(self.admin_settings(), name)
        return token

    def node_environment(self, name: str, overrides: Mapping[str, str]) -> dict[str, str]:
        """The environment of node ``name``: this process's minus its ``VOXCONTRACT_*``, the deployment's shared
        environment file, this cluster's backends, :data:`NODE_SETTINGS`, then ``overrides``."""
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("VOXCONTRACT_")}
        inherited |= env_file(DEPLOY / "voxcontract.env.example")
        shared = {
            "VOXCONTRACT_DATA_DIR": str(self.root / "nodes" / name),
            "VOXCONTRACT_DATABASE_URL": self.database_url,
            "VOXCONTRACT_QUEUE_URL": f"{self.redis_url}/0",
            "VOXCONTRACT_RATE_LIMIT_STORAGE": f"{self.redis_url}/1",
            "VOXCONTRACT_MEDIA_URL": self.media_url,
        }
        return {**inherited, "HF_HUB_OFFLINE": "1", **self.seaweedfs.env(), **shared, **NODE_SETTINGS, **overrides}

    def add_api_node(self, name: str, settings: Mapping[str, str] | None = None) -> Node:
        """Start ``voxcontract serve --workers 0`` on a new host (``settings``: ``VOXCONTRACT_*`` overrides)."""
        return self._start_node(name, "api", settings or {})

    def add_worker_node(
        self, name: str, settings: Mapping[str, str] | None = None, *, workers: int | None = None
    ) -> Node:
        """Start ``voxcontract worker`` on a new host: the unit's job threads, or ``workers``."""
        flags = [] if workers is None else ["--workers", str(workers)]
        return self._start_node(name, "worker", settings or {}, flags)

    def _start_node(
        self, name: str, kind: Literal["api", "worker"], settings: Mapping[str, str], flags: Sequence[str] = ()
    ) -> Node:
        address, prefix = self.network.add_host(name)
        environment = self.node_environment(name, settings)
        command = [*prefix, *unit_command(kind)]
        port = None
        if kind == "api":
            # The unit's own --host 0.0.0.0 --port 8080 in a namespace of its own; a free port of 127.0.0.1 beside
            # the other nodes otherwise (the last flag given wins)
            port = 8080 if self.mode == "netns" else free_port(address)
            if self.mode == "processes":
                command += ["--host", address, "--port", str(port)]
        command += flags
        log_path = self.root / "logs" / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True
            )
        node = Node(name, kind, address, port, Path(environment["VOXCONTRACT_DATA_DIR"]), log_path, process)
        self.nodes.append(node)
        return node

    # Looking inside

    def jobs(self) -> list[Job]:
        """Every job row of the shared database (lease owner, attempts, status), oldest first."""
        if self._engine is None:
            self._engine = make_engine(self.database_url)
        with make_sessions(self._engine)() as session:
            return list(session.scalars(select(Job).order_by(Job.created_at, Job.job_id)))

    def logs(self, tail: int = 4000) -> str:
        """The end of every node's log, for a failure message."""
        parts = [
            f"--- {node.name} ({node.kind}, pid {node.pid}, {node.address}) ---\n{node.log()[-tail:]}"
            for node in self.nodes
        ]
        return "\n".join(parts)
