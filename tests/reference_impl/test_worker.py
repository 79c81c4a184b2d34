"""The worker side, unit by unit: lease owners, the job runner's outcomes (engine faked here: the real engine runs
in the API, crash and accuracy tests), progress, the maintenance round, and webhook delivery's schedule."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from conformance.receiver import WebhookReceiver
from reference_impl.db import EventState, JobStatus
from reference_impl.delivery import WebhookSender
from reference_impl.deployment import Deployment, open_deployment
from reference_impl.net import NetworkPolicy
from reference_impl.queue import JobQueue, make_huey
from reference_impl.settings import ReferenceSettings
from reference_impl.worker import JobRunner, Maintenance, owner_is_dead, worker_identity
from voxcontract.errors import UnsupportedMedia
from voxcontract.transcription import Segment, Transcript, TranscriptionOptions
from voxcontract.webhooks import WebhookSigner

HELLO = Path("mockserver/fixtures/hello.wav")


class FakePipeline:
    """Stands in for :class:`TranscriptionPipeline`: a canned answer, or an exception, after reporting progress."""

    def __init__(self, outcome: Transcript | Exception, seconds: float = 0.0) -> None:
        self.outcome = outcome
        self.seconds = seconds
        self.steps = 0

    def transcribe(self, media: Path, options: TranscriptionOptions, progress: Any = None) -> Transcript:
        for step in range(1, 5):
            time.sleep(self.seconds / 4)
            if progress is not None:
                progress(step / 4)
            self.steps = step
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


TRANSCRIPT = Transcript(
    text="Hello.", language="en", language_probability=1.0, duration_seconds=1.0, segments=(Segment(0, 0, 1, "Hello."),)
)


@pytest.fixture
def deployment(tmp_path: Path) -> Any:
    opened = open_deployment(ReferenceSettings(data_dir=str(tmp_path), lease_seconds=0.3))
    yield opened
    opened.close()


def queued_job(deployment: Deployment, options: dict[str, Any] | None = None) -> str:
    path = deployment.settings.media_path / "hello.wav"
    path.write_bytes(HELLO.read_bytes())
    media = deployment.store.create_file(
        "key_a", filename="hello.wav", content_type="audio/wav", size_bytes=1, duration_seconds=4.2, path=str(path)
    )
    job_options = {"language": "auto", "timestamps": "segment", "diarization": False, "speakers_expected": None}
    job, _ = deployment.store.create_job("key_a", media.file_id, {**job_options, **(options or {})}, {})
    return job.job_id


def runner(deployment: Deployment, outcome: Transcript | Exception, seconds: float = 0.0) -> JobRunner:
    return JobRunner(deployment, FakePipeline(outcome, seconds), worker_identity(), threading.Event())  # type: ignore[arg-type]


# Lease owners


def test_only_dead_processes_of_this_host_are_dead() -> None:
    me = worker_identity()
    host = me.split(":", 1)[0]
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    gone = int(finished.stdout)
    assert owner_is_dead(f"{host}:{gone}:abcd1234", me)
    assert owner_is_dead(f"{host}:{os.getpid()}:0ther000", me)  # our pid, an earlier life (a restarted container)
    assert not owner_is_dead(me, me)
    assert not owner_is_dead(f"{host}:{os.getppid()}:abcd1234", me)  # alive
    assert not owner_is_dead(f"another-host:{gone}:abcd1234", me)  # never guessed for other hosts
    assert not owner_is_dead("garbage", me)


# The job runner


def test_a_run_completes_the_job_with_the_engines_transcript(deployment: Deployment) -> None:
    job_id = queued_job(deployment)
    runner(deployment, TRANSCRIPT)(job_id)
    job = deployment.store.get_job("key_a", job_id)
    assert job is not None
    assert (job.status, job.progress, job.attempts, job.lease_owner) == (JobStatus.COMPLETED, 1.0, 1, None)
    assert job.result == TRANSCRIPT.job_fields()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UnsupportedMedia("the media could not be decoded as audio"), "unsupported_media"),
        (RuntimeError("CUDA out of memory"), "transcription_failed"),
    ],
)
def test_engine_errors_fail_the_job_with_a_code(deployment: Deployment, error: Exception, code: str) -> None:
    job_id = queued_job(deployment)
    runner(deployment, error)(job_id)
    job = deployment.store.get_job("key_a", job_id)
    assert job is not None
    assert (job.status, job.error_code) == (JobStatus.FAILED, code)
    assert "CUDA" not in (job.error_message or "")  # internal details stay in the log
    assert job.error_message


def test_progress_is_reported_while_the_engine_works(deployment: Deployment) -> None:
    job_id = queued_job(deployment)
    seen: list[float] = []
    work = threading.Thread(target=runner(deployment, TRANSCRIPT, seconds=1.6), args=(job_id,))
    work.start()
    while work.is_alive():
        job = deployment.store.get_job("key_a", job_id)
        assert job is not None
        seen.append(job.progress)
        time.sleep(0.05)
    assert seen == sorted(seen)  # never decreases
    assert any(0 < value < 1 for value in seen), seen


def test_a_job_is_claimed_once_and_a_deleted_job_is_left_alone(deployment: Deployment) -> None:
    job_id = queued_job(deployment)
    first = runner(deployment, TRANSCRIPT)
    first(job_id)
    first(job_id)  # a duplicate announcement
    job = deployment.store.get_job("key_a", job_id)
    assert job is not None
    assert job.attempts == 1
    gone = queued_job(deployment)
    assert deployment.store.delete_job("key_a", gone)
    first(gone)
    assert deployment.store.get_job("key_a", gone) is None


def test_a_job_deleted_while_running_stops_the_engine(deployment: Deployment) -> None:
    job_id = queued_job(deployment)
    pipeline = FakePipeline(TRANSCRIPT, seconds=4.0)
    work = threading.Thread(
        target=JobRunner(deployment, pipeline, worker_identity(), threading.Event()),  # type: ignore[arg-type]
        args=(job_id,),
    )
    work.start()
    deadline = time.monotonic() + 10
    while (job := deployment.store.get_job("key_a", job_id)) and job.status != JobStatus.PROCESSING:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert deployment.store.delete_job("key_a", job_id)
    work.join(timeout=10)
    assert not work.is_alive()
    assert pipeline.steps < 4  # stopped at its next progress report after the lease was found lost
    assert deployment.store.get_job("key_a", job_id) is None


def test_a_job_past_its_deadline_stops_at_the_next_check_and_fails(tmp_path: Path) -> None:
    settings = ReferenceSettings(data_dir=str(tmp_path), job_deadline_factor=0.1, job_deadline_min_seconds=0.1)
    opened = open_deployment(settings)
    try:
        job_id = queued_job(opened)  # 4.2 s of media: 0.1 x 4.2 + 0.1 = 0.52 s allowed
        pipeline = FakePipeline(TRANSCRIPT, seconds=4.0)  # a progress report every second
        JobRunner(opened, pipeline, worker_identity(), threading.Event())(job_id)  # type: ignore[arg-type]
        job = opened.store.get_job("key_a", job_id)
        assert job is not None
        assert (job.status, job.error_code) == (JobStatus.FAILED, "processing_timeout")
        assert job.error_message == (
            "The job ran past its processing deadline of 1 s (0.1 x the media's 4 s + 0.1 s) and was stopped."
        )
        assert pipeline.steps == 0  # the first report, after a second, found the deadline passed
    finally:
        opened.close()


def test_the_deadline_grows_with_the_media(deployment: Deployment) -> None:
    allowed = runner(deployment, TRANSCRIPT).time_allowed
    assert allowed(0.0) == 300.0  # the defaults: 10 x the duration + 300 s
    assert allowed(3600.0) == 36_300.0


def test_release_all_gives_running_jobs_back(deployment: Deployment) -> None:
    job_id = queued_job(deployment)
    slow = runner(deployment, TRANSCRIPT, seconds=1.0)
    work = threading.Thread(target=slow, args=(job_id,))
    work.start()
    deadline = time.monotonic() + 10
    while (job := deployment.store.get_job("key_a", job_id)) and job.status != JobStatus.PROCESSING:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert slow.release_all() == 1
    work.join()
    job = deployment.store.get_job("key_a", job_id)
    assert job is not None
    assert job.status == JobStatus.QUEUED  # the late result was discarded: the job is no longer this worker's


# The maintenance round


def maintenance(deployment: Deployment, tmp_path: Path) -> Maintenance:
    settings = ReferenceSettings(data_dir=str(tmp_path))
    queue = JobQueue(make_huey(settings))
    sender = WebhookSender(deployment.store.outbox, deployment.keys, NetworkPolicy(), schedule=(), timeout=1)
    return Maintenance(deployment, queue, sender, worker_identity(), threading.Event())


def test_lost_announcements_are_made_again_once(deployment: Deployment, tmp_path: Path) -> None:
    rounds = maintenance(deployment, tmp_path)
    job_id = queued_job(deployment)
    assert rounds.queue.pending() == 0
    assert rounds.announce_waiting() == 1
    assert rounds.queue.pending() == 1
    assert rounds.announce_waiting() == 0  # an announcement is waiting: no more
    rounds.queue.huey.flush()
    assert deployment.store.claimable_job_ids(10) == [job_id]


def test_jobs_of_a_dead_worker_resume_at_once(deployment: Deployment, tmp_path: Path) -> None:
    rounds = maintenance(deployment, tmp_path)
    job_id = queued_job(deployment)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead = f"{worker_identity().split(':')[0]}:{int(finished.stdout)}:deadbeef"
    assert deployment.store.claim_next(dead, lease_seconds=3600) is not None
    assert deployment.store.claimable_job_ids(10) == []
    assert rounds.recover() == 1
    assert deployment.store.claimable_job_ids(10) == [job_id]


# Webhook delivery


def test_retries_follow_the_schedule_with_jitter() -> None:
    sender = WebhookSender(None, None, NetworkPolicy(), schedule=(5, 30), timeout=1, rng=random.Random(7))  # type: ignore[arg-type]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for attempt, base in ((1, 5), (2, 30)):
        for _ in range(50):
            retry = sender.retry_at(attempt, now)
            assert retry is not None
            assert base * 0.8 <= (retry - now).total_seconds() <= base * 1.2
    assert sender.retry_at(3, now) is None


def ended_job_with_webhook(deployment: Deployment, url: str) -> str:
    _, key = deployment.keys.create("hooks")
    path = deployment.settings.media_path / "hello.wav"
    media = deployment.store.create_file(
        key.key_id, filename="h.wav", content_type="audio/wav", size_bytes=1, duration_seconds=1, path=str(path)
    )
    options = {"language": "auto", "timestamps": "segment", "diarization": False, "webhook_url": url}
    job, _ = deployment.store.create_job(key.key_id, media.file_id, options, {})
    claimed = deployment.store.claim_next("w", 60, job_id=job.job_id)
    assert claimed is not None
    assert deployment.store.complete(job.job_id, "w", TRANSCRIPT.job_fields())
    return job.job_id


def test_a_refused_webhook_address_is_given_up_at_once(deployment: Deployment) -> None:
    job_id = ended_job_with_webhook(deployment, "http://10.0.0.1/hook")
    sender = WebhookSender(deployment.store.outbox, deployment.keys, NetworkPolicy(), schedule=(0, 0), timeout=1)
    assert anyio.run(sender.send_due) == 1
    event = deployment.store.outbox.event_for_job(job_id)
    assert event is not None
    assert event.state == EventState.FAILED
    (attempt,) = deployment.store.outbox.event_attempts(event.event_id)
    assert attempt.status_code is None
    assert "private" in (attempt.error or "")


def test_a_failing_receiver_gets_retries_with_one_id_then_delivery(deployment: Deployment) -> None:
    with WebhookReceiver() as receiver:  # fails the first attempt of every event id
        job_id = ended_job_with_webhook(deployment, receiver.public_url)
        policy = NetworkPolicy(allowlist=(f"127.0.0.1:{receiver.port}",))
        sender = WebhookSender(deployment.store.outbox, deployment.keys, policy, schedule=(0, 0), timeout=5)
        assert anyio.run(sender.send_due) == 1
        assert anyio.run(sender.send_due) == 1
        deliveries = receiver.deliveries()
    event = deployment.store.outbox.event_for_job(job_id)
    assert event is not None
    assert event.state == EventState.DELIVERED
    assert [d.answered for d in deliveries] == [500, 200]
    assert {d.webhook_id for d in deliveries} == {event.event_id}
    secret = deployment.keys.webhook_secret(event.key_id)
    assert secret is not None
    for delivery in deliveries:
        WebhookSigner(secret).verify(delivery.body, delivery.headers)
    assert [a.status_code for a in deployment.store.outbox.event_attempts(event.event_id)] == [500, 200]
    assert datetime.now(UTC) - event.created_at < timedelta(minutes=1)
