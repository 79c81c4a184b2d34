"""Reading ``GET /v1/jobs``: pages followed by cursor, and what the contract promises of them.

The listing promises the calling key's jobs newest first (``created_at`` never increasing down the list, across
pages), ``next_cursor`` null exactly when ``has_more`` is false, and every job once when the cursor is followed.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed
from conformance.workflow import expect_status
from voxcontract.spec import deref, resolve_pointer

__all__ = ["Listing", "list_jobs", "order_problem", "page_problem", "parameter_default", "schema_defaults"]

#: The most pages one listing follows (a server whose cursor never ends must not hold the run).
MAX_PAGES = 30


@dataclass
class Listing:
    """The pages of one listing, oldest request first, and the jobs they showed in order."""

    pages: list[httpx.Response]
    jobs: list[dict[str, Any]]

    @property
    def ids(self) -> list[str]:
        return [str(job.get("job_id")) for job in self.jobs]

    def exchange(self) -> Exchange:
        """The last page's exchange (the reproduction of a listing)."""
        return Exchange.from_httpx(self.pages[-1])


def list_jobs(client: httpx.Client, params: Mapping[str, Any], *, max_pages: int = MAX_PAGES) -> Listing:
    """``GET /v1/jobs`` with ``params``, following ``next_cursor`` while ``has_more`` (at most ``max_pages``)."""
    listing = Listing([], [])
    cursor: str | None = None
    for _ in range(max_pages):
        response = client.get("/v1/jobs", params={**params, **({"cursor": cursor} if cursor else {})})
        page = expect_status(response, 200, what="listing jobs")
        listing.pages.append(response)
        listing.jobs += [job for job in page.get("data") or [] if isinstance(job, dict)]
        problem = page_problem(page)
        if problem:
            raise CheckFailed(problem, exchange=Exchange.from_httpx(response))
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return listing


def page_problem(page: Mapping[str, Any]) -> str | None:
    """Why a page's ``has_more`` and ``next_cursor`` disagree (None when they agree)."""
    has_more, cursor = page.get("has_more"), page.get("next_cursor")
    if has_more is True and not cursor:
        return f"a page says has_more: true but its next_cursor is {cursor!r}"
    if has_more is False and cursor is not None:
        return f"a page says has_more: false but carries next_cursor {cursor!r} (it must be null)"
    return None


def order_problem(jobs: Sequence[Mapping[str, Any]], created_in_order: Sequence[str]) -> str | None:
    """Why a listing is not newest first: ``created_at`` rising, or the suite's jobs (oldest first) not reversed."""
    stamps = [(str(job.get("job_id")), _instant(job.get("created_at"))) for job in jobs]
    for (newer_id, newer), (older_id, older) in itertools.pairwise(stamps):
        if newer is not None and older is not None and older > newer:
            return f"{older_id} (created {older.isoformat()}) is listed after {newer_id} (created {newer.isoformat()})"
    position = {job_id: index for index, (job_id, _) in enumerate(stamps)}
    listed = [position[job_id] for job_id in created_in_order if job_id in position]
    if listed != sorted(listed, reverse=True):
        return "the jobs the suite started one after the other are not listed newest first"
    return None


def _instant(stamp: Any) -> datetime | None:
    """A ``date-time`` as an aware datetime (None when it is not one: the schema checks report that)."""
    try:
        parsed = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def schema_defaults(document: Mapping[str, Any], schema: Any) -> dict[str, Any]:
    """The ``default`` of each property of an object schema, nested objects as dicts of their defaults."""
    defaults: dict[str, Any] = {}
    for name, node in (deref(document, schema).get("properties") or {}).items():
        prop = deref(document, node)
        if "default" in prop:
            defaults[name] = prop["default"]
        elif prop.get("properties"):
            nested = schema_defaults(document, prop)
            if nested:
                defaults[name] = nested
    return defaults


def parameter_default(document: Mapping[str, Any], name: str) -> Any:
    """The schema default of ``components/parameters/{name}``."""
    parameter = deref(document, resolve_pointer(document, f"#/components/parameters/{name}"))
    return deref(document, parameter["schema"])["default"]
