"""Deterministic ids: the n-th id of a kind is a pure function of the seed, the kind and n.

``file_…``, ``job_…``, ``evt_…`` and ``req_…`` ids are base62 digests of ``sha256("{seed}:{kind}:{n}")``,
so two mocks with the same seed given the same requests hand out the same ids, and a reset starts over.
"""

from __future__ import annotations

import hashlib
import string
from collections import Counter

__all__ = ["IdFactory", "base62", "derive_bytes"]

_ALPHABET = string.digits + string.ascii_letters
_ID_LENGTH = 20
_PREFIXES = {"file": "file_", "job": "job_", "event": "evt_", "request": "req_", "admin": "req_admin_"}


def derive_bytes(seed: int, *parts: object) -> bytes:
    """32 bytes that depend only on ``seed`` and ``parts``."""
    text = ":".join(str(part) for part in (seed, *parts))
    return hashlib.sha256(text.encode("utf-8")).digest()


def base62(data: bytes, length: int = _ID_LENGTH) -> str:
    """The first ``length`` base62 digits of ``data`` read as a big number (zero-padded)."""
    # The first ``length`` digits depend only on the number modulo 62**length: a small number to divide.
    number = int.from_bytes(data, "big") % 62**length
    digits: list[str] = []
    for _ in range(length):
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(digits)


class IdFactory:
    """Hands out ids per kind (``file``, ``job``, ``event``, ``request``) from a seed and a counter."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._counters: Counter[str] = Counter()

    def next(self, kind: str) -> str:
        """The next id of ``kind``, e.g. ``file_3kTq9WmZpL2vX8aBc7dE``."""
        prefix = _PREFIXES[kind]
        self._counters[kind] += 1
        return prefix + base62(derive_bytes(self.seed, kind, self._counters[kind]))

    def request_id(self) -> str:
        """The next request id (the factory the core's request-context middleware calls)."""
        return self.next("request")

    def reset(self) -> None:
        """Start every counter over: the same ids come out again."""
        self._counters.clear()
