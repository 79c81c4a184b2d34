from __future__ import annotations

from voxcontract.api import request_fingerprint


def test_equal_bodies_have_equal_fingerprints_whatever_their_key_order() -> None:
    first = request_fingerprint({"file_id": "file_1", "retention": {"ttl_seconds": 60, "delete_after_retrieval": True}})
    second = request_fingerprint(
        {"retention": {"delete_after_retrieval": True, "ttl_seconds": 60}, "file_id": "file_1"}
    )
    assert first == second
    assert len(first) == 64


def test_another_body_has_another_fingerprint() -> None:
    assert request_fingerprint({"file_id": "file_1"}) != request_fingerprint({"file_id": "file_2"})
    assert request_fingerprint({"language": "é"}) != request_fingerprint({"language": "e"})
