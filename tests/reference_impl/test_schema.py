"""Nodes that start together on an empty database each create the schema: one creates the tables, the others wait
and find them (before, all but one failed on PostgreSQL with a unique violation in its catalog, and SQLite's switch
to WAL could refuse a second opener)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect

from reference_impl.db import Base, create_schema, default_url, make_engine
from tests.reference_impl.postgres import PostgresServer

NODES = 6
ROUNDS = 3


def _start_together(url: str) -> list[BaseException]:
    """``NODES`` threads, each with its own engine (a node's), create the schema at once; their errors."""
    barrier = threading.Barrier(NODES)
    errors: list[BaseException] = []

    def node() -> None:
        engine = make_engine(url)
        try:
            barrier.wait()
            create_schema(engine)
        except BaseException as exc:  # reported below, with the others'
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=node) for _ in range(NODES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nodes_starting_together_on_an_empty_database_all_start(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    new_database: Callable[[int], str]
    if backend == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        new_database = lambda _: server.new_database()  # noqa: E731
    else:
        new_database = lambda index: default_url(tmp_path / f"data-{index}")  # noqa: E731
    for index in range(ROUNDS):
        url = new_database(index)
        if backend == "sqlite":
            (tmp_path / f"data-{index}").mkdir()
        assert _start_together(url) == []
        engine = make_engine(url)
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
        engine.dispose()
