"""The journal keeps the most recent requests only."""

from __future__ import annotations

from mockserver.journal import Journal


def test_journal_is_bounded_and_ordered() -> None:
    journal = Journal(max_entries=3)
    for number in range(5):
        journal.record("GET", f"/v1/{number}", at=float(number))

    assert [entry.path for entry in journal.entries()] == ["/v1/2", "/v1/3", "/v1/4"]
    assert journal.entries()[0].to_dict() == {
        "method": "GET",
        "path": "/v1/2",
        "status": None,
        "request_id": None,
        "at": "1970-01-01T00:00:02Z",
    }
    journal.clear()
    assert journal.entries() == []
