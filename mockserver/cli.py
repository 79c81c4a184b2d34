"""``voxcontract mock``: the mock's flags and banner (registered in the ``voxcontract.commands`` entry-point group).

The app is imported when the command runs, so that ``voxcontract --help`` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from voxcontract.cli import CA_BUNDLE_OPTION, certificate_options, console, retry_schedule, serve_app

if TYPE_CHECKING:
    from mockserver.app import MockApp

__all__ = ["mock"]


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8080).")
@click.option("--seed", type=int, default=None, help="Seed of every id, secret and jitter (default 0).")
@click.option("--api-key", "api_keys", multiple=True, help="An accepted API key (repeatable; default vox_test_key).")
@click.option("--processing-time", type=float, default=None, help="Mock seconds from queued to completed (default 1).")
@click.option("--rate-limit", default=None, help='Per-key rate limit in limits notation, e.g. "3/minute".')
@click.option(
    "--auth-failure-limit", default=None, help='Unknown keys per client address (default "60/minute"; "" = no limit).'
)
@click.option("--clock", type=click.Choice(["real", "manual"]), default=None, help="Mock clock mode (default real).")
@click.option("--start-time", default=None, help="The mock clock's start, RFC 3339 (default 2026-01-01T00:00:00Z).")
@click.option("--webhook-retry-schedule", default=None, help='Seconds before webhook retries, e.g. "0.5,1,2".')
@click.option("--webhook-timeout", type=float, default=None, help="Seconds a webhook receiver has to answer.")
@click.option("--default-scenario", default=None, help="The scenario every request gets unless it names one.")
@click.option("--log-level", default=None, help="uvicorn and app log level (default info).")
@certificate_options
@CA_BUNDLE_OPTION
def mock(api_keys: tuple[str, ...], webhook_retry_schedule: str | None, **options: Any) -> None:
    """Run the deterministic mock server. Every option can also be set as VOXCONTRACT_<OPTION>."""
    from mockserver.app import create_app
    from mockserver.settings import MockSettings
    from voxcontract.tls import check_tls

    settings = MockSettings.from_env(
        api_keys=api_keys or None, webhook_retry_schedule=retry_schedule(webhook_retry_schedule), **options
    )
    certificate = check_tls(settings)
    app = create_app(settings)
    print_banner(app)
    serve_app(app, settings.host, settings.port, settings.log_level, certificate)


def print_banner(app: MockApp) -> None:
    """Where the mock listens, its keys and their webhook secrets, its UIs."""
    settings = app.settings
    base = f"{settings.scheme}://{settings.host}:{settings.port}"
    out = console()
    out.print(f"VoxScriber mock server on [bold]{base}[/bold]  (seed {settings.seed}, clock {settings.clock})")
    for key in settings.effective_api_keys:
        out.print(f"  API key         {key}")
        out.print(f"  webhook secret  {app.webhook_secret(key)}")
    out.print(f"  Swagger UI      {base}/v1/ui/")
    out.print(f"  admin API       {base}/__mock/ (docs {base}/__mock/ui/)")
