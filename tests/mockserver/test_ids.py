"""Deterministic ids: a function of seed, kind and counter; valid under the contract's patterns."""

from __future__ import annotations

import re

import pytest

from mockserver.ids import IdFactory, base62

PATTERNS = {
    "file": r"file_[A-Za-z0-9]{8,64}",
    "job": r"job_[A-Za-z0-9]{8,64}",
    "event": r"evt_[A-Za-z0-9]{8,64}",
    "request": r"req_[A-Za-z0-9]{8,64}",
}


@pytest.mark.parametrize("kind", sorted(PATTERNS))
def test_ids_match_the_contract(kind: str) -> None:
    factory = IdFactory(seed=5)

    ids = [factory.next(kind) for _ in range(200)]

    assert all(re.fullmatch(PATTERNS[kind], value) for value in ids)
    assert len(set(ids)) == len(ids)


def test_same_seed_same_ids_and_reset_starts_over() -> None:
    one, two = IdFactory(1), IdFactory(1)
    first = [one.next("file"), one.next("job"), one.request_id()]

    assert first == [two.next("file"), two.next("job"), two.request_id()]
    one.reset()
    assert one.next("file") == first[0]


def test_kinds_count_independently_and_seeds_differ() -> None:
    factory = IdFactory(1)
    file_id = factory.next("file")
    factory.next("job")

    assert IdFactory(1).next("file") == file_id
    assert IdFactory(2).next("file") != file_id


def test_base62_pads_small_numbers() -> None:
    assert base62(b"\x00", 8) == "00000000"
    assert base62(b"\x3d", 3) == "Z00"
