"""The media store's contract, on both backends: the local directory and a real S3 server (SeaweedFS).

Each test runs once per backend. "Left behind" means anything in the store: files under the directory (but the
writing process's own lock), objects under the bucket's prefix, and multipart uploads begun and never ended.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reference_impl.audio import open_audio
from reference_impl.media_store import MediaStore, write_all
from reference_impl.media_store.local import LocalMediaStore
from reference_impl.media_store.s3 import (
    PART_BYTES,
    READ_BLOCK_BYTES,
    S3MediaStore,
    client_from_environment,
    split_s3_url,
)
from tests.reference_impl.seaweedfs import SeaweedFS
from voxcontract.errors import ConfigError, ServiceUnavailable
from voxcontract.media import probe

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).resolve().parents[2] / "mockserver" / "fixtures"
PREFIX = "media"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def s3_env(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> SeaweedFS:
    """The standard AWS variables pointing at the test server, as an operator sets them."""
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    return seaweedfs


@dataclass
class Backend:
    """One store under test, and what it holds seen from outside the store."""

    store: MediaStore
    leftovers: Callable[[], list[str]]


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        local = LocalMediaStore(tmp_path / "media")
        yield Backend(local, lambda: _files(local.root))
        local.close()
        return
    server: SeaweedFS = request.getfixturevalue("s3_env")
    bucket = server.new_bucket()
    remote = S3MediaStore.from_url(f"s3://{bucket}/{PREFIX}")
    yield Backend(remote, lambda: server.objects(bucket) + server.pending_uploads(bucket))
    remote.close()


@pytest.fixture
def bucket_store(s3_env: SeaweedFS) -> Iterator[S3MediaStore]:
    store = S3MediaStore.from_url(f"s3://{s3_env.new_bucket()}/{PREFIX}")
    yield store
    store.close()


def _files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file() and path.name != ".lock")


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _store(store: MediaStore, data: bytes, suffix: str = ".bin") -> str:
    incoming, size = await write_all(store, _chunks(data))
    assert size == len(data)
    return await store.keep(incoming, suffix)


def _read(store: MediaStore, location: str) -> bytes:
    with store.open(location) as source:
        if isinstance(source, Path):
            return source.read_bytes()
        return source.read()


# --- writing, keeping, reading, deleting ------------------------------------------------------------------------------


async def test_media_is_written_kept_read_and_removed(backend: Backend) -> None:
    store = backend.store
    location = await _store(store, b"some media bytes", ".wav")
    assert location.endswith(".wav")
    assert store.exists(location)
    assert _read(store, location) == b"some media bytes"
    assert len(backend.leftovers()) == 1, "the incoming copy was not dropped when the media was kept"
    store.remove(location)
    assert not store.exists(location)
    assert backend.leftovers() == []
    store.remove(location)  # removing what is gone is a no-op


async def test_media_larger_than_a_part_round_trips_and_reads_by_seeking(backend: Backend) -> None:
    data = os.urandom(2 * PART_BYTES + 12_345)  # three parts in S3, the last short
    store = backend.store
    location = await _store(store, data)
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(store.open(location))
        stream = stack.enter_context(source.open("rb")) if isinstance(source, Path) else source
        stream.seek(PART_BYTES - 10)
        assert stream.read(20) == data[PART_BYTES - 10 : PART_BYTES + 10]
        stream.seek(-5, io.SEEK_END)
        assert stream.read() == data[-5:]
        stream.seek(0)
        assert stream.read(3) == data[:3]
    assert _read(store, location) == data


async def test_an_aborted_upload_leaves_nothing(backend: Backend) -> None:
    writer = backend.store.begin()
    await writer.write(os.urandom(PART_BYTES + 1000))  # in S3: one part sent, a multipart upload pending
    assert backend.leftovers() != []
    await writer.abort()
    assert backend.leftovers() == []


async def test_an_upload_whose_source_fails_midway_leaves_nothing(backend: Backend) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(PART_BYTES)
        yield os.urandom(PART_BYTES)
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await write_all(backend.store, broken())
    assert backend.leftovers() == []


async def test_an_empty_upload_is_an_empty_incoming_file(backend: Backend) -> None:
    incoming, size = await write_all(backend.store, _chunks(b""))
    assert size == 0
    assert _read(backend.store, incoming) == b""
    backend.store.discard(incoming)
    assert backend.leftovers() == []


async def test_media_is_probed_through_the_store(backend: Backend) -> None:
    for name in ("hello.wav", "meeting.ogg"):
        location = await _store(backend.store, (FIXTURES / name).read_bytes())
        with backend.store.open(location) as source:
            assert probe(source) == probe(FIXTURES / name)


def test_missing_media_does_not_exist_and_cannot_be_opened(backend: Backend) -> None:
    store = backend.store
    missing = f"s3://{store.bucket}/{PREFIX}/gone.wav" if isinstance(store, S3MediaStore) else str(Path("/nonexistent"))
    assert not store.exists(missing)
    with pytest.raises(FileNotFoundError), store.open(missing):
        pass


async def test_locations_outside_the_store_are_never_deleted(backend: Backend, tmp_path: Path) -> None:
    store = backend.store
    location = await _store(store, b"kept")
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"not media")
    for foreign in (str(outside), "s3://another-bucket/media/x.wav", location.replace(PREFIX, "other", 1)):
        store.remove(foreign)
    assert outside.read_bytes() == b"not media"
    assert store.exists(location)


# --- S3 specifics (the local store's sweep follows process locks: test_media_store.py kills a real process) -----------


async def test_incoming_uploads_of_a_process_that_died_are_swept(bucket_store: S3MediaStore, s3_env: SeaweedFS) -> None:
    store = bucket_store
    kept = await _store(store, b"kept media")
    abandoned = store.begin()  # as a process killed mid-upload leaves it: neither finished nor aborted
    await abandoned.write(os.urandom(PART_BYTES))
    finished_not_kept, _ = await write_all(store, _chunks(b"probed, then the process died"))
    assert store.sweep_incoming() == 0, "fresh uploads were swept: they may be in progress"
    assert store.sweep_incoming(older_than=0) == 2
    left = s3_env.objects(store.bucket) + s3_env.pending_uploads(store.bucket)
    assert left == [kept.removeprefix(f"s3://{store.bucket}/")]
    assert not store.exists(finished_not_kept)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://media-bucket", ("media-bucket", "")),
        ("s3://media-bucket/", ("media-bucket", "")),
        ("s3://media-bucket/vox/media/", ("media-bucket", "vox/media/")),
    ],
)
def test_media_urls_name_a_bucket_and_a_prefix(url: str, expected: tuple[str, str]) -> None:
    assert split_s3_url(url) == expected


@pytest.mark.parametrize("url", ["media-bucket/x", "s3://", "s3://UPPER/x", "s3://a/x", "gs://bucket/x", "s3://b_b/x"])
def test_media_urls_that_are_not_s3_buckets_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="media_url"):
        split_s3_url(url)


def test_a_missing_bucket_is_a_configuration_error_at_start(s3_env: SeaweedFS) -> None:
    with pytest.raises(ConfigError, match="no-such-bucket"):
        S3MediaStore.from_url("s3://no-such-bucket/media")


async def test_an_unreachable_store_refuses_writes_as_unavailable(
    bucket_store: S3MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    unreachable = S3MediaStore(client_from_environment(), bucket_store.bucket, bucket_store.prefix)
    with pytest.raises(ServiceUnavailable) as caught:
        await write_all(unreachable, _chunks(b"x" * 10))
    assert (caught.value.status, caught.value.code) == (503, "service_unavailable")
    assert "nothing was kept" in caught.value.detail
    unreachable.close()


async def test_decoding_media_from_the_bucket_reads_it_by_bounded_ranges(
    bucket_store: S3MediaStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's decoder over the ranged stream: the same samples as from a file, and no request (so no buffer)
    larger than one read block, for media 20 blocks long."""
    media = _speech_like_wav(tmp_path / "long.wav", seconds=20 * READ_BLOCK_BYTES / 32_000)
    location = await _store(bucket_store, media.read_bytes(), ".wav")
    ranges: list[int] = []
    get_object = bucket_store.client.get_object

    def counted(**request: Any) -> Any:
        first, last = request["Range"].removeprefix("bytes=").split("-")
        ranges.append(int(last) - int(first) + 1)
        return get_object(**request)

    monkeypatch.setattr(bucket_store.client, "get_object", counted)
    with bucket_store.open(location) as source, open_audio(source) as audio:
        from_bucket = np.concatenate(list(audio.chunks()))
    with open_audio(media) as audio:
        from_file = np.concatenate(list(audio.chunks()))
    assert np.array_equal(from_bucket, from_file)
    assert sum(ranges) >= media.stat().st_size
    assert max(ranges) <= READ_BLOCK_BYTES, f"a ranged read of {max(ranges)} bytes"


def _speech_like_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    samples = (np.sin(np.arange(int(seconds * rate)) * 0.05) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return path
