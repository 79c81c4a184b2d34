"""Synthesised URL media, URL refusal rules, file names and the media store."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator

import pytest

from mockserver.media import MediaStore, check_url_allowed, synthesize_wav
from voxcontract.errors import UrlNotAllowed
from voxcontract.media import clean_filename, filename_from_url


def test_synthesised_wav_is_deterministic_and_2_to_20_seconds() -> None:
    durations = set()
    for number in range(40):
        data = synthesize_wav(f"https://x.test/{number}.mp3")
        assert data == synthesize_wav(f"https://x.test/{number}.mp3")
        with wave.open(io.BytesIO(data)) as reader:
            durations.add(reader.getnframes() / reader.getframerate())
    assert min(durations) >= 2.0
    assert max(durations) <= 20.0
    assert len(durations) > 20


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://x.test/a/b/talk%20one.mp3?x=1", "talk one.mp3"),
        ("https://x.test/", "download"),
        ("https://x.test", "download"),
    ],
)
def test_filename_from_url(url: str, name: str) -> None:
    assert filename_from_url(url) == name


def test_clean_filename() -> None:
    assert clean_filename("a/b\\c\x00d.wav") == "cd.wav"
    assert clean_filename(None) == ""
    assert len(clean_filename("x" * 1000)) == 255


@pytest.mark.parametrize("url", ["https://example.com/a", "https://8.8.8.8/a", "https://[2001:4860::8888]/a"])
def test_public_urls_are_allowed(url: str) -> None:
    check_url_allowed(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/a",
        "http://api.localhost./a",
        "http://127.0.0.2/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http:///nohost",
        "http://[::1/",
    ],
)
def test_private_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        check_url_allowed(url)


def test_media_store_lifecycle() -> None:
    store = MediaStore()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    path, size = asyncio.run(store.write_stream("one", chunks()))
    assert (path.read_bytes(), size) == (b"abcdef", 6)
    store.write_bytes("two", b"x")
    store.delete("one")
    store.delete("one")  # idempotent
    assert [p.name for p in store.root.iterdir()] == ["two"]
    store.clear()
    assert list(store.root.iterdir()) == []
    store.close()
    assert not store.root.exists()
