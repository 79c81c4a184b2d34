"""Plain Schemathesis gets the suite's verdict: the real ``st run`` CLI, with the repository's ``schemathesis.toml``
and ``conformance.schemathesis_hooks``, against both servers on 127.0.0.1 (the reference with real faster-whisper).

Every check is on (the toml's); the run must report no failure and reach at least 14 of the contract's 17 stateful
links (9 written, 8 inferred from ``Location`` headers). The examples are bounded so that each run takes seconds.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.app import create_app as create_mock_app
from mockserver.settings import MockSettings
from tests.reference_impl.support import serve_reference
from voxcontract.serving import BackgroundServer

REPOSITORY = Path(__file__).resolve().parents[2]
CONTRACT = REPOSITORY / "openapi" / "voxscriber.yaml"
ST = Path(sys.executable).with_name("st")
KEY = "vox_plain_schemathesis"
#: Per operation and phase: each run sends about 550 requests and takes 5-15 s on 2 cores.
MAX_EXAMPLES = 10
SEED = 20261205
MIN_LINKS = 14
#: The reference server's setting for a test deployment (conformance/README.md, "Plain Schemathesis"): one run sends
#: about 550 requests in seconds, and the default 120 a minute would make it wait out 429s for minutes.
REFERENCE_RATE_LIMIT = "6000/minute"
#: Seconds the reference server may take to finish the jobs a run started (hello.wav, about 0.5 s each on 2 cores).
DRAIN_SECONDS = 180.0
_LINKS = re.compile(r"API Links:\s+(\d+) covered / (\d+) selected / (\d+) total")


@dataclass(frozen=True)
class PlainRun:
    """What one ``st run`` printed and reported."""

    exit_code: int
    output: str
    report: dict[str, Any]

    @property
    def failures(self) -> int:
        cases: dict[str, int] = self.report["test_cases"]
        return cases["unique_failures"]

    @property
    def links_covered(self) -> int:
        match = _LINKS.search(self.output)
        assert match is not None, self.output
        return int(match.group(1))

    def __str__(self) -> str:
        return self.output[-6000:]


def st_run(url: str, report_dir: Path) -> PlainRun:
    """``st run openapi/voxscriber.yaml --url URL -H 'Authorization: Bearer KEY'`` from the repository root, so that
    Schemathesis finds its ``schemathesis.toml`` as a user's run would; bounded examples, a JSON report."""
    command = [
        str(ST),
        "--no-color",
        "run",
        str(CONTRACT),
        "--url",
        url,
        "-H",
        f"Authorization: Bearer {KEY}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--report",
        "json",
        "--report-dir",
        str(report_dir),
    ]
    done = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=240, check=False)
    output = done.stdout + done.stderr
    reports = sorted(report_dir.glob("json-*.json"))
    assert reports, output
    return PlainRun(done.returncode, output, json.loads(reports[-1].read_text(encoding="utf-8")))


@contextlib.contextmanager
def serve_mock() -> Iterator[str]:
    """The mock with the settings of ``voxcontract mock`` (its defaults), but for the key."""
    with BackgroundServer(create_mock_app(MockSettings(api_keys=(KEY,)))) as server:
        yield server.base_url


@pytest.fixture(params=["mock", "reference"])
def server_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "mock":
        with serve_mock() as url:
            yield url
    else:
        data_dir = tmp_path_factory.mktemp("reference")
        with serve_reference(data_dir, api_keys=(KEY,), rate_limit=REFERENCE_RATE_LIMIT) as reference:
            yield reference.url
            wait_until_idle(reference.url)


def wait_until_idle(url: str) -> None:
    """Wait until none of the key's jobs is queued or processing.

    The reference server stops without waiting for a transcription in flight (it gives the job back); were the
    process to exit while CTranslate2 still computes on the worker thread, it would abort ("terminate called
    without an active exception"), so the fixture lets the jobs the run started finish first.
    """
    deadline = time.monotonic() + DRAIN_SECONDS
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        while _unfinished_jobs(client):
            assert time.monotonic() < deadline, f"jobs still unfinished after {DRAIN_SECONDS} s"
            time.sleep(0.2)


def _unfinished_jobs(client: httpx.Client) -> int:
    unfinished = 0
    for status in ("queued", "processing"):
        response = client.get("/v1/jobs", params={"status": status, "limit": 100})
        response.raise_for_status()
        unfinished += len(response.json()["data"])
    return unfinished


def test_plain_st_run_finds_nothing_and_reaches_the_links(server_url: str, tmp_path: Path) -> None:
    run = st_run(server_url, tmp_path)
    assert run.failures == 0, run
    assert run.report["errors"] == [], run
    assert run.exit_code == 0, run
    assert run.links_covered >= MIN_LINKS, run
