"""Running the suite for real: the mock on a real uvicorn server (optionally behind a fault), the CLI in-process."""

from __future__ import annotations

import contextlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from starlette.types import ASGIApp

from mockserver.app import MockApp, create_app
from mockserver.settings import MockSettings
from voxcontract.cli import main
from voxcontract.serving import BackgroundServer

KEY_A = "key-a"
KEY_B = "key-b"
#: The mock as the suite's tests run it: fast jobs, fast webhook retries, two tenants, a short rate-limit window
#: (a 60-second window would make every run wait for it). The webhook timeout stays the default, the contract's 10 s:
#: a shorter one fails webhooks/slow-acknowledgement.
SETTINGS: dict[str, Any] = {
    "processing_time": 0.3,
    "rate_limit": "30/5 seconds",
    "webhook_retry_schedule": (0.1, 0.2, 0.4),
    "api_keys": (KEY_A, KEY_B),
}
GROUPS_BUT_CONTRACT = ("auth", "lifecycle", "data", "webhooks", "http", "errors", "rate-limit")


@dataclass
class Deployment:
    """A running mock: its URL and the app (for its state)."""

    url: str
    app: MockApp

    def journal(self) -> list[dict[str, Any]]:
        """Every public request the mock received (its admin journal)."""
        response = httpx.get(self.url + "/__mock/journal", timeout=10)
        response.raise_for_status()
        requests: list[dict[str, Any]] = response.json()["requests"]
        return requests


@contextlib.contextmanager
def serve_mock(wrap: Callable[[ASGIApp], ASGIApp] | None = None, **settings: Any) -> Iterator[Deployment]:
    """The mock with :data:`SETTINGS` (and ``settings``) on 127.0.0.1, behind ``wrap`` when given."""
    app = create_app(MockSettings(**{**SETTINGS, **settings}))
    with BackgroundServer(wrap(app) if wrap else app) as server:
        yield Deployment(server.base_url, app)


@dataclass
class Outcome:
    """What one ``voxcontract conformance`` run printed, returned and wrote."""

    exit_code: int
    output: str
    report: dict[str, Any] | None
    junit: ET.Element | None

    def checks(self, status: str | None = None) -> dict[str, dict[str, Any]]:
        """The report's checks by id (only those with ``status``)."""
        assert self.report is not None, self.output
        return {item["id"]: item for item in self.report["checks"] if status is None or item["status"] == status}

    def failed(self) -> set[str]:
        return set(self.checks("failed")) | set(self.checks("error"))


def run_conformance(url: str, *args: str, report_dir: Path | None = None, keys: bool = True) -> Outcome:
    """``voxcontract conformance --url URL --api-key key-a --second-api-key key-b ARGS`` in-process."""
    credentials = ["--api-key", KEY_A, "--second-api-key", KEY_B] if keys else []
    reporting = ["--report", str(report_dir)] if report_dir else []
    result = CliRunner().invoke(main, ["conformance", "--url", url, *credentials, *reporting, *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    report = junit = None
    if report_dir and (report_dir / "report.json").is_file():
        report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
        junit = ET.parse(report_dir / "junit.xml").getroot()
    return Outcome(result.exit_code, result.output, report, junit)
