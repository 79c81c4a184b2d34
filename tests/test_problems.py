"""The problem renderer's bounds and mappings as units (every server's answers go through it)."""

from __future__ import annotations

import anyio
import pytest
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from voxcontract import errors
from voxcontract.problems import (
    EXCERPT_CHARS,
    MAX_TEXT_CHARS,
    bounded_text,
    excerpt,
    problem_instance,
    render_problem,
    to_problem_error,
)


def test_an_excerpt_is_the_value_when_short_and_marked_when_cut() -> None:
    assert excerpt("short") == "short"
    assert excerpt("a" * 250) == "a" * EXCERPT_CHARS + "… [cut: 250 characters]"


def test_bounded_text_cuts_every_long_run_and_the_whole() -> None:
    text = bounded_text(f"field {'x' * 5000} is wrong, and so is {'y' * 200}")
    assert text == f"field {'x' * 100}… [cut: 5000 characters] is wrong, and so is {'y' * 100}… [cut: 200 characters]"
    assert len(bounded_text("word " * 10_000)) <= MAX_TEXT_CHARS + len("… [cut: 50000 characters]")


def test_an_excerpt_is_not_cut_twice() -> None:
    once = excerpt("z" * 1000)
    assert bounded_text(once) == once


def test_rendered_problems_bound_detail_and_messages() -> None:
    error = errors.BadRequest("v" * 10_000, errors=[{"pointer": "/a", "message": "m" * 10_000}])
    body, _ = render_problem(error, problem_instance("/v1/" + "p" * 10_000))
    assert len(body["detail"]) < 200
    assert len(body["errors"][0]["message"]) < 200
    assert len(body["instance"]) <= 256


@pytest.mark.parametrize(
    "exc", [ClientDisconnect(), anyio.BrokenResourceError(), anyio.ClosedResourceError(), anyio.EndOfStream()]
)
def test_a_client_gone_is_a_4xx_not_an_internal_error(exc: Exception) -> None:
    assert to_problem_error(exc).status == 400


@pytest.mark.parametrize("status", [409, 422])
def test_a_frameworks_own_409_or_422_keeps_its_status_under_a_neutral_code(status: int) -> None:
    # Only the core's named errors carry job_not_completed or language_not_supported.
    error = to_problem_error(HTTPException(status, detail="the framework says no"))
    assert (error.status, error.code, error.detail) == (status, "invalid_request", "the framework says no")
