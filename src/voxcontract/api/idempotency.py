"""The one fingerprint of a ``POST /v1/transcribe`` body, compared when an ``Idempotency-Key`` comes again."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["request_fingerprint"]


def request_fingerprint(body: Any) -> str:
    """SHA-256 of the body's canonical JSON (sorted keys, no spaces, ASCII): equal bodies, equal fingerprints."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
