from __future__ import annotations

import base64

import pytest

from voxcontract.api import decode_cursor, encode_cursor
from voxcontract.errors import BadRequest


def test_a_position_round_trips_in_the_form_of_the_contracts_example() -> None:
    cursor = encode_cursor({"o": 17})
    assert base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)) == b'{"o":17}'
    assert "=" not in cursor
    assert decode_cursor(cursor) == {"o": 17}
    assert decode_cursor(encode_cursor({"t": "2026-01-01T00:00:00+00:00", "j": "job_x"})) == {
        "t": "2026-01-01T00:00:00+00:00",
        "j": "job_x",
    }


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "WzFd", "eyJvIjp0cnVlfQ", "eyJvIjpudWxsfQ", "eyJvIjpbMV19"])
def test_anything_else_is_a_400_that_says_where_cursors_come_from(cursor: str) -> None:
    # not base64, "not json", [1], {"o":true}, {"o":null}, {"o":[1]}
    with pytest.raises(BadRequest, match="pass next_cursor from the previous page"):
        decode_cursor(cursor)
