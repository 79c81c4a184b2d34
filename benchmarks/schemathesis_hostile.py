"""Schemathesis against both servers, looking for 5xx: thousands of generated requests, valid and invalid, per server.

Starts the mock (``voxcontract mock``) and a reference server (``voxcontract serve --workers 0`` on a temporary
data dir: the API only, jobs stay queued, so the run measures the HTTP layer and not transcription) in
subprocesses on 127.0.0.1, then runs Schemathesis' engine (``schemathesis.engine.from_schema(...).execute()``, what
``schemathesis run`` does) on the contract against each: positive and negative data, the examples, coverage and
fuzzing phases (``--stateful`` adds the stateful one), ``--max-examples`` per operation, as many seeds as it takes to
send ``--min-requests`` (5,000) per server, real audio for the upload's file part (the suite's own registration,
:mod:`conformance.groups.contract_support`). The only check is ``not_a_server_error``: any 5xx is a finding,
everything else is counted.

Every request Schemathesis sends for a generated case is counted by status class (through the schema's
``after_call`` hook); the 5xx answers are listed with their request. The servers' logs are scanned for errors and
tracebacks (``ERROR`` lines). The servers get quotas the run never reaches (rate limit, failed authentications).

    .venv/bin/python benchmarks/schemathesis_hostile.py              # at least 5,000 requests per server (~3 min)
    .venv/bin/python benchmarks/schemathesis_hostile.py --max-examples 5 --min-requests 1 --servers mock  # smoke

Exit status: 0 when no server answered a 5xx (and none logged an error), 1 otherwise.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx
import schemathesis
from rich.console import Console
from rich.table import Table
from schemathesis.config import CacheConfig, OutputConfig, SanitizationConfig, SchemathesisConfig
from schemathesis.engine import from_schema
from schemathesis.generation import GenerationMode

from conformance.groups.contract_support import file_media_types, keep_unwritten_bounds, registered_audio
from mockserver.fixtures import speech_fixture
from voxcontract.serving import free_port
from voxcontract.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "vox_hostile_benchmark_key"
STARTUP_SECONDS = 120.0
PHASES = ("examples", "coverage", "fuzzing")
#: 5xx answers listed in full; the rest are counted.
LISTED = 10
#: Runs (seeds) per server at most, however few requests they send.
MAX_ROUNDS = 20
#: Quotas the run never reaches, so that every answer is the server's judgement of the request itself.
UNREACHABLE = ["--rate-limit", "100000000/minute", "--auth-failure-limit", ""]


@dataclass
class Tally:
    """Answers by status class, the 5xx in detail, and the servers' logged errors."""

    by_class: collections.Counter[str] = field(default_factory=collections.Counter)
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    server_errors: list[str] = field(default_factory=list)
    logged_errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, response: Any) -> None:
        status = int(response.status_code)
        with self._lock:
            self.by_class[f"{status // 100}xx"] += 1
            self.by_status[status] += 1
            if status >= 500:
                self.server_errors.append(_describe(response))

    @property
    def total(self) -> int:
        return sum(self.by_class.values())


def _describe(response: Any) -> str:
    request = response.request
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    return (
        f"{response.status_code} {request.method} {request.url} body[:200]={body[:200]!r} -> {response.content[:300]!r}"
    )


# --- the servers -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    log: Path


def mock_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "voxcontract", "mock", "--port", str(port), "--api-key", API_KEY,
        "--processing-time", "0.5", *UNREACHABLE,
    ]  # fmt: skip


def reference_command(port: int, data_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "voxcontract", "serve", "--port", str(port), "--api-key", API_KEY,
        "--data-dir", str(data_dir), "--workers", "0", *UNREACHABLE,
    ]  # fmt: skip


@contextlib.contextmanager
def running(name: str, command: Sequence[str], port: int, logs: Path) -> Iterator[Server]:
    """``command`` in its own process group until the block ends; its output in ``logs/<name>.log``."""
    log_path = logs / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(process, url)
            yield Server(name, url, log_path)
        finally:
            _stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{process.args!r} did not answer on {url} within {STARTUP_SECONDS} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def logged_errors(log: Path) -> list[str]:
    """The lines of a server's log at ERROR level or carrying a traceback."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if "ERROR" in line or line.startswith("Traceback")]


# --- the run ---------------------------------------------------------------------------------------------------


def build_schema(base_url: str, phases: Sequence[str], max_examples: int, seed: int, tally: Tally) -> Any:
    config = SchemathesisConfig(
        seed=seed,
        cache=CacheConfig(enabled=False),
        output=OutputConfig(sanitization=SanitizationConfig(enabled=False)),
    )
    schema = schemathesis.openapi.from_dict(copy.deepcopy(load_spec()), config=config)
    schema.config.update(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, request_timeout=60)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=max_examples, database="none"
    )
    schema.config.phases.update(phases=list(phases))
    schema.config.checks.update(included_check_names=["not_a_server_error"])

    def after_call(context: Any, case: Any, response: Any) -> None:
        tally.count(response)

    schema.hooks.register_hook_with_name(after_call, "after_call")
    keep_unwritten_bounds(schema)
    return schema


def fuzz(server: Server, phases: Sequence[str], max_examples: int, seed: int, min_requests: int) -> Tally:
    """Runs of the engine with seeds ``seed``, ``seed + 1``, ... until ``min_requests`` were sent (at most
    :data:`MAX_ROUNDS` runs): Hypothesis stops early on operations whose inputs it has exhausted, so one run of a
    seed sends about 2,000 requests whatever ``max_examples`` is."""
    tally = Tally()
    audio = speech_fixture("hello.wav").read_bytes()
    with registered_audio(file_media_types(load_spec()), audio):
        for round_seed in range(seed, seed + MAX_ROUNDS):
            stream = from_schema(build_schema(server.url, phases, max_examples, round_seed, tally)).execute()
            with contextlib.closing(stream.generator):
                for _ in stream:
                    pass
            if tally.total >= min_requests:
                break
    tally.logged_errors = logged_errors(server.log)
    return tally


def report(console: Console, results: dict[str, tuple[Tally, float]]) -> None:
    table = Table(title="Schemathesis against the servers (requests Schemathesis sent for generated cases)")
    for column in ("server", "requests", "seconds", "2xx", "3xx", "4xx", "5xx", "logged errors"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for name, (tally, seconds) in results.items():
        table.add_row(
            name,
            f"{tally.total:,}",
            f"{seconds:.0f}",
            *(f"{tally.by_class[key]:,}" for key in ("2xx", "3xx", "4xx", "5xx")),
            str(len(tally.logged_errors)),
        )
    console.print(table)
    for name, (tally, _) in results.items():
        statuses = ", ".join(f"{status}: {count:,}" for status, count in sorted(tally.by_status.items()))
        console.print(f"{name} by status: {statuses}", highlight=False)
        for line in tally.server_errors[:LISTED]:
            console.print(f"[red]{name} 5xx[/red] {line}", markup=True, highlight=False)
        for line in tally.logged_errors[:LISTED]:
            console.print(f"[red]{name} log[/red] {line}", markup=True, highlight=False)


@click.command()
@click.option("--servers", default="mock,reference", show_default=True, help="Which servers, comma-separated.")
@click.option("--max-examples", default=250, show_default=True, help="Examples per operation and phase.")
@click.option("--stateful", is_flag=True, help="Add the stateful phase (along the contract's links).")
@click.option("--seed", default=0, show_default=True, help="Schemathesis' seed (of the first run).")
@click.option("--min-requests", default=5000, show_default=True, help="Run more seeds until this many per server.")
def main(servers: str, max_examples: int, stateful: bool, seed: int, min_requests: int) -> None:
    """Run Schemathesis against the mock and the reference server; count answers by status class; list any 5xx."""
    console = Console()
    phases = (*PHASES, "stateful") if stateful else PHASES
    results: dict[str, tuple[Tally, float]] = {}
    with tempfile.TemporaryDirectory(prefix="voxcontract-hostile-") as workdir:
        logs = Path(workdir)
        for name in [name.strip() for name in servers.split(",") if name.strip()]:
            port = free_port()
            command = mock_command(port) if name == "mock" else reference_command(port, logs / "reference-data")
            with running(name, command, port, logs) as server:
                started = time.monotonic()
                tally = fuzz(server, phases, max_examples, seed, min_requests)
                results[name] = (tally, time.monotonic() - started)
            console.print(f"{name}: {tally.total:,} requests, {tally.by_class['5xx']} answered 5xx")
    report(console, results)
    failed = any(tally.by_class["5xx"] or tally.logged_errors for tally, _ in results.values())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
