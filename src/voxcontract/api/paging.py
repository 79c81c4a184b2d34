"""The list cursor: an opaque, URL-safe encoding of where a page ended, the same for every backend.

A cursor is base64url (no padding) of a compact JSON object, e.g. ``{"o":17}``, the form of the contract's own
example. What the object holds is the backend's (:data:`voxcontract.api.backend.CursorPosition`).
"""

from __future__ import annotations

import base64
import binascii
import json

from voxcontract.api.backend import CursorPosition
from voxcontract.errors import BadRequest

__all__ = ["decode_cursor", "encode_cursor", "invalid_cursor"]


def encode_cursor(position: CursorPosition) -> str:
    text = json.dumps(dict(position), separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> CursorPosition:
    """The position ``cursor`` encodes; :func:`invalid_cursor` (400) for anything else."""
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise invalid_cursor() from None
    if not isinstance(position, dict) or not all(_is_field(value) for value in position.values()):
        raise invalid_cursor()
    return position


def invalid_cursor() -> BadRequest:
    """The 400 for a cursor this server did not issue."""
    return BadRequest("The cursor is not one this server issued; pass next_cursor from the previous page.")


def _is_field(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
