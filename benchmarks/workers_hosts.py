"""Throughput of a multi-host deployment as worker nodes are added: jobs per minute with 1, 2 and 4 worker processes.

The deployment is the one ``tests/reference_impl/cluster.py`` runs for the multi-host test: PostgreSQL (jobs, keys),
Redis (the job queue, the rate-limit counters) and SeaweedFS (the media, ``media_url = s3://...``), started once and
shared by every configuration; per configuration one API node (``voxcontract serve --workers 0``) and N worker nodes
(``voxcontract worker``, one job thread each, ``cpu_threads`` per node fixed, 1 by default), each a separate process
with its own data dir, in its own network namespace where the machine allows it (root and ``ip netns``), else on
127.0.0.1 (said in the output). Everything runs on this machine: the nodes, the services and this client share its
cores.

The run goes in ``--repeat`` rounds; each round measures every worker count once, in turn (the order reversed every
other round), so that drift on a shared machine reaches every count alike. A measurement starts its nodes afresh,
lets every worker node run one warm-up job (its model loads on its first job), measures one batch and stops the
nodes. A batch: M uploads (not timed), then M ``POST /v1/transcribe`` in a row; it is timed from just before the
first submit to the last job's ``completed_at`` (the server's clock, milliseconds; same machine). Meanwhile the
client lists the batch's jobs (``GET /v1/jobs``: every job's status in one request, so that polling costs the same
at any M) every 100 ms, bounded; a job's **queue wait** is its ``created_at`` to the first poll that saw it out of
``queued``, so it is up to one poll interval late, and its **run time** from then to its ``completed_at``. Every
job must complete, and the attempts (from the database) and the node that stored each completion (from the worker
nodes' logs) are counted: a job run twice shows as a retry.

Reported per worker count: the median batch wall time over the rounds (min-max), jobs per minute and audio seconds
per wall second (the inverse RTF of the whole deployment) from that median, the speed-up over the fewest workers
measured, the median queue wait and run time over every measured job, and how the jobs spread over the worker nodes.

    .venv/bin/python benchmarks/workers_hosts.py                                  # 1, 2, 4 workers, 8 jobs, 3 rounds
    .venv/bin/python benchmarks/workers_hosts.py --workers-hosts 1,2 --jobs 4 --repeat 1 --audio hello.wav
    .venv/bin/python benchmarks/workers_hosts.py --cpu-threads 2 --json workers.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

# The cluster harness lives with the tests (the repository root must be importable), ``machine()`` beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference_rtf import machine

from reference_impl.settings import ReferenceSettings
from tests.reference_impl.cluster import Cluster, Node
from tests.reference_impl.speech import speak_all

#: Seconds between two listings of a batch's jobs: the resolution of the queue wait.
POLL_INTERVAL = 0.1
BATCH_TIMEOUT = 900.0
#: Warm-up rounds (one job per worker node each) before a worker node that has run no job is an error.
WARM_UP_ROUNDS = 5
#: What a worker node logs once a job's completion is stored (``reference_impl.worker``).
COMPLETED_LINE = re.compile(r"job (job_\w+) completed: .* \(stored\)")
#: What every node of the benchmark gets besides the cluster's own settings: a rate limit the polling never reaches,
#: no per-key cap on running jobs (one key submits the whole batch), and the default 30 s lease (the cluster's 4 s
#: suits kill -9 tests; on oversubscribed cores a renewal could come late and a job run twice).
BENCH_SETTINGS = {
    "VOXCONTRACT_RATE_LIMIT": "1000000/minute",
    "VOXCONTRACT_MAX_RUNNING_JOBS_PER_KEY": "0",
    "VOXCONTRACT_LEASE_SECONDS": "30",
}


# --- the measurement ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobTiming:
    """One job of a batch: the server's timestamps, when the client first saw it running, and who ran it."""

    job_id: str
    #: Unix seconds: ``created_at`` (the server), first seen out of ``queued`` (this client), ``completed_at``.
    created: float
    started_seen: float
    completed: float
    attempts: int
    #: The worker node that stored its completion: 1 to N, in the order the nodes started.
    worker: int

    @property
    def queue_wait(self) -> float:
        return max(0.0, self.started_seen - self.created)

    @property
    def run_time(self) -> float:
        """First seen running to completed: the job on its worker node (up to one poll interval short)."""
        return self.completed - self.started_seen


@dataclass(frozen=True, slots=True)
class Batch:
    """M jobs submitted at once and run to completion."""

    submitted: float
    jobs: list[JobTiming]
    load_average: float

    @property
    def wall(self) -> float:
        """First submit to the last completion, seconds."""
        return max(job.completed for job in self.jobs) - self.submitted


@dataclass(slots=True)
class Row:
    """One worker count: every measured batch."""

    workers: int
    cpu_threads: int
    jobs_per_batch: int
    #: Of each job's media, as the server probed it (known once the first warm-up ran).
    audio_seconds: float = 0.0
    batches: list[Batch] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [batch.wall for batch in self.batches]

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def jobs_per_minute(self) -> float:
        return self.jobs_per_batch * 60 / self.wall

    @property
    def audio_per_wall_second(self) -> float:
        return self.jobs_per_batch * self.audio_seconds / self.wall

    @property
    def queue_wait(self) -> float:
        return statistics.median(job.queue_wait for batch in self.batches for job in batch.jobs)

    @property
    def run_time(self) -> float:
        return statistics.median(job.run_time for batch in self.batches for job in batch.jobs)

    @property
    def completed(self) -> int:
        return sum(len(batch.jobs) for batch in self.batches)

    @property
    def retries(self) -> int:
        return sum(job.attempts - 1 for batch in self.batches for job in batch.jobs)

    @property
    def jobs_by_worker(self) -> dict[int, int]:
        """Jobs stored by worker node 1, 2, ... over every batch."""
        counts = Counter(job.worker for batch in self.batches for job in batch.jobs)
        return dict(sorted(counts.items()))


@dataclass(frozen=True, slots=True)
class Plan:
    worker_counts: tuple[int, ...]
    jobs: int
    repeat: int
    audio: Path
    cpu_threads: int
    model: str
    use_namespaces: bool
    root: Path

    def node_settings(self) -> dict[str, str]:
        return {**BENCH_SETTINGS, "VOXCONTRACT_MODEL": self.model, "VOXCONTRACT_CPU_THREADS": str(self.cpu_threads)}


@dataclass(slots=True)
class Results:
    cluster_mode: str = ""
    rows: list[Row] = field(default_factory=list)

    def speed_up(self, row: Row) -> float:
        """``row``'s throughput over the fewest workers' (1 when that is ``row``)."""
        return row.jobs_per_minute / self.rows[0].jobs_per_minute


def run(plan: Plan, console: Console) -> Results:
    """Start the shared services once, then measure round after round, each worker count once per round on nodes of
    its own (in turn, the order reversed every other round: drift on a shared machine reaches every count alike)."""
    results = Results(rows=[Row(count, plan.cpu_threads, plan.jobs) for count in plan.worker_counts])
    with Cluster(plan.root / "cluster", use_namespaces=plan.use_namespaces) as cluster:
        results.cluster_mode = cluster.mode_description
        console.log(f"cluster: {cluster.mode_description}")
        for round_number in range(1, plan.repeat + 1):
            for row in results.rows if round_number % 2 else results.rows[::-1]:
                measure(cluster, plan, row, round_number, console)
    return results


def measure(cluster: Cluster, plan: Plan, row: Row, round_number: int, console: Console) -> None:
    """One API node and ``row.workers`` worker nodes, started afresh: warm up, one batch, stop the nodes."""
    settings = plan.node_settings()
    tag = f"w{row.workers}-r{round_number}"
    api = cluster.add_api_node(f"api-{tag}", settings)
    workers = [
        cluster.add_worker_node(f"worker-{tag}-{index}", settings, workers=1) for index in range(1, row.workers + 1)
    ]
    try:
        api.wait_healthy()
        row.audio_seconds = warm_up(cluster, api, workers, plan, tag)
        batch = run_batch(cluster, api, workers, plan, f"batch-{tag}")
    except (AssertionError, RuntimeError) as failure:
        raise RuntimeError(f"{failure}\n{cluster.logs()}") from failure
    finally:
        for node in (api, *workers):
            node.stop()
    row.batches.append(batch)
    console.log(
        f"round {round_number}, {row.workers} worker node(s): {plan.jobs} jobs in {batch.wall:.2f} s "
        f"({plan.jobs * 60 / batch.wall:.1f} jobs/min; load average {batch.load_average:.2f} before)"
    )


def warm_up(cluster: Cluster, api: Node, workers: list[Node], plan: Plan, tag: str) -> float:
    """Rounds of one job per worker node until every node has completed one (each loads its model on its first
    job); the audio's duration as the server probed it."""
    key = cluster.create_key(f"warm-up-{tag}")
    with api.client(key) as client:
        for _ in range(WARM_UP_ROUNDS):
            files = [upload(client, plan.audio) for _ in workers]
            job_ids = [submit(client, document["file_id"]) for document in files]
            wait_for_jobs(client, job_ids, workers)
            ran = completions(workers, job_ids)
            if set(ran.values()) == set(range(1, len(workers) + 1)):
                return float(files[0]["duration_seconds"])
    raise RuntimeError(f"a worker node ran no job in {WARM_UP_ROUNDS} warm-up rounds")


def run_batch(cluster: Cluster, api: Node, workers: list[Node], plan: Plan, name: str) -> Batch:
    """``plan.jobs`` uploads, then as many jobs submitted in a row and waited for; their timings."""
    key = cluster.create_key(name)  # a key of its own: its job list is this batch
    with api.client(key) as client:
        files = [upload(client, plan.audio) for _ in range(plan.jobs)]
        load_average = os.getloadavg()[0]
        submitted = time.time()
        job_ids = [submit(client, document["file_id"]) for document in files]
        started_seen, documents = wait_for_jobs(client, job_ids, workers)
    nodes = completions(workers, job_ids)
    attempts = {job.job_id: job.attempts for job in cluster.jobs() if job.job_id in documents}
    jobs = [
        JobTiming(
            job_id,
            created=timestamp(documents[job_id]["created_at"]),
            # A job that ran entirely between two polls was last queued before its completion.
            started_seen=min(started_seen[job_id], timestamp(documents[job_id]["completed_at"])),
            completed=timestamp(documents[job_id]["completed_at"]),
            attempts=attempts[job_id],
            worker=nodes[job_id],
        )
        for job_id in job_ids
    ]
    return Batch(submitted, jobs, load_average)


# --- the API and the logs -------------------------------------------------------------------------------------


def upload(client: httpx.Client, audio: Path) -> dict[str, Any]:
    with audio.open("rb") as media:
        response = client.post("/v1/upload", files={"file": (audio.name, media, "application/octet-stream")})
    document: dict[str, Any] = expect(response, 201)
    return document


def submit(client: httpx.Client, file_id: str) -> str:
    return str(expect(client.post("/v1/transcribe", json={"file_id": file_id}), 202)["job_id"])


def expect(response: httpx.Response, status: int) -> Any:
    """The response's JSON body when its status is ``status``; else RuntimeError with what came back."""
    if response.status_code != status:
        request = response.request
        raise RuntimeError(f"{request.method} {request.url.path}: {response.status_code} {response.text[:500]}")
    return response.json()


def list_jobs(client: httpx.Client) -> list[dict[str, Any]]:
    """Every job of the client's key (``GET /v1/jobs``, page after page)."""
    jobs: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = expect(client.get("/v1/jobs", params=params), 200)
        jobs += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return jobs


def wait_for_jobs(
    client: httpx.Client, job_ids: list[str], workers: list[Node]
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Poll until every job has completed (bounded; a failed job or a dead worker node is an error): when each was
    first seen out of ``queued`` (unix seconds), and each job's final document."""
    started_seen: dict[str, float] = {}
    wanted = set(job_ids)
    deadline = time.monotonic() + BATCH_TIMEOUT
    while time.monotonic() < deadline:
        seen_at = time.time()
        documents = {job["job_id"]: job for job in list_jobs(client) if job["job_id"] in wanted}
        for job_id, job in documents.items():
            if job["status"] != "queued":
                started_seen.setdefault(job_id, seen_at)
            if job["status"] == "failed":
                raise RuntimeError(f"job {job_id} failed: {job.get('error')}")
        if len(documents) == len(wanted) and all(job["status"] == "completed" for job in documents.values()):
            return started_seen, documents
        for node in workers:
            if node.process.poll() is not None:
                raise RuntimeError(f"worker node {node.name} exited ({node.process.returncode})")
        time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"{len(wanted)} jobs were not all completed within {BATCH_TIMEOUT} s")


def completions(workers: list[Node], job_ids: list[str], timeout: float = 10.0) -> dict[str, int]:
    """The worker node (1 to N, in ``workers``' order) that stored each job's completion, from the nodes' logs (a
    node logs it just after the database has the job completed, so this waits a little, bounded). A job stored twice
    is an error."""
    wanted = set(job_ids)
    deadline = time.monotonic() + timeout
    while True:
        lines = [
            (match.group(1), number)
            for number, node in enumerate(workers, start=1)
            for match in COMPLETED_LINE.finditer(node.log())
            if match.group(1) in wanted
        ]
        stored = Counter(job_id for job_id, _ in lines)
        if any(times > 1 for times in stored.values()):
            raise RuntimeError(f"a job's completion was stored twice: {stored.most_common(3)}")
        if set(stored) == wanted:
            return dict(lines)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no completion line for {sorted(wanted - set(stored))}")
        time.sleep(0.1)


def timestamp(text: str) -> float:
    """An RFC 3339 timestamp of the API (``2026-12-05T10:15:02.123Z``) as unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- output ---------------------------------------------------------------------------------------------------


def oversubscription_note(plan: Plan, cores: int) -> str:
    """What to expect of the worker counts on this many cores."""
    busiest = max(plan.worker_counts) * plan.cpu_threads
    note = (
        f"{cores} core(s) shared by every node, PostgreSQL, Redis, SeaweedFS and this client; each worker node runs "
        f"{plan.cpu_threads} engine thread(s). Throughput can grow only while worker nodes x threads <= cores"
    )
    if busiest > cores:
        note += (
            f": {max(plan.worker_counts)} worker node(s) want {busiest} threads, more than the {cores} cores, so they "
            "take turns on them (oversubscription): jobs start sooner (shorter queue wait) but each runs slower, and "
            "throughput stops growing or falls"
        )
    return note + "."


def result_table(plan: Plan, results: Results, audio_seconds: float) -> Table:
    table = Table(
        title=f"Worker nodes against one API node, PostgreSQL, Redis and S3 (SeaweedFS): {plan.model}, CPU int8, "
        f"{plan.cpu_threads} thread(s) per worker node, {plan.jobs} jobs of {audio_seconds:.1f} s per batch, "
        f"median of {plan.repeat} round(s); {results.cluster_mode}"
    )
    columns = (
        "workers",
        "threads/worker",
        "wall s",
        "wall min-max",
        "jobs/min",
        "audio s / wall s",
        "speed-up",
        "queue wait s (median)",
        "run s (median)",
        "jobs per worker node",
        "completed",
        "retries",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for row in results.rows:
        table.add_row(
            str(row.workers),
            str(row.cpu_threads),
            f"{row.wall:.2f}",
            f"{min(row.walls):.2f}-{max(row.walls):.2f}",
            f"{row.jobs_per_minute:.1f}",
            f"{row.audio_per_wall_second:.1f}",
            f"{results.speed_up(row):.2f}x",
            f"{row.queue_wait:.2f}",
            f"{row.run_time:.2f}",
            "/".join(str(jobs) for jobs in row.jobs_by_worker.values()),
            f"{row.completed}/{row.jobs_per_batch * len(row.batches)}",
            str(row.retries),
        )
    return table


def results_json(plan: Plan, results: Results) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "cluster_mode": results.cluster_mode,
        "audio": str(plan.audio),
        "model": plan.model,
        "jobs_per_batch": plan.jobs,
        "repeat": plan.repeat,
        "poll_interval_seconds": POLL_INTERVAL,
        "results": [
            {
                "workers": row.workers,
                "cpu_threads": row.cpu_threads,
                "audio_seconds_per_job": row.audio_seconds,
                "walls": row.walls,
                "median_wall": row.wall,
                "jobs_per_minute": row.jobs_per_minute,
                "audio_seconds_per_wall_second": row.audio_per_wall_second,
                "speed_up": results.speed_up(row),
                "median_queue_wait": row.queue_wait,
                "median_run_time": row.run_time,
                "jobs_by_worker": row.jobs_by_worker,
                "completed": row.completed,
                "submitted": row.jobs_per_batch * len(row.batches),
                "retries": row.retries,
                "load_averages": [batch.load_average for batch in row.batches],
            }
            for row in results.rows
        ],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--workers-hosts", default="1,2,4", help="worker node counts to measure, comma-separated (default 1,2,4)"
    )
    parser.add_argument("--jobs", type=int, default=8, help="jobs per batch, submitted at once (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds: measured batches per worker count (default 3)")
    parser.add_argument("--audio", type=Path, help="the media of every job (default: ~27 s of espeak-ng speech)")
    parser.add_argument("--cpu-threads", type=int, default=1, help="engine threads per worker node (default 1)")
    parser.add_argument("--model", default=ReferenceSettings().model, help="tiny.en, base, or a CTranslate2 directory")
    parser.add_argument(
        "--no-namespaces", action="store_true", help="nodes as plain processes on 127.0.0.1 even where netns works"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    try:
        args.worker_counts = tuple(sorted({int(part) for part in args.workers_hosts.split(",") if part.strip()}))
    except ValueError:
        parser.error(f"--workers-hosts takes counts like 1,2,4, not {args.workers_hosts!r}")
    if not args.worker_counts or min(args.worker_counts) < 1:
        parser.error("--workers-hosts needs counts >= 1")
    if min(args.jobs, args.repeat, args.cpu_threads) < 1:
        parser.error("--jobs, --repeat and --cpu-threads must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the table and what to expect of this machine's cores, write the JSON if asked."""
    args = parse_args(argv)
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="vox-workers-hosts-") as temp:
        # By default every sentence of the tests' speech, in two espeak-ng voices (about 27 s).
        audio = args.audio.resolve() if args.audio is not None else speak_all(Path(temp))[1]
        plan = Plan(
            worker_counts=args.worker_counts,
            jobs=args.jobs,
            repeat=args.repeat,
            audio=audio,
            cpu_threads=args.cpu_threads,
            model=args.model,
            use_namespaces=not args.no_namespaces,
            root=Path(temp),
        )
        results = run(plan, console)
    cores = os.cpu_count() or 1
    info = machine()
    out = Console(width=200)
    out.print(result_table(plan, results, results.rows[0].audio_seconds))
    out.print(oversubscription_note(plan, cores))
    out.print(f"{time.strftime('%Y-%m-%d')} · {cores} CPU(s), {info['cpu']} · python {info['python']}")
    if args.json is not None:
        args.json.write_text(json.dumps(results_json(plan, results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
