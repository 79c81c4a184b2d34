"""``voxcontract serve``, ``worker`` and ``keys``: the reference server's flags and banner (registered in the
``voxcontract.commands`` entry-point group, with the ``reference`` extra).

The commands parse flags into ``ReferenceSettings`` and call one function of ``reference_impl.commands``; the
server's modules (SQLAlchemy, faster-whisper, Huey) are imported when a command runs, so that ``voxcontract --help``
works without the extra.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from voxcontract.cli import (
    CA_BUNDLE_OPTION,
    CommandFailed,
    SettingOption,
    certificate_options,
    configure_logging,
    console,
    log_level_number,
    options,
    retry_schedule,
    serve_app,
)

if TYPE_CHECKING:
    from reference_impl.commands import ServerStart
    from reference_impl.db import ApiKey
    from reference_impl.settings import ReferenceSettings

__all__ = ["keys", "serve", "worker"]

#: Each flag's default is its ReferenceSettings field's, shown by ``--help``.
setting = functools.partial(
    click.option, cls=SettingOption, setting="reference_impl.settings:ReferenceSettings", default=None
)

engine_options = options(
    setting("--data-dir", help="Database, media, queue and models."),
    click.option("--database-url", default=None, help="Any SQLAlchemy URL (default SQLite in the data dir)."),
    click.option("--queue-url", default=None, help="redis://host:6379/0 for a Redis queue (default SQLite, data dir)."),
    click.option(
        "--media-url", default=None, help="s3://bucket/prefix: media in an S3 bucket (default: the data dir)."
    ),
    setting("--model", help="tiny.en (bundled), base (multilingual extra) or a CTranslate2 Whisper directory."),
    setting("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="auto: CUDA when CTranslate2 sees a GPU."),
    setting("--compute-type", help="auto (int8 on CPU, float16 on CUDA) or a CTranslate2 type."),
    setting("--cpu-threads", type=int, help="CPU threads per model (0: CTranslate2's choice)."),
    setting("--beam-size", type=int, help="Beam size."),
    setting("--workers", type=int, help="Jobs transcribed at once by this process."),
    setting("--lease-seconds", type=float, help="Job lease; a dead worker's job resumes after it."),
    setting("--job-deadline-factor", type=float, help="A job may run this many times its media's duration."),
    setting("--job-deadline-min-seconds", type=float, help="Added to every job's deadline."),
    setting("--webhook-retry-schedule", help="Seconds before webhook retries, comma-separated."),
    setting("--webhook-timeout", type=float, help="Seconds a webhook receiver has to answer."),
    click.option(
        "--allow-private-urls", is_flag=True, default=None, help="Let URL uploads and webhooks reach private networks."
    ),
    click.option("--url-allowlist", default=None, help="Comma-separated CIDRs or host[:port] allowed anyway."),
    CA_BUNDLE_OPTION,
    setting("--log-level", help="Log level."),
)
#: What ``keys`` needs to find the server's database.
database_options = options(
    setting("--data-dir", help="The server's data dir."),
    click.option("--database-url", default=None, help="The server's database URL, if not SQLite."),
)


def reference_settings(options: dict[str, Any]) -> ReferenceSettings:
    """Flags (None: not given) over ``VOXCONTRACT_*`` variables over the defaults."""
    from reference_impl.settings import ReferenceSettings

    allowlist = options.pop("url_allowlist", None)
    return ReferenceSettings.from_env(
        webhook_retry_schedule=retry_schedule(options.pop("webhook_retry_schedule", None)),
        url_allowlist=tuple(part.strip() for part in allowlist.split(",") if part.strip()) if allowlist else None,
        api_keys=options.pop("api_keys", None) or None,
        **options,
    )


def _configure_logging(log_level: str) -> None:
    configure_logging(log_level)
    # Huey announces its consumer's start-up and every task at INFO; the reference server logs what matters.
    logging.getLogger("huey").setLevel(max(logging.WARNING, log_level_number(log_level)))


@click.command()
@setting("--host", help="Interface to listen on.")
@setting("--port", type=int, help="Port to listen on.")
@click.option("--api-key", "api_keys", multiple=True, help="A key to accept besides the stored ones (repeatable).")
@setting("--rate-limit", help="Per-key rate limit in limits notation.")
@setting("--auth-failure-limit", help='Unknown keys per client address ("" = no limit).')
@setting("--max-upload-bytes", type=int, help="The largest upload in bytes.")
@certificate_options
@engine_options
def serve(**options: Any) -> None:
    """Run the reference server: the API, an in-process job consumer, webhooks, retention.

    Every option can also be set as VOXCONTRACT_<OPTION> (VOXCONTRACT_DATA_DIR, VOXCONTRACT_MODEL, ...).
    """
    from reference_impl.commands import prepare_server
    from voxcontract.tls import check_tls

    settings = reference_settings(options)
    certificate = check_tls(settings)  # before the model loads: a bad certificate is a usage error at once
    _configure_logging(settings.log_level)
    start = prepare_server(settings)
    print_banner(settings, start)
    serve_app(start.app, settings.host, settings.port, settings.log_level, certificate)


def print_banner(settings: ReferenceSettings, start: ServerStart) -> None:
    """Where the server listens, its data and model, its key (when made now) and curl commands to try."""
    base = f"{settings.scheme}://{settings.host}:{settings.port}"
    out = console()
    out.print(f"VoxScriber reference server on [bold]{base}[/bold]")
    out.print(f"  data dir        {settings.data_path}")
    out.print(f"  model           {start.model}")
    out.print(f"  job threads     {settings.workers} (more: voxcontract worker --data-dir {settings.data_path})")
    out.print(f"  Swagger UI      {base}/v1/ui/")
    if start.new_key:
        out.print(f"  [bold]API key         {start.new_key}[/bold]  (created now; shown once, stored hashed)")
        key = start.new_key
    else:
        out.print("  API keys        voxcontract keys list / keys create NAME")
        key = "$VOXSCRIBER_API_KEY"
    out.print("Try it from another shell:")
    out.print(f"  curl -s -H 'Authorization: Bearer {key}' -F file=@mockserver/fixtures/hello.wav {base}/v1/upload")
    out.print(
        f"  curl -s -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
        f'-d \'{{"file_id": "<file_id>"}}\' {base}/v1/transcribe'
    )
    out.print(f"  curl -s -H 'Authorization: Bearer {key}' {base}/v1/status/<job_id>")
    out.print(f"  curl -s -H 'Authorization: Bearer {key}' '{base}/v1/transcripts/<job_id>?format=srt'")


@click.command()
@engine_options
def worker(**options: Any) -> None:
    """Run more job consumers on a reference server's data dir (a separate process; Ctrl-C stops it).

    Jobs it holds when it stops are given back; if it is killed, they resume when their lease expires
    (at once when a process on the same host notices it is gone).
    """
    from reference_impl.commands import run_worker
    from voxcontract.tls import client_ssl_context

    settings = reference_settings(options)
    client_ssl_context(settings.ca_bundle)  # webhooks: a bad CA bundle is a usage error now, not at the first one
    _configure_logging(settings.log_level)
    console().print(f"VoxScriber worker on {settings.data_path} ({max(settings.workers, 1)} job thread(s))")
    run_worker(settings)


@click.group()
def keys() -> None:
    """Manage the reference server's API keys (stored hashed in the data dir's database)."""


@keys.command("create")
@click.argument("name")
@database_options
def keys_create(name: str, **options: Any) -> None:
    """Create a key called NAME; the key is printed once, only here."""
    from reference_impl.commands import create_key

    token, record = create_key(reference_settings(options), name)
    click.echo(token)
    console(stderr=True).print(f"key {record.key_id} ({escape(name)}): store it now, it is not shown again")


@keys.command("list")
@database_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def keys_list(fmt: str, **options: Any) -> None:
    """List the keys: id, name, created, revoked (never the keys themselves)."""
    from reference_impl.commands import list_keys

    rows = [_key_row(record) for record in list_keys(reference_settings(options))]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table()
    for column in ("key id", "name", "created", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["key_id"]), Text(str(row["name"])), str(row["created_at"]), str(row["revoked_at"] or ""))
    console().print(table)


def _key_row(record: ApiKey) -> dict[str, str | None]:
    return {
        "key_id": record.key_id,
        "name": record.name,
        "created_at": record.created_at.isoformat(),
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
    }


@keys.command("revoke")
@click.argument("key_id")
@database_options
def keys_revoke(key_id: str, **options: Any) -> None:
    """Revoke the key KEY_ID (as `keys list` shows it): it is refused from now on."""
    from reference_impl.commands import revoke_key

    if not revoke_key(reference_settings(options), key_id):
        raise CommandFailed(f"no active key {key_id}")
    click.echo(f"revoked {key_id}")
