"""Throughput and latency of the VoxScriber mock, next to Prism on the same contract.

Starts the mock (uvicorn, one worker, in a subprocess) and, when npm is available, Prism 5
(``@stoplight/prism-cli``, installed once into ``benchmarks/.cache``), then measures two workloads at several
concurrencies:

- ``status``: ``GET /v1/status/{job_id}`` of one job (on Prism, stateless, the contract's example id);
- ``upload+transcribe``: a multipart upload of a one-second WAV and ``POST /v1/transcribe`` on the new file id
  (one pair counts as one operation; with the Python generator its latency is that of both requests, with wrk
  that of each request: ``upload_transcribe.lua`` pairs uploads and transcribes across a thread's connections).

All servers run at once and every cell is measured on each of them in turn, so that drift on a shared machine
reaches them alike: read the ratios. The mock runs as ``voxcontract mock`` does, validating its own answers
(``--responses unvalidated`` without, ``both`` for two mocks side by side); ``--baseline DIR`` adds the mock of
another checkout (a ``git worktree`` of the commit before a change) for before/after tables from one run.

Each cell runs for ``--duration`` seconds (or, with the Python generator, ``--requests`` operations, whichever ends
first), after a short warm-up. Both workloads use ``wrk`` when it is installed (``apt-get install wrk``; ``--tool
python`` to avoid it), else the pure-Python load generator (httpx, asyncio). The Python generator spends more CPU
per request than the servers it measures (at concurrency 32, about twice the mock's per upload+transcribe pair), and
it shares the machine's cores with them: its ratios understate the difference between the servers. The table shows
requests/s, p50/p99 latency and the mock/Prism throughput ratio per cell.

    .venv/bin/python benchmarks/mock_throughput.py              # the full run (about two minutes)
    .venv/bin/python benchmarks/mock_throughput.py --quick --no-prism
    .venv/bin/python benchmarks/mock_throughput.py --tool wrk --responses both --baseline ../before
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import wave
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
import httpx
from rich.console import Console
from rich.table import Table

from mockserver.fixtures import speech_fixture
from voxcontract.serving import free_port

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
SPEC = ROOT / "openapi" / "voxscriber.yaml"
PAIR_SCRIPT = Path(__file__).resolve().parent / "upload_transcribe.lua"
PRISM_PACKAGE = "@stoplight/prism-cli@5"
API_KEY = "vox_bench_key"
PRISM_JOB_ID = "job_3kTq9WmZpL2vX8aB"
PRISM_FILE_ID = "file_8Yq2Lw5ZtB3nK7cD"
STARTUP_SECONDS = 120.0
WORKLOADS = ("status", "upload+transcribe")

Operation = Callable[[httpx.AsyncClient], Awaitable[bool]]


@dataclass(slots=True)
class Measurement:
    """What one cell measured: operations, failures, wall time and every operation's latency."""

    operations: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    tool: str = "python"
    #: Set when the tool reports percentiles itself (wrk) instead of single latencies.
    reported_p50: float | None = None
    reported_p99: float | None = None

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return self.reported_p50 if self.reported_p50 is not None else _percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return self.reported_p99 if self.reported_p99 is not None else _percentile(self.latencies_ms, 99)


def _percentile(values: Sequence[float], percent: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


@dataclass(frozen=True, slots=True)
class Target:
    """A running server under test and the ids its workloads use."""

    name: str
    base_url: str
    job_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}


# --- servers --------------------------------------------------------------------------------------------------


@contextmanager
def server_process(command: Sequence[str], base_url: str, cwd: Path = ROOT) -> Iterator[None]:
    """Run ``command`` in its own process group until the block ends; wait until it answers /v1/health."""
    log = (CACHE / f"{Path(command[0]).name}-{base_url.rsplit(':', 1)[-1]}.log").open("wb")
    process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(process, base_url)
        yield
    finally:
        _stop(process)
        log.close()


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} (log in {CACHE})")
        try:
            if httpx.get(base_url + "/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not answer on {base_url} within {STARTUP_SECONDS} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass(frozen=True, slots=True)
class MockConfig:
    """One mock to measure: whether it validates its answers, and the checkout it runs from."""

    validate_responses: bool
    checkout: Path = ROOT

    @property
    def label(self) -> str:
        validation = "request + response validation" if self.validate_responses else "request validation"
        return validation if self.checkout == ROOT else f"{validation}, baseline {self.checkout}"


def mock_command(port: int, config: MockConfig) -> list[str]:
    """The mock as integrators run it (``voxcontract mock``: uvicorn, one worker), from ``config.checkout``.

    Jobs stay processing for the whole run (like Prism's ``queued`` example, a body of similar size) and the
    quota is never reached. Request validation and state are always on; response validation (the mock checking its
    own answers against the contract, ``voxcontract mock``'s default) is the configuration's choice.
    """
    checkout = config.checkout.resolve()
    python_path = os.pathsep.join([str(checkout / "src"), str(checkout)])
    return [
        "env", f"VOXCONTRACT_VALIDATE_RESPONSES={'true' if config.validate_responses else 'false'}",
        f"PYTHONPATH={python_path}",
        sys.executable, "-m", "voxcontract", "mock", "--port", str(port), "--api-key", API_KEY,
        "--rate-limit", "100000000/minute", "--processing-time", "86400", "--log-level", "warning",
    ]  # fmt: skip


def prism_command(port: int) -> list[str] | None:
    """Prism installed into the cache directory (installing it on first use); None without npm."""
    binary = CACHE / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            return None
        subprocess.run([npm, "install", "--prefix", str(CACHE), "--no-audit", "--no-fund", PRISM_PACKAGE], check=True)
    return [str(binary), "mock", "--port", str(port), "--host", "127.0.0.1", "--errors", "false", str(SPEC)]


# --- workloads ------------------------------------------------------------------------------------------------


def small_wav() -> bytes:
    """The first second of the ``hello.wav`` fixture: a real, small recording."""
    with wave.open(str(speech_fixture("hello.wav").path), "rb") as source:
        frames = source.readframes(source.getframerate())
        params = source.getparams()
    out = io.BytesIO()
    with wave.open(out, "wb") as sink:
        sink.setparams(params)
        sink.writeframes(frames)
    return out.getvalue()


def status_operation(target: Target) -> Operation:
    path = f"/v1/status/{target.job_id}"

    async def operation(client: httpx.AsyncClient) -> bool:
        return (await client.get(path)).status_code == 200

    return operation


def upload_transcribe_operation(target: Target, audio: bytes) -> Operation:
    async def operation(client: httpx.AsyncClient) -> bool:
        upload = await client.post("/v1/upload", files={"file": ("bench.wav", audio, "audio/wav")})
        if upload.status_code != 201:
            return False
        file_id = upload.json()["file_id"]
        return (await client.post("/v1/transcribe", json={"file_id": file_id})).status_code == 202

    return operation


def create_job(base_url: str, audio: bytes) -> str:
    """A job on the mock to poll (it stays processing for the whole run)."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        upload = client.post("/v1/upload", files={"file": ("bench.wav", audio, "audio/wav")})
        upload.raise_for_status()
        job = client.post("/v1/transcribe", json={"file_id": upload.json()["file_id"]})
        job.raise_for_status()
        return str(job.json()["job_id"])


# --- load generators ------------------------------------------------------------------------------------------


async def _drive(target: Target, operation: Operation, concurrency: int, limit: int, seconds: float) -> Measurement:
    measurement = Measurement()
    counter = itertools.count()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=target.base_url, headers=target.headers, limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while next(counter) < limit and time.perf_counter() < deadline:
                began = time.perf_counter()
                ok = await operation(client)
                measurement.latencies_ms.append((time.perf_counter() - began) * 1000)
                measurement.operations += 1
                measurement.errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        measurement.seconds = time.perf_counter() - began
    return measurement


def run_python(target: Target, operation: Operation, concurrency: int, limit: int, seconds: float) -> Measurement:
    warmup = min(seconds / 5, 1.0)
    asyncio.run(_drive(target, operation, concurrency, max(concurrency * 5, 20), warmup))
    return asyncio.run(_drive(target, operation, concurrency, limit, seconds))


_WRK_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_WRK_ERRORS = re.compile(r"Socket errors:.*?connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def run_wrk(target: Target, path: str, concurrency: int, seconds: float) -> Measurement:
    def wrk(duration: str) -> str:
        command = ["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", duration, "--latency"]
        command += ["-H", f"Authorization: Bearer {API_KEY}", target.base_url + path]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    wrk("1s")  # warm-up
    return parse_wrk(wrk(f"{max(1, round(seconds))}s"))


def run_wrk_pairs(target: Target, audio: bytes, concurrency: int, seconds: float) -> Measurement:
    """upload+transcribe pairs driven by wrk and ``upload_transcribe.lua``: pairs/s, latencies per request."""
    audio_path = CACHE / "upload-transcribe.wav"
    audio_path.write_bytes(audio)

    def wrk(duration: str) -> str:
        command = ["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", duration, "--latency"]
        command += ["-s", str(PAIR_SCRIPT), target.base_url, "--", str(audio_path), API_KEY]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    wrk("1s")  # warm-up
    return parse_wrk_pairs(wrk(f"{max(1, round(seconds))}s"))


def parse_wrk_pairs(output: str) -> Measurement:
    """:func:`parse_wrk`'s measurement counting the script's pairs (and its failed answers) as operations."""
    measurement = parse_wrk(output)
    found_pairs = re.search(r"^pairs: (\d+)$", output, re.MULTILINE)
    found_failed = re.search(r"^failed: (\d+)$", output, re.MULTILINE)
    if found_pairs is None or found_failed is None:
        raise RuntimeError(f"unexpected output of {PAIR_SCRIPT.name}:\n{output}")
    measurement.operations = int(found_pairs.group(1))
    measurement.errors += int(found_failed.group(1))
    return measurement


def parse_wrk(output: str) -> Measurement:
    """Requests, errors, wall time and p50/p99 from ``wrk --latency`` output."""
    total = _WRK_TOTAL.search(output)
    if total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    socket_errors = _WRK_ERRORS.search(output)
    non_2xx = _WRK_NON_2XX.search(output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return Measurement(
        operations=int(total.group(1)),
        errors=errors + (int(non_2xx.group(1)) if non_2xx else 0),
        seconds=float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000,
        tool="wrk",
        reported_p50=_wrk_percentile(output, 50),
        reported_p99=_wrk_percentile(output, 99),
    )


def _wrk_percentile(output: str, percent: int) -> float:
    found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    return float(found.group(1)) * _UNITS_MS[found.group(2)] if found else float("nan")


# --- the run --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    concurrencies: tuple[int, ...]
    seconds: float
    requests: int
    tool: str


def measure(target: Target, workload: str, concurrency: int, plan: Plan, audio: bytes) -> Measurement:
    with_wrk = plan.tool == "wrk" or (plan.tool == "auto" and shutil.which("wrk") is not None)
    if workload == "status":
        if with_wrk:
            return run_wrk(target, f"/v1/status/{target.job_id}", concurrency, plan.seconds)
        return run_python(target, status_operation(target), concurrency, plan.requests, plan.seconds)
    if with_wrk:
        return run_wrk_pairs(target, audio, concurrency, plan.seconds)
    return run_python(target, upload_transcribe_operation(target, audio), concurrency, plan.requests, plan.seconds)


Results = dict[tuple[str, int], Measurement]


@contextmanager
def mock_target(config: MockConfig, audio: bytes) -> Iterator[Target]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with server_process(mock_command(port, config), base_url, cwd=config.checkout):
        yield Target(config.label, base_url, create_job(base_url, audio))


@contextmanager
def prism_target(console: Console) -> Iterator[Target | None]:
    port = free_port()
    command = prism_command(port)
    if command is None:
        console.log("npm not found: Prism skipped")
        yield None
        return
    base_url = f"http://127.0.0.1:{port}"
    with server_process(command, base_url):
        yield Target("prism", base_url, PRISM_JOB_ID)


def run_side_by_side(targets: Sequence[Target], plan: Plan, audio: bytes, console: Console) -> list[Results]:
    """Every cell measured on every target in turn (all servers up), so that drift on a shared machine
    reaches them all alike; the results in the order of ``targets``."""
    results: list[Results] = [{} for _ in targets]
    for workload in WORKLOADS:
        for concurrency in plan.concurrencies:
            for target, measured in zip(targets, results, strict=True):
                console.log(f"{target.name}: {workload} at concurrency {concurrency}")
                measured[(workload, concurrency)] = measure(target, workload, concurrency, plan, audio)
    return results


def benchmark(configs: Sequence[MockConfig], plan: Plan, audio: bytes, console: Console, with_prism: bool) -> None:
    """Measures every mock of ``configs`` (and Prism) side by side and prints a table per mock."""
    with ExitStack() as stack:
        targets = [stack.enter_context(mock_target(config, audio)) for config in configs]
        prism = stack.enter_context(prism_target(console)) if with_prism else None
        results = run_side_by_side([*targets, *([prism] if prism else [])], plan, audio, console)
    prism_results = results[len(configs)] if prism else None
    for config, measured in zip(configs, results, strict=False):
        Console(width=200).print(result_table(plan, config, measured, prism_results))


def _fmt(value: float, digits: int = 1) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"  # NaN


def result_table(plan: Plan, config: MockConfig, mock: Results, prism: Results | None) -> Table:
    """One mock's cells next to Prism's, with the throughput ratio."""
    table = Table(
        title=f"VoxScriber mock ({config.label}, stateful) vs Prism (ops/s; latency in ms; one operation = one"
        " request or one pair; latency of a pair with python, of each request with wrk)"
    )
    for column in ("workload", "conc.", "tool", "mock ops/s", "mock p50", "mock p99", "mock errors"):
        table.add_column(column, justify="left" if column in ("workload", "tool") else "right")
    if prism is not None:
        for column in ("prism ops/s", "prism p50", "prism p99", "prism errors", "mock/prism"):
            table.add_column(column, justify="right")
    for workload in WORKLOADS:
        for concurrency in plan.concurrencies:
            ours = mock[(workload, concurrency)]
            row = [
                workload,
                str(concurrency),
                ours.tool,
                _fmt(ours.rate),
                _fmt(ours.p50, 2),
                _fmt(ours.p99, 2),
                str(ours.errors),
            ]
            if prism is not None:
                theirs = prism[(workload, concurrency)]
                ratio = ours.rate / theirs.rate if theirs.rate else float("nan")
                row += [
                    _fmt(theirs.rate),
                    _fmt(theirs.p50, 2),
                    _fmt(theirs.p99, 2),
                    str(theirs.errors),
                    _fmt(ratio, 2) + "x",
                ]
            table.add_row(*row)
    return table


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--quick", is_flag=True, help="A smoke run: concurrency 1 and 8, one second per cell.")
@click.option("--no-prism", is_flag=True, help="Measure the mock only.")
@click.option("--concurrency", "concurrencies", default="1,8,32", show_default=True, help="Comma-separated.")
@click.option("--duration", "seconds", type=float, default=10.0, show_default=True, help="Seconds per cell.")
@click.option("--requests", "requests", type=int, default=100_000, show_default=True, help="Operations per cell.")
@click.option(
    "--tool",
    type=click.Choice(["auto", "python", "wrk"]),
    default="auto",
    show_default=True,
    help="Load generator (auto: wrk when installed).",
)
@click.option(
    "--responses",
    type=click.Choice(["validated", "unvalidated", "both"]),
    default="validated",
    show_default=True,
    help="Whether the mock validates its own answers (its default) or not; both: two mocks side by side."
    " Request validation and state are always on.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also measure the mock of this checkout (e.g. a git worktree of an earlier commit), side by side.",
)
def main(
    quick: bool,
    no_prism: bool,
    concurrencies: str,
    seconds: float,
    requests: int,
    tool: str,
    responses: str,
    baseline: Path | None,
) -> None:
    """Measure the mock (and Prism) side by side and print a table per mock."""
    plan = Plan(tuple(int(c) for c in concurrencies.split(",")), seconds, requests, tool)
    if quick:
        plan = Plan((1, 8), 1.0, min(requests, 500), "python" if tool == "auto" else tool)
    validations = {"validated": [True], "unvalidated": [False], "both": [True, False]}[responses]
    checkouts = [ROOT] + ([baseline] if baseline is not None else [])
    configs = [MockConfig(validate, checkout) for checkout in checkouts for validate in validations]
    CACHE.mkdir(exist_ok=True)
    benchmark(configs, plan, small_wav(), Console(stderr=True), with_prism=not no_prism)
    Console().print(
        f"{time.strftime('%Y-%m-%d')} · {os.cpu_count()} CPU(s) · {sys.platform} · python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
