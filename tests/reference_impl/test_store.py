"""The job store on real databases, SQLite (the default) and PostgreSQL (by configuration): tenant scoping,
idempotency, the claim/lease protocol, events, purging."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from sqlalchemy import Engine, func, select

from reference_impl.db import File, Job, JobStatus, create_schema, default_url, make_engine, make_sessions
from reference_impl.deployment import open_deployment
from reference_impl.settings import ReferenceSettings
from reference_impl.store import TRANSCRIPTION_FAILED, JobStore
from voxcontract.errors import FileInUse, IdempotencyKeyReused, NotFound, ServiceUnavailable
from voxcontract.spec import load_spec

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FILE_ID, OTHER_FILE_ID = "file_8Yq2Lw5ZtB3nK7cD", "file_Zx81Lw5ZtB3nK7cQ"
B_FILE_ID = "file_Bb81Lw5ZtB3nK7cB"
#: The files every store test starts with: jobs can only be made on a file of their own key.
SEED_FILES = {FILE_ID: "key_a", OTHER_FILE_ID: "key_a", B_FILE_ID: "key_b"}
OPTIONS = {
    "language": "auto",
    "timestamps": "segment",
    "diarization": False,
    "speakers_expected": None,
    "webhook_url": None,
    "retention": {"delete_after_retrieval": False, "ttl_seconds": None},
}
PRAGMAS = ("journal_mode", "foreign_keys", "busy_timeout")
HOOKED = {**OPTIONS, "webhook_url": "https://hooks.example.com/vox"}
RESULT = {
    "transcript": "Hello.",
    "language": "en",
    "language_probability": 0.99,
    "duration_seconds": 1.5,
    "segments": [{"id": 0, "start": 0.0, "end": 1.5, "text": "Hello."}],
}


class Stores:
    """Opens stores on one database file, each with its own engine (like separate processes), and closes them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engines: list[Engine] = []

    def open(self, **settings: Any) -> JobStore:
        """A store as a deployment with ``settings`` opens it (no running limit per key unless they give one)."""
        engine = make_engine(self.url)
        create_schema(engine)
        self.engines.append(engine)
        sessions = make_sessions(engine)
        with sessions.begin() as session:
            for file_id, key_id in SEED_FILES.items():
                if session.get(File, file_id) is None:
                    session.add(seed_file(file_id, key_id))
        return JobStore.for_settings(sessions, store_settings(**settings))


def store_settings(**settings: Any) -> ReferenceSettings:
    return ReferenceSettings(**{"max_running_jobs_per_key": 0, **settings})


def seed_file(file_id: str, key_id: str) -> File:
    return File(
        file_id=file_id,
        key_id=key_id,
        filename="seed.wav",
        content_type="audio/wav",
        size_bytes=1,
        duration_seconds=1.0,
        path=f"/m/{file_id}",
        created_at=T0,
        expires_at=T0 + timedelta(days=365),
    )


class MediaLog:
    """What a store asked the media store to remove (or, set to fail, refuses like a read-only disk)."""

    def __init__(self) -> None:
        self.removed: list[str] = []
        self.fail = False

    def __call__(self, path: str) -> None:
        if self.fail:
            raise ServiceUnavailable("read-only")
        self.removed.append(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'voxcontract.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    opened = Stores(url)
    yield opened
    for engine in opened.engines:
        engine.dispose()


@pytest.fixture
def store(stores: Stores) -> JobStore:
    return stores.open()


def queue(store: JobStore, count: int = 1, *, key_id: str = "key_a", options: dict[str, Any] = OPTIONS) -> list[Job]:
    """``count`` queued jobs, one second apart from T0."""
    created = [store.create_job(key_id, FILE_ID, options, {}, now=T0 + timedelta(seconds=i)) for i in range(count)]
    return [job for job, _ in created]


def job_count(store: JobStore) -> int:
    with store._sessions() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


# The database


def test_sqlite_connections_use_wal_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    stores = Stores(f"sqlite:///{tmp_path / 'voxcontract.db'}")
    engine = make_engine(stores.url)
    stores.engines.append(engine)
    with engine.connect() as connection:
        pragmas = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in PRAGMAS}
    engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000}


def test_the_default_database_lives_in_the_data_directory(tmp_path: Path) -> None:
    assert default_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'voxcontract.db'}"


# Tenancy


def test_files_belong_to_their_key(store: JobStore) -> None:
    record = store.create_file(
        "key_a", filename="a.wav", content_type="audio/wav", size_bytes=10, duration_seconds=1.0, path="/m/a"
    )
    assert record.file_id.startswith("file_")
    assert store.get_file("key_b", record.file_id) is None
    media = MediaLog()
    assert store.delete_file("key_b", record.file_id, media) is None
    found = store.get_file("key_a", record.file_id)
    assert found is not None
    assert found.expires_at - found.created_at == store.file_ttl
    deleted = store.delete_file("key_a", record.file_id, media)
    assert deleted is not None
    assert deleted.path == "/m/a"
    assert media.removed == ["/m/a"]
    assert store.get_file("key_a", record.file_id) is None


def test_a_file_and_its_media_are_deleted_together_or_not_at_all(store: JobStore) -> None:
    media = MediaLog()
    media.fail = True
    with pytest.raises(ServiceUnavailable):
        store.delete_file("key_a", FILE_ID, media)
    assert store.get_file("key_a", FILE_ID) is not None, "the row went without its media"
    media.fail = False
    assert store.delete_file("key_a", FILE_ID, media) is not None
    assert media.removed == [f"/m/{FILE_ID}"]


def test_a_file_that_an_active_job_needs_is_not_deleted(store: JobStore) -> None:
    media = MediaLog()
    (job,) = queue(store)
    with pytest.raises(FileInUse, match=job.job_id):
        store.delete_file("key_a", FILE_ID, media)
    assert store.claim_next("w1", 60, now=T0)
    with pytest.raises(FileInUse):
        store.delete_file("key_a", FILE_ID, media)
    assert store.complete(job.job_id, "w1", RESULT, now=T0)
    assert store.delete_file("key_a", FILE_ID, media) is not None
    assert media.removed == [f"/m/{FILE_ID}"]


def test_a_job_needs_an_existing_file_of_its_key(store: JobStore) -> None:
    with pytest.raises(NotFound):
        store.create_job("key_a", B_FILE_ID, OPTIONS, {})
    store.delete_file("key_a", OTHER_FILE_ID, MediaLog())
    with pytest.raises(NotFound):
        store.create_job("key_a", OTHER_FILE_ID, OPTIONS, {})
    assert job_count(store) == 0


def test_retention_keeps_a_file_that_another_active_job_needs(store: JobStore) -> None:
    media = MediaLog()
    done, waiting = queue(store, 2)
    assert store.claim_next("w1", 60, now=T0)
    assert store.complete(done.job_id, "w1", RESULT, now=T0)
    assert store.purge_job("key_a", done.job_id, media)
    assert store.get_job("key_a", done.job_id) is None
    assert store.get_file("key_a", FILE_ID) is not None
    assert media.removed == []
    assert store.claim_next("w1", 60, now=T0)
    assert store.complete(waiting.job_id, "w1", RESULT, now=T0)
    assert store.purge_job("key_a", waiting.job_id, media)
    assert store.get_file("key_a", FILE_ID) is None
    assert media.removed == [f"/m/{FILE_ID}"]


def test_a_purge_whose_media_cannot_be_removed_keeps_the_job(store: JobStore) -> None:
    media = MediaLog()
    media.fail = True
    (job,) = queue(store)
    assert store.claim_next("w1", 60, now=T0)
    assert store.complete(job.job_id, "w1", RESULT, now=T0)
    with pytest.raises(ServiceUnavailable):
        store.purge_job("key_a", job.job_id, media)
    assert store.get_job("key_a", job.job_id) is not None
    assert store.expire_job("key_a", job.job_id, now=T0)
    media.fail = False
    store.purge_expired(media, now=T0 + timedelta(seconds=1))
    assert store.get_job("key_a", job.job_id) is None


def test_jobs_belong_to_their_key(store: JobStore) -> None:
    (job,) = queue(store)
    assert store.get_job("key_b", job.job_id) is None
    assert store.list_jobs("key_b").jobs == []
    assert store.delete_job("key_b", job.job_id) is False
    assert store.get_job("key_a", job.job_id) is not None
    assert store.delete_job("key_a", job.job_id) is True
    assert store.get_job("key_a", job.job_id) is None


# Idempotency


def test_same_idempotency_key_and_body_gives_the_first_job(store: JobStore) -> None:
    first, created = store.create_job("key_a", FILE_ID, OPTIONS, {}, idempotency_key="k1", request_hash="h1")
    again, created_again = store.create_job("key_a", FILE_ID, OPTIONS, {}, idempotency_key="k1", request_hash="h1")
    assert (created, created_again) == (True, False)
    assert again.job_id == first.job_id
    assert job_count(store) == 1


def test_same_idempotency_key_with_another_body_is_refused(store: JobStore) -> None:
    store.create_job("key_a", FILE_ID, OPTIONS, {}, idempotency_key="k1", request_hash="h1")
    with pytest.raises(IdempotencyKeyReused):
        store.create_job("key_a", OTHER_FILE_ID, OPTIONS, {}, idempotency_key="k1", request_hash="h2")


def test_idempotency_keys_are_per_api_key(store: JobStore) -> None:
    a, _ = store.create_job("key_a", FILE_ID, OPTIONS, {}, idempotency_key="k1", request_hash="h1")
    b, created = store.create_job("key_b", B_FILE_ID, OPTIONS, {}, idempotency_key="k1", request_hash="h1")
    assert created
    assert a.job_id != b.job_id


def test_concurrent_requests_with_one_idempotency_key_make_one_job(stores: Stores) -> None:
    racers = [stores.open() for _ in range(8)]
    start = threading.Barrier(len(racers))

    def submit(store: JobStore) -> tuple[str, bool]:
        start.wait()
        job, created = store.create_job("key_a", FILE_ID, OPTIONS, {}, idempotency_key="race", request_hash="h")
        return job.job_id, created

    with ThreadPoolExecutor(len(racers)) as pool:
        outcomes = list(pool.map(submit, racers))
    assert len({job_id for job_id, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1
    assert job_count(racers[0]) == 1


# Listing


def test_listing_is_newest_first_a_page_at_a_time(store: JobStore) -> None:
    jobs = queue(store, 5)
    newest_first = [job.job_id for job in reversed(jobs)]
    seen: list[str] = []
    page = store.list_jobs("key_a", limit=2)
    while True:
        seen += [job.job_id for job in page.jobs]
        if page.next_cursor is None:
            break
        page = store.list_jobs("key_a", limit=2, before=page.next_cursor)
    assert seen == newest_first
    assert store.list_jobs("key_a", limit=5).next_cursor is None


def test_listing_filters_by_status(store: JobStore) -> None:
    queue(store, 3)
    claimed = store.claim_next("w1", 60, now=T0 + timedelta(minutes=1))
    assert claimed is not None
    assert [job.job_id for job in store.list_jobs("key_a", status=JobStatus.PROCESSING).jobs] == [claimed.job_id]
    assert len(store.list_jobs("key_a", status=JobStatus.QUEUED).jobs) == 2


# The claim and lease protocol


def drain(store: JobStore, worker_id: str, start: threading.Barrier | None = None) -> list[str]:
    """Claim and complete jobs until the queue is empty; the ids this worker claimed."""
    if start is not None:
        start.wait()
    claimed = []
    while (job := store.claim_next(worker_id, 60)) is not None:
        claimed.append(job.job_id)
        assert store.complete(job.job_id, worker_id, RESULT)
    return claimed


def test_two_workers_never_claim_the_same_job(stores: Stores) -> None:
    store = stores.open()
    jobs = queue(store, 50)
    workers, start = [stores.open(), stores.open()], threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        claims = list(pool.map(drain, workers, ["w1", "w2"], [start, start]))
    assert all(claims), "both workers took part"
    every = claims[0] + claims[1]
    assert len(every) == len(set(every)) == 50
    assert set(every) == {job.job_id for job in jobs}
    assert {job.attempts for job in store.list_jobs("key_a", limit=50).jobs} == {1}


def _drain_in_process(url: str, worker_id: str) -> list[str]:
    engine = make_engine(url)
    try:
        return drain(JobStore.for_settings(make_sessions(engine), store_settings()), worker_id)
    finally:
        engine.dispose()


def test_two_processes_never_claim_the_same_job(stores: Stores) -> None:
    queue(stores.open(), 30)
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        claims = list(pool.map(_drain_in_process, [stores.url] * 2, ["p1", "p2"]))
    every = claims[0] + claims[1]
    assert len(every) == len(set(every)) == 30


def test_claims_take_the_oldest_job_first(store: JobStore) -> None:
    jobs = queue(store, 3)
    claimed = [store.claim_next("w1", 60, now=T0 + timedelta(minutes=1)) for _ in jobs]
    assert [job.job_id for job in claimed if job] == [job.job_id for job in jobs]
    assert store.claim_next("w1", 60, now=T0 + timedelta(minutes=1)) is None


def test_an_expired_lease_is_taken_over_and_the_first_worker_loses_the_job(store: JobStore) -> None:
    (job,) = queue(store)
    first = store.claim_next("w1", 30, now=T0)
    assert first is not None
    assert (first.status, first.attempts, first.lease_owner) == (JobStatus.PROCESSING, 1, "w1")
    assert store.claim_next("w2", 30, now=T0 + timedelta(seconds=29)) is None
    second = store.claim_next("w2", 30, now=T0 + timedelta(seconds=31))
    assert second is not None
    assert (second.job_id, second.attempts, second.lease_owner) == (job.job_id, 2, "w2")
    assert not store.renew_lease(job.job_id, "w1", 30)
    assert not store.complete(job.job_id, "w1", RESULT)
    assert not store.fail(job.job_id, "w1", TRANSCRIPTION_FAILED, "late")
    assert store.complete(job.job_id, "w2", RESULT)
    done = store.get_job("key_a", job.job_id)
    assert done is not None
    assert (done.status, done.progress, done.result, done.lease_owner) == (JobStatus.COMPLETED, 1.0, RESULT, None)


def test_renewing_keeps_the_job_and_progress_never_decreases(store: JobStore) -> None:
    (job,) = queue(store)
    assert store.claim_next("w1", 30, now=T0)
    assert store.renew_lease(job.job_id, "w1", 30, progress=0.5, now=T0 + timedelta(seconds=20))
    assert store.renew_lease(job.job_id, "w1", 30, progress=0.25, now=T0 + timedelta(seconds=40))
    assert store.claim_next("w2", 30, now=T0 + timedelta(seconds=45)) is None
    current = store.get_job("key_a", job.job_id)
    assert current is not None
    assert current.progress == 0.5
    assert current.lease_expires_at == T0 + timedelta(seconds=70)


def test_terminal_states_never_change(store: JobStore) -> None:
    done, failed = queue(store, 2)
    assert store.claim_next("w1", 30, now=T0)
    assert store.claim_next("w1", 30, now=T0)
    assert store.complete(done.job_id, "w1", RESULT)
    assert store.fail(failed.job_id, "w1", TRANSCRIPTION_FAILED, "the engine crashed")
    later = T0 + timedelta(hours=1)
    for job in (done, failed):
        assert not store.complete(job.job_id, "w1", RESULT)
        assert not store.fail(job.job_id, "w1", TRANSCRIPTION_FAILED, "again")
        assert not store.renew_lease(job.job_id, "w1", 30)
        assert not store.release(job.job_id, "w1")
    assert store.claim_next("w2", 30, now=later) is None
    assert store.requeue_expired(now=later) == 0
    states = {job.job_id: (job.status, job.error_code) for job in store.list_jobs("key_a").jobs}
    assert states == {done.job_id: ("completed", None), failed.job_id: ("failed", TRANSCRIPTION_FAILED)}


def test_a_job_abandoned_too_often_ends_failed(stores: Stores) -> None:
    store = stores.open(max_attempts=2)
    (job,) = queue(store, options=HOOKED)
    assert store.claim_next("w1", 10, now=T0)
    assert store.claim_next("w2", 10, now=T0 + timedelta(seconds=11))
    assert store.claim_next("w3", 10, now=T0 + timedelta(seconds=22)) is None
    ended = store.get_job("key_a", job.job_id)
    assert ended is not None
    assert (ended.status, ended.error_code, ended.attempts) == (JobStatus.FAILED, TRANSCRIPTION_FAILED, 2)
    assert ended.error_message is not None
    assert "2 attempts" in ended.error_message
    event = store.outbox.event_for_job(job.job_id)
    assert event is not None
    assert event.event_type == "transcription.failed"


def test_requeue_expired_puts_abandoned_jobs_back_in_the_queue(store: JobStore) -> None:
    (job,) = queue(store)
    assert store.claim_next("w1", 10, now=T0)
    assert store.requeue_expired(now=T0 + timedelta(seconds=5)) == 0
    assert store.requeue_expired(now=T0 + timedelta(seconds=11)) == 1
    requeued = store.get_job("key_a", job.job_id)
    assert requeued is not None
    assert (requeued.status, requeued.lease_owner) == (JobStatus.QUEUED, None)
    again = store.claim_next("w2", 10, now=T0 + timedelta(seconds=12))
    assert again is not None
    assert again.attempts == 2


def test_a_released_job_goes_back_to_the_queue(store: JobStore) -> None:
    (job,) = queue(store)
    assert store.claim_next("w1", 60, now=T0)
    assert not store.release(job.job_id, "w2")
    assert store.release(job.job_id, "w1")
    again = store.claim_next("w2", 60, now=T0)
    assert again is not None
    assert again.job_id == job.job_id


def test_a_job_survives_a_crash_and_is_claimed_after_a_restart(stores: Stores) -> None:
    before = stores.open()
    (job,) = queue(before)
    assert before.claim_next("w-before", 60, now=T0)
    stores.engines[0].dispose()  # the process dies without completing the job
    after = stores.open()
    assert after.claim_next("w-after", 60, now=T0 + timedelta(seconds=30)) is None
    resumed = after.claim_next("w-after", 60, now=T0 + timedelta(seconds=61))
    assert resumed is not None
    assert (resumed.job_id, resumed.attempts, resumed.lease_owner) == (job.job_id, 2, "w-after")


# Webhook events


def validate_webhook_event(payload: Any) -> None:
    document = load_spec()
    schema = {"$ref": "#/components/schemas/WebhookEvent", "components": document["components"]}
    OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER).validate(payload)


def test_each_job_end_makes_one_event_in_the_contract_shape(store: JobStore) -> None:
    (hooked,) = queue(store, options=HOOKED)
    silent, _ = store.create_job("key_b", B_FILE_ID, OPTIONS, {}, now=T0 + timedelta(seconds=1))
    for job in (hooked, silent):
        assert store.claim_next("w1", 60, now=T0)
        assert store.complete(job.job_id, "w1", RESULT, now=T0 + timedelta(seconds=5))
    event = store.outbox.event_for_job(hooked.job_id)
    assert event is not None
    assert event.event_id.startswith("evt_")
    assert (event.event_type, event.url, event.key_id, event.state) == (
        "transcription.completed",
        HOOKED["webhook_url"],
        "key_a",
        "pending",
    )
    validate_webhook_event(event.payload)
    assert event.payload["data"]["transcript"] == "Hello."
    again = store.outbox.enqueue_event(hooked.job_id)
    assert again is not None
    assert again.event_id == event.event_id
    assert store.outbox.event_for_job(silent.job_id) is None


def test_delivery_attempts_are_recorded(store: JobStore) -> None:
    (job,) = queue(store, options=HOOKED)
    assert store.claim_next("w1", 60, now=T0)
    assert store.fail(job.job_id, "w1", TRANSCRIPTION_FAILED, "bad media", now=T0)
    due = store.outbox.claim_due_event(30, now=T0 + timedelta(seconds=1))
    assert due is not None
    validate_webhook_event(due.payload)
    assert due.payload["data"]["error"] == {"code": TRANSCRIPTION_FAILED, "message": "bad media"}
    assert store.outbox.claim_due_event(30, now=T0 + timedelta(seconds=2)) is None  # held by the first sender
    retry_at = T0 + timedelta(seconds=10)
    store.outbox.record_attempt(due.event_id, status_code=503, retry_at=retry_at, now=T0 + timedelta(seconds=1))
    assert store.outbox.claim_due_event(30, now=T0 + timedelta(seconds=5)) is None
    redo = store.outbox.claim_due_event(30, now=retry_at)
    assert redo is not None
    store.outbox.record_attempt(due.event_id, status_code=None, error="timed out", retry_at=retry_at + timedelta(1))
    store.outbox.record_attempt(due.event_id, status_code=204)
    attempts = store.outbox.event_attempts(due.event_id)
    assert [(a.attempt, a.status_code, a.error) for a in attempts] == [
        (1, 503, None),
        (2, None, "timed out"),
        (3, 204, None),
    ]
    delivered = store.outbox.event_for_job(job.job_id)
    assert delivered is not None
    assert (delivered.state, delivered.next_attempt_at) == ("delivered", None)
    assert store.outbox.claim_due_event(30, now=T0 + timedelta(days=2)) is None


def test_an_event_given_up_is_failed(store: JobStore) -> None:
    (job,) = queue(store, options=HOOKED)
    assert store.claim_next("w1", 60, now=T0)
    assert store.complete(job.job_id, "w1", RESULT, now=T0)
    event = store.outbox.event_for_job(job.job_id)
    assert event is not None
    store.outbox.record_attempt(event.event_id, status_code=500, retry_at=None)
    settled = store.outbox.event_for_job(job.job_id)
    assert settled is not None
    assert settled.state == "failed"


# Retention


def test_purge_forgets_expired_files_and_ended_jobs(store: JobStore) -> None:
    media = store.create_file(
        "key_a", filename="a.wav", content_type="audio/wav", size_bytes=1, duration_seconds=1.0, path="/m/a", now=T0
    )
    ended, waiting = queue(store, 2, options=HOOKED)
    assert store.claim_next("w1", 60, now=T0)
    assert store.complete(ended.job_id, "w1", RESULT, now=T0)
    event = store.outbox.event_for_job(ended.job_id)
    assert event is not None
    store.outbox.record_attempt(event.event_id, status_code=200, now=T0)
    removed = MediaLog()
    assert store.purge_expired(removed, now=T0 + timedelta(days=1)) == []
    assert store.purge_expired(removed, now=T0 + store.file_ttl) == [media.file_id]
    assert removed.removed == ["/m/a"]
    assert store.get_file("key_a", media.file_id) is None
    assert store.get_job("key_a", ended.job_id) is not None  # kept for job_ttl (30 days), longer than file_ttl (7)
    assert store.purge_expired(removed, now=T0 + store.job_ttl) == []
    assert store.get_job("key_a", ended.job_id) is None
    assert store.get_job("key_a", waiting.job_id) is not None
    assert store.outbox.event_for_job(ended.job_id) is None


def test_an_ended_job_is_kept_for_its_own_retention_ttl(store: JobStore) -> None:
    short = {**OPTIONS, "retention": {"delete_after_retrieval": False, "ttl_seconds": 60}}
    (job,) = queue(store, options=short)
    assert store.claim_next("w1", 60, now=T0)
    assert store.complete(job.job_id, "w1", RESULT, now=T0)
    store.purge_expired(MediaLog(), now=T0 + timedelta(seconds=59))
    assert store.get_job("key_a", job.job_id) is not None
    store.purge_expired(MediaLog(), now=T0 + timedelta(seconds=60))
    assert store.get_job("key_a", job.job_id) is None


# Fairness across keys


def test_one_keys_backlog_does_not_starve_another_key(store: JobStore) -> None:
    backlog = queue(store, 20)
    (other,) = [job for job, _ in [store.create_job("key_b", B_FILE_ID, OPTIONS, {}, now=T0 + timedelta(seconds=30))]]
    order = []
    for step in range(4):
        claimed = store.claim_next("w1", 60, now=T0 + timedelta(seconds=40 + step))
        assert claimed is not None
        order.append(claimed.job_id)
        assert store.complete(claimed.job_id, "w1", RESULT, now=T0 + timedelta(seconds=40 + step))
    # The oldest job first; then the key never served; then back to the backlog, oldest first.
    assert order == [backlog[0].job_id, other.job_id, backlog[1].job_id, backlog[2].job_id]


def test_keys_take_turns_in_order_of_least_recent_service(store: JobStore) -> None:
    a_jobs = queue(store, 3)
    b_jobs = [
        store.create_job("key_b", B_FILE_ID, OPTIONS, {}, now=T0 + timedelta(seconds=10 + i))[0] for i in range(3)
    ]
    order = []
    for step in range(6):
        claimed = store.claim_next("w1", 60, now=T0 + timedelta(seconds=20 + step))
        assert claimed is not None
        order.append(claimed.key_id)
        store.complete(claimed.job_id, "w1", RESULT, now=T0 + timedelta(seconds=20 + step))
    assert order == ["key_a", "key_b"] * 3
    assert {job.job_id for job in a_jobs + b_jobs} == {
        job.job_id for job in store.list_jobs("key_a").jobs + store.list_jobs("key_b").jobs
    }


def test_a_key_at_its_running_limit_waits_while_others_run(stores: Stores) -> None:
    store = stores.open(max_running_jobs_per_key=2)
    queue(store, 4)
    b_job, _ = store.create_job("key_b", B_FILE_ID, OPTIONS, {}, now=T0 + timedelta(seconds=30))
    now = T0 + timedelta(seconds=40)
    claimed = [store.claim_next(f"w{i}", 60, now=now) for i in range(4)]
    assert [job.key_id if job else None for job in claimed] == ["key_a", "key_b", "key_a", None]
    assert store.claimable_job_ids(10, now=now) == []  # nothing to announce: key_a is at its limit
    first = claimed[0]
    assert first is not None
    assert store.complete(first.job_id, "w0", RESULT, now=now)
    assert len(store.claimable_job_ids(10, now=now)) == 1
    again = store.claim_next("w3", 60, now=now)
    assert again is not None
    assert again.key_id == "key_a"
    assert b_job.key_id == "key_b"


def test_an_expired_lease_frees_its_keys_running_slot(stores: Stores) -> None:
    store = stores.open(max_running_jobs_per_key=1)
    queue(store, 2)
    assert store.claim_next("w1", 60, now=T0)
    assert store.claim_next("w2", 60, now=T0 + timedelta(seconds=30)) is None
    resumed = store.claim_next("w2", 60, now=T0 + timedelta(seconds=61))
    assert resumed is not None  # w1's lease ran out: its job (or the next) is claimable again


# One home for the defaults


def test_the_store_has_no_defaults_of_its_own() -> None:
    parameters = inspect.signature(JobStore).parameters
    assert {name for name, parameter in parameters.items() if parameter.default is not inspect.Parameter.empty} == set()


def test_a_deployment_s_store_keeps_what_the_settings_say(tmp_path: Path) -> None:
    settings = ReferenceSettings(data_dir=str(tmp_path))
    deployment = open_deployment(settings)
    try:
        store = deployment.store
        assert store.job_ttl == timedelta(seconds=settings.job_ttl_seconds) == timedelta(days=30)
        assert store.file_ttl == timedelta(seconds=settings.file_ttl_seconds)
        assert store.max_attempts == settings.max_attempts
        assert store.max_running_jobs_per_key == settings.max_running_jobs_per_key
    finally:
        deployment.close()
