"""Several hosts for real (issue 13): an API node and two worker nodes that share nothing but PostgreSQL, Redis and
an S3 store (each in its own network namespace and host name where the machine allows it, see
:mod:`tests.reference_impl.cluster`), a batch of jobs through the API, ``kill -9`` of the worker node that is
transcribing, and every job completed once, with one webhook id per event, the killed node's job by the other node;
a second API node serves the same jobs, and the two share one rate limit through Redis."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.receiver import Delivery, WebhookReceiver
from reference_impl.db import Job
from tests.reference_impl.cluster import Cluster, Node
from tests.reference_impl.speech import SENTENCES, speak
from tests.reference_impl.support import start_job, upload

pytestmark = pytest.mark.slow

JOBS = 8
#: Per API key, on both API nodes: counted in Redis, so the two nodes together allow this many a minute. The test's
#: own key makes fewer requests than this (uploads, jobs, the checks at the end): its jobs are watched in the database.
RATE_LIMIT = 60
#: Requests of the rate-limit check, sent to the two nodes in turn: past the shared limit, and each node's share
#: under the limit, so that per-node (memory) counters would refuse none of them.
RATE_PROBES = RATE_LIMIT + 12
BATCH_SECONDS = 120.0
#: What a node logs when it frees the jobs of a dead process of its own host.
STOPPED_WORKERS = "job(s) of stopped worker(s)"
ATTEMPT_LINE = re.compile(r"job (job_\w+): attempt \d+ on ")
COMPLETED_LINE = re.compile(r"job (job_\w+) completed: .* \(stored\)")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Eight recordings of about 40 s (nine sentences each, in turn): each a few seconds' work for a worker node, so
    that the one killed dies mid-job."""
    folder = tmp_path_factory.mktemp("multi-host-speech")
    sentences = [(voice, line) for voice, lines in SENTENCES.items() for line in lines]
    paths = []
    for index in range(JOBS):
        chosen = [sentences[(index + offset) % len(sentences)] for offset in range(9)]
        voice = chosen[0][0]
        paths.append(speak(voice, " ".join(line for _, line in chosen), folder / f"speech-{index}.wav"))
    return paths


@pytest.fixture(params=["namespaces", "processes"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """The cluster with a network namespace per node where the machine allows it (else the fallback, said so), and
    in the fallback itself: separate processes on 127.0.0.1, as on a machine without ``ip netns``."""
    with Cluster(tmp_path, use_namespaces=request.param == "namespaces") as running:
        yield running


def test_jobs_survive_kill_9_of_a_worker_host_and_any_api_node_serves_them(
    cluster: Cluster,
    speech: list[Path],
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    with capsys.disabled():
        print(f"\nmulti-host cluster mode: {cluster.mode_description}")
    record_property("cluster_mode", cluster.mode)
    key, rate_key = cluster.create_key("batch"), cluster.create_key("rate-limit")
    with WebhookReceiver(host=cluster.services_host) as receiver:
        settings = {
            "VOXCONTRACT_URL_ALLOWLIST": f"{cluster.services_host}:{receiver.port}",
            "VOXCONTRACT_RATE_LIMIT": f"{RATE_LIMIT}/minute",
        }
        api, api_2 = (cluster.add_api_node(name, settings) for name in ("api-1", "api-2"))
        workers = [cluster.add_worker_node(name, settings) for name in ("worker-a", "worker-b")]
        api.wait_healthy()
        api_2.wait_healthy()
        try:
            killed, orphans = run_the_batch(cluster, api, api_2, workers, key, receiver, speech)
            check_the_shared_rate_limit(api, api_2, rate_key)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{cluster.logs()}") from failure
    with capsys.disabled():
        print(f"killed {killed} holding {', '.join(orphans)}; {JOBS} jobs completed once; rate limit shared")


def run_the_batch(
    cluster: Cluster,
    api: Node,
    api_2: Node,
    workers: list[Node],
    key: str,
    receiver: WebhookReceiver,
    speech: list[Path],
) -> tuple[str, list[str]]:
    """Run the batch, kill a worker node mid-job, check the outcome; the killed node's name and its jobs."""
    with api.client(key) as client:
        job_ids = [
            start_job(client, upload(client, path)["file_id"], webhook_url=receiver.public_url)["job_id"]
            for path in speech
        ]
    killed, survivor, orphans = kill_a_transcribing_worker(cluster, workers)
    ended = wait_until_ended(cluster, job_ids)
    assert all(job.status == "completed" for job in ended), [(job.job_id, job.status) for job in ended]
    for orphan in orphans:
        assert ended_job(ended, orphan).attempts >= 2, "the killed node's job was not claimed again"
    completions = wait_for_completion_lines(workers, job_ids)
    # Exactly once: one stored completion per job across the worker nodes (a conditional end refuses a second).
    assert Counter(job_id for job_id, _ in completions) == Counter(job_ids), completions
    # The killed node's jobs were finished by the other node.
    finished_by = dict(completions)
    assert all(finished_by[orphan] == survivor.name for orphan in orphans), (orphans, finished_by)
    assert all(f"job {orphan}: attempt 1 on" in killed.log() for orphan in orphans)
    if cluster.mode == "netns":
        # Separate hosts: no node can see that the killed node's process is gone; its lease expiring freed its job.
        assert not any(STOPPED_WORKERS in node.log() for node in cluster.nodes)
    check_webhooks(receiver, job_ids)
    check_served_by_both_api_nodes(api, api_2, key, job_ids, orphans)
    return killed.name, orphans


def kill_a_transcribing_worker(cluster: Cluster, workers: list[Node]) -> tuple[Node, Node, list[str]]:
    """``kill -9`` the first worker node seen transcribing a job (it holds the job's lease, and its log says the
    engine started on it: a few seconds of work are left); that node, the other, and the jobs the killed node held
    (read after its death)."""
    deadline = time.monotonic() + BATCH_SECONDS
    while time.monotonic() < deadline:
        for job in cluster.jobs():
            victim = next((node for node in workers if node.holds(job.lease_owner)), None)
            if victim is not None and job.status == "processing" and transcribing(victim) == job.job_id:
                victim.kill()
                orphans = [row.job_id for row in cluster.jobs() if victim.holds(row.lease_owner)]
                assert orphans, f"{victim.name} held no job when it died (its job {job.job_id} ended first)"
                survivor = next(node for node in workers if node is not victim)
                assert survivor.process.poll() is None, f"{survivor.name} exited:\n{survivor.log()[-3000:]}"
                return victim, survivor, orphans
        time.sleep(0.05)
    raise AssertionError(f"no worker node was seen transcribing within {BATCH_SECONDS} s")


def transcribing(node: Node) -> str | None:
    """The job the worker node's engine works on, by its log: the last attempt it began, once the engine has started
    on its audio."""
    log = node.log()
    begun = list(ATTEMPT_LINE.finditer(log))
    if not begun or "Processing audio with duration" not in log[begun[-1].end() :]:
        return None
    return begun[-1].group(1)


def wait_until_ended(cluster: Cluster, job_ids: list[str]) -> list[Job]:
    """The jobs' rows once none is queued or processing (bounded)."""
    deadline = time.monotonic() + BATCH_SECONDS
    while True:
        rows = [job for job in cluster.jobs() if job.job_id in job_ids]
        if len(rows) == len(job_ids) and all(job.status in ("completed", "failed") for job in rows):
            return rows
        statuses = {job.job_id: (job.status, job.lease_owner) for job in rows}
        assert time.monotonic() < deadline, f"jobs still running after {BATCH_SECONDS} s: {statuses}"
        time.sleep(0.1)


def ended_job(rows: list[Job], job_id: str) -> Job:
    return next(job for job in rows if job.job_id == job_id)


def wait_for_completion_lines(workers: list[Node], job_ids: list[str]) -> list[tuple[str, str]]:
    """(job id, worker node) of every stored completion in the worker nodes' logs, once each job has one (a node
    logs the line just after the database has the job completed)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [(match.group(1), node.name) for node in workers for match in COMPLETED_LINE.finditer(node.log())]
        if {job_id for job_id, _ in lines} >= set(job_ids) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def check_webhooks(receiver: WebhookReceiver, job_ids: list[str]) -> None:
    """Each job's completion event arrived (answered 200 at least once: the receiver fails first attempts), under
    one webhook id however often it came (at-least-once delivery, a worker dying, retries)."""

    def delivered(deliveries: list[Delivery]) -> bool:
        return {item.job_id for item in deliveries if item.answered == 200} >= set(job_ids)

    deliveries = receiver.wait_for(delivered, timeout=30)
    assert delivered(deliveries), f"not every job's webhook was delivered: {[d.job_id for d in deliveries]}"
    ids_by_job: dict[str | None, set[str | None]] = defaultdict(set)
    for item in deliveries:
        assert b'"type":"transcription.completed"' in item.body, item.body[:300]
        ids_by_job[item.job_id].add(item.webhook_id)
    assert set(ids_by_job) == set(job_ids), ids_by_job
    assert all(len(ids) == 1 and None not in ids for ids in ids_by_job.values()), ids_by_job


def check_served_by_both_api_nodes(api: Node, api_2: Node, key: str, job_ids: list[str], orphans: list[str]) -> None:
    """The first API node and a second one (same database, Redis and S3) give the same jobs and transcripts."""
    with api.client(key) as client, api_2.client(key) as client_2:
        for job_id in job_ids:
            first, second = client.get(f"/v1/status/{job_id}"), client_2.get(f"/v1/status/{job_id}")
            assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
            job = first.json()
            assert job["status"] == "completed", job
            assert second.json() == job
            text = client_2.get(f"/v1/transcripts/{job_id}", params={"format": "text"})
            assert text.status_code == 200, text.text
            assert text.text.split() == job["transcript"].split() != []
            if job_id in orphans:
                assert any(word in job["transcript"].lower() for word in ("report", "team", "lunch", "laptop"))


def check_the_shared_rate_limit(api: Node, api_2: Node, key: str) -> None:
    """Requests of one key sent to the two API nodes in turn: the first :data:`RATE_LIMIT` pass, every later one is
    a 429 on either node. Each node got fewer than :data:`RATE_LIMIT` requests, so only counters shared through
    Redis refuse any."""
    answers: list[tuple[str, int]] = []
    with api.client(key) as client, api_2.client(key) as client_2:
        for index in range(RATE_PROBES):
            node, http = (api, client) if index % 2 == 0 else (api_2, client_2)
            answers.append((node.name, http.get("/v1/jobs").status_code))
    per_node = Counter(name for name, _ in answers)
    assert max(per_node.values()) < RATE_LIMIT, per_node
    statuses = [status for _, status in answers]
    assert statuses == [200] * RATE_LIMIT + [429] * (RATE_PROBES - RATE_LIMIT), answers
    refused_by = {name for name, status in answers if status == 429}
    assert refused_by == {api.name, api_2.name}, answers
