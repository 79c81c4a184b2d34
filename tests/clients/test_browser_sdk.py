"""The TypeScript SDK in a real browser: headless Chromium loads a page that uploads, transcribes, waits for the job
and shows its transcript, through ``clients/js/dist`` unbundled, against a real mock on another origin.

The page (``tests/clients/browser_page``) is served by a static server on one port and the mock runs on another, so
every call the SDK makes is cross-origin: it needs the mock's CORS answers (a preflight per request, since the
``Authorization`` header is not CORS-safelisted). The control runs the same page against a mock without CORS and
sees the browser refuse the first call.

The mock's clock is manual and moves only when a poll has been seen, so the page always sees the job ``queued``
before it is ``completed``: ``waitFor`` really waits. Chromium runs with a virtual time budget, which lets the
page's timers (the SDK's pauses between polls) run without real waiting and holds the DOM dump and the screenshot
until the page has nothing left to do.
"""

from __future__ import annotations

import functools
import html
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from mockserver.app import MockApp, create_app
from mockserver.fixtures import speech_fixture
from mockserver.journal import JournalEntry
from mockserver.settings import MockSettings
from tests.browser import png_facts, run_chromium
from voxcontract.serving import BackgroundServer

ROOT = Path(__file__).resolve().parents[2]
PAGE = Path(__file__).resolve().parent / "browser_page"
SDK = ROOT / "clients" / "js"
KEY = "browser-test-key"
HELLO = speech_fixture("hello.wav")
SCREEN = (1000, 700)
#: Mock-clock seconds a job takes; the watcher moves the clock by this much once the page has polled.
PROCESSING_SECONDS = 2.0
#: Virtual milliseconds: ample for any number of polls (each pause costs ~1000), free once the page is idle.
VIRTUAL_TIME_BUDGET_MS = 3_600_000

pytestmark = pytest.mark.browser


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files, without a log line per request on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_origin(tmp_path: Path) -> Iterator[str]:
    """The page, the SDK's dist, its dependencies and the recording, served from one origin of their own."""
    assert (SDK / "dist" / "index.js").is_file(), "clients/js/dist is missing: run ./dev setup (npm ci, tsc)"
    assert (SDK / "node_modules" / "openapi-fetch").is_dir(), "clients/js/node_modules is missing: run ./dev setup"
    site = tmp_path / "site"
    site.mkdir()
    # Links, not copies: the page loads what `./dev` built and installed, as it is now.
    for name, target in {
        "index.html": PAGE / "index.html",
        "app.js": PAGE / "app.js",
        "sdk": SDK / "dist",
        "node_modules": SDK / "node_modules",
        "hello.wav": HELLO.path,
    }.items():
        (site / name).symlink_to(target)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def advance_once_polled(app: MockApp, base_url: str, stop: threading.Event) -> None:
    """Move the mock's clock past the job's end as soon as the page has polled the job's status once."""
    while not stop.is_set():
        if any(entry.method == "GET" and entry.path.startswith("/v1/status/") for entry in app.state.journal.entries()):
            httpx.post(f"{base_url}/__mock/clock/advance", json={"seconds": PROCESSING_SECONDS}).raise_for_status()
            return
        time.sleep(0.01)


@dataclass
class PageRun:
    """What the page showed (its final DOM), its screenshot, and the requests the mock saw."""

    dom: str
    screenshot: bytes
    journal: list[JournalEntry]

    def shown(self, element_id: str) -> str | None:
        """The text of the element with ``element_id`` in the final DOM; None when it is not there."""
        match = re.search(rf'<(\w+) id="{element_id}"[^>]*>(.*?)</\1>', self.dom, re.DOTALL)
        return html.unescape(match.group(2)) if match else None


def run_page(tmp_path: Path, origin: str, cors_origins: tuple[str, ...]) -> PageRun:
    """The page in headless Chromium against a fresh mock that answers CORS for ``cors_origins``."""
    settings = MockSettings(
        api_keys=(KEY,), clock="manual", processing_time=PROCESSING_SECONDS, cors_origins=cors_origins
    )
    app = create_app(settings)
    screenshot = tmp_path / "page.png"
    stop = threading.Event()
    with BackgroundServer(app) as mock:
        watcher = threading.Thread(target=advance_once_polled, args=(app, mock.base_url, stop), daemon=True)
        watcher.start()
        try:
            result = run_chromium(
                tmp_path,
                f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
                f"--window-size={SCREEN[0]},{SCREEN[1]}",
                f"--screenshot={screenshot}",
                "--dump-dom",
                f"{origin}/index.html?{urlencode({'api': mock.base_url, 'key': KEY})}",
            )
        finally:
            stop.set()
            watcher.join()
    assert screenshot.is_file(), f"chromium wrote no screenshot:\n{result.stderr[-3000:]}"
    return PageRun(dom=result.stdout, screenshot=screenshot.read_bytes(), journal=app.state.journal.entries())


def assert_is_a_real_screenshot(data: bytes) -> None:
    width, height, pixels = png_facts(data)
    assert (width, height) == SCREEN
    assert len(data) > 10_000, "the screenshot compresses like a blank page"
    assert len(set(pixels[::97])) > 16, "the screenshot has (almost) one colour"


def test_the_sdk_in_a_browser_transcribes_against_the_mock_on_another_origin(tmp_path: Path, page_origin: str) -> None:
    run = run_page(tmp_path, page_origin, cors_origins=("*",))

    assert run.shown("error") == "", run.dom
    assert run.shown("step") == "done", run.dom
    assert run.shown("transcript") == HELLO.text
    job_id = run.shown("job-id")
    assert job_id is not None
    assert job_id.startswith("job_")
    # The page saw the job wait in the queue, then finish: waitFor polled, paused and polled again.
    assert run.shown("status") == "queued → completed"
    assert_is_a_real_screenshot(run.screenshot)

    requests = [(entry.method, entry.path, entry.status) for entry in run.journal]
    for method, path in [
        ("POST", "/v1/upload"),
        ("POST", "/v1/transcribe"),
        ("GET", f"/v1/status/{job_id}"),
        ("GET", f"/v1/transcripts/{job_id}"),
    ]:
        # Cross-origin with an Authorization header: the browser asked first, and the mock said yes.
        assert ("OPTIONS", path, 200) in requests, requests
        assert any(m == method and p == path and s is not None and s < 300 for m, p, s in requests), requests


def test_control_without_cors_the_browser_refuses_and_the_page_shows_the_error(
    tmp_path: Path, page_origin: str
) -> None:
    run = run_page(tmp_path, page_origin, cors_origins=())

    assert run.shown("error") == "TypeError: Failed to fetch", run.dom
    assert run.shown("step") == "failed"
    assert run.shown("transcript") is None
    assert_is_a_real_screenshot(run.screenshot)
    # The preflight reached the mock and went unanswered in CORS terms, so the upload itself was never sent.
    methods = {(entry.method, entry.path) for entry in run.journal}
    assert ("OPTIONS", "/v1/upload") in methods, methods
    assert ("POST", "/v1/upload") not in methods, methods
