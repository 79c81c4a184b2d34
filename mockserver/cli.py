"""``voxcontract mock``: the mock's flags and banner (registered in the ``voxcontract.commands`` entry-point group).

The app is imported when the command runs, so that ``voxcontract --help`` stays quick.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import click

from voxcontract.cli import (
    CA_BUNDLE_OPTION,
    SettingOption,
    certificate_options,
    console,
    retry_schedule,
    serve_app,
)

if TYPE_CHECKING:
    from mockserver.app import MockApp

__all__ = ["mock"]

#: Each flag's default is its MockSettings field's, shown by ``--help``.
setting = functools.partial(click.option, cls=SettingOption, setting="mockserver.settings:MockSettings", default=None)


@click.command()
@setting("--host", help="Interface to listen on.")
@setting("--port", type=int, help="Port to listen on.")
@setting("--seed", type=int, help="Seed of every id, secret and jitter.")
@click.option("--api-key", "api_keys", multiple=True, help="An accepted API key (repeatable; default vox_test_key).")
@setting("--processing-time", type=float, help="Mock seconds from queued to completed.")
@setting("--rate-limit", help='Per-key rate limit in limits notation, e.g. "3/minute".')
@setting("--auth-failure-limit", help='Unknown keys per client address ("" = no limit).')
@setting("--clock", type=click.Choice(["real", "manual"]), help="Mock clock mode.")
@setting("--start-time", help="The mock clock's start, RFC 3339.")
@setting("--webhook-retry-schedule", help="Seconds before webhook retries, comma-separated.")
@setting("--webhook-timeout", type=float, help="Seconds a webhook receiver has to answer.")
@setting("--default-scenario", help="The scenario every request gets unless it names one.")
@setting("--log-level", help="uvicorn and app log level.")
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
