"""The ``voxcontract`` command line: a thin layer that parses flags and forwards to the library.

Exit codes: 0 success, 1 findings (lint issues, breaking changes), 2 usage or input problems.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from voxcontract import __version__
from voxcontract.errors import ConfigError, SpecError
from voxcontract.spec import load_spec, load_spec_file, spec_path, spec_text

if TYPE_CHECKING:
    from voxcontract.tls import ServerCertificate

__all__ = ["main"]

_F = TypeVar("_F", bound=Callable[..., Any])

EXIT_FINDINGS = 1
EXIT_USAGE = 2

_spec_argument = click.argument("spec", required=False, type=click.Path(dir_okay=False, path_type=Path))


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _load(path: Path | None) -> dict[str, Any]:
    try:
        return load_spec() if path is None else load_spec_file(path)
    except SpecError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voxcontract")
def main() -> None:
    """voxcontract: the contract-first toolkit for the VoxScriber transcription API."""


@main.command()
@_spec_argument
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def lint(spec: Path | None, fmt: str) -> None:
    """Check an OpenAPI document (the bundled contract by default) against the spec and this project's rules."""
    from voxcontract.tools.lint import lint_document

    findings = lint_document(_load(spec))
    if fmt == "json":
        click.echo(json.dumps([{"pointer": f.pointer, "rule": f.rule, "message": f.message} for f in findings]))
    else:
        _print_findings(findings, spec or spec_path())
    sys.exit(EXIT_FINDINGS if findings else 0)


def _print_findings(findings: list[Any], source: Path) -> None:
    console = _console()
    if not findings:
        console.print(f"[green]✓[/green] {source}: no findings")
        return
    table = Table(title=f"{len(findings)} finding(s) in {source}", show_lines=False)
    for column in ("pointer", "rule", "message"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        table.add_row(Text(finding.pointer), Text(finding.rule), Text(finding.message))
    console.print(table)


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--spec", "spec", type=click.Path(dir_okay=False, path_type=Path), help="Another OpenAPI document.")
def docs(out_dir: Path, spec: Path | None) -> None:
    """Write the static HTML reference (offline, self-contained) and a Markdown rendering to OUT."""
    from voxcontract.tools.docs import write_docs

    written = write_docs(_load(spec), out_dir)
    console = _console()
    for path in written:
        console.print(f"wrote {path}")


@main.command()
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Also list the changes that are not breaking.")
def diff(old: Path, new: Path, fmt: str, show_all: bool) -> None:
    """The breaking changes from OLD to NEW; exit 1 when there is any."""
    from voxcontract.tools.diff import diff_documents

    try:
        changes = diff_documents(_load(old), _load(new))
    except SpecError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_USAGE)
    breaking = [change for change in changes if change.breaking]
    shown = changes if show_all else breaking
    if fmt == "json":
        click.echo(
            json.dumps(
                [{"kind": c.kind, "pointer": c.pointer, "message": c.message, "breaking": c.breaking} for c in shown]
            )
        )
    else:
        _print_changes(shown, len(breaking), len(changes))
    sys.exit(EXIT_FINDINGS if breaking else 0)


def _print_changes(shown: list[Any], breaking: int, total: int) -> None:
    console = _console()
    if shown:
        table = Table(show_lines=False)
        for column in ("", "kind", "pointer", "message"):
            table.add_column(column, overflow="fold")
        for change in shown:
            mark = "[red]BREAKING[/red]" if change.breaking else "[green]ok[/green]"
            table.add_row(mark, Text(change.kind), Text(change.pointer), Text(change.message))
        console.print(table)
    colour = "red" if breaking else "green"
    console.print(f"[{colour}]{breaking} breaking change(s)[/{colour}], {total - breaking} compatible change(s)")


@main.command("spec")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--path", "show_path", is_flag=True, help="Print where the bundled document is, not its text.")
def spec_command(fmt: str, show_path: bool) -> None:
    """Print the bundled VoxScriber contract, for other tools to consume."""
    if show_path:
        click.echo(str(spec_path()))
    elif fmt == "yaml":
        click.echo(spec_text(), nl=False)
    else:
        click.echo(json.dumps(load_spec(), indent=2, ensure_ascii=False))


_CA_BUNDLE_OPTION = click.option(
    "--ca-bundle", default=None, help="PEM file of the CAs that outbound HTTPS trusts (default: certifi's)."
)
_CERTIFICATE_OPTIONS = [
    click.option("--ssl-certfile", default=None, help="PEM certificate (chain): serve HTTPS (with --ssl-keyfile)."),
    click.option("--ssl-keyfile", default=None, help="The PEM private key of --ssl-certfile."),
    click.option(
        "--ssl-keyfile-password", default=None, help="The key's password (better: VOXCONTRACT_SSL_KEYFILE_PASSWORD)."
    ),
]


def _certificate_options(command: _F) -> _F:
    for option in reversed(_CERTIFICATE_OPTIONS):
        command = option(command)
    return command


@main.command()
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
@_certificate_options
@_CA_BUNDLE_OPTION
def mock(api_keys: tuple[str, ...], webhook_retry_schedule: str | None, **options: Any) -> None:
    """Run the deterministic mock server. Every option can also be set as VOXCONTRACT_<OPTION>."""
    from voxcontract.errors import ConfigError
    from voxcontract.tls import check_tls

    try:
        from mockserver.app import create_app
        from mockserver.settings import MockSettings

        settings = MockSettings.from_env(
            api_keys=api_keys or None,
            webhook_retry_schedule=_delays(webhook_retry_schedule),
            **options,
        )
        certificate = check_tls(settings)
        app = create_app(settings)
    except ConfigError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_USAGE)
    _print_mock_banner(app)
    _serve(app, settings.host, settings.port, settings.log_level, certificate)


_ENGINE_OPTIONS = [
    click.option("--data-dir", default=None, help="Database, media, queue and models (default ./voxcontract-data)."),
    click.option("--database-url", default=None, help="Any SQLAlchemy URL (default SQLite in the data dir)."),
    click.option("--queue-url", default=None, help="redis://host:6379/0 for a Redis queue (default SQLite, data dir)."),
    click.option("--model", default=None, help="tiny.en (bundled, default), base (multilingual extra) or a directory."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None, help="Default auto."),
    click.option("--compute-type", default=None, help="auto (int8 on CPU, float16 on CUDA) or a CTranslate2 type."),
    click.option("--cpu-threads", type=int, default=None, help="CPU threads per model (default: CTranslate2's)."),
    click.option("--beam-size", type=int, default=None, help="Beam size (default 5)."),
    click.option("--workers", type=int, default=None, help="Jobs transcribed at once by this process (default 1)."),
    click.option("--lease-seconds", type=float, default=None, help="Job lease; a dead worker's job resumes after it."),
    click.option(
        "--job-deadline-factor", type=float, default=None, help="A job may run this many times its media's duration."
    ),
    click.option(
        "--job-deadline-min-seconds", type=float, default=None, help="Added to every job's deadline (default 300)."
    ),
    click.option("--webhook-retry-schedule", default=None, help='Seconds before webhook retries, e.g. "5,30,120".'),
    click.option("--webhook-timeout", type=float, default=None, help="Seconds a webhook receiver has to answer."),
    click.option(
        "--allow-private-urls", is_flag=True, default=None, help="Let URL uploads and webhooks reach private networks."
    ),
    click.option("--url-allowlist", default=None, help="Comma-separated CIDRs or host[:port] allowed anyway."),
    _CA_BUNDLE_OPTION,
    click.option("--log-level", default=None, help="Log level (default info)."),
]


def _engine_options(command: _F) -> _F:
    for option in reversed(_ENGINE_OPTIONS):
        command = option(command)
    return command


def _reference_settings(options: dict[str, Any]) -> Any:
    from reference_impl.settings import ReferenceSettings

    schedule = _delays(options.pop("webhook_retry_schedule", None))
    allowlist = options.pop("url_allowlist", None)
    api_keys = options.pop("api_keys", None) or None
    return ReferenceSettings.from_env(
        webhook_retry_schedule=schedule,
        url_allowlist=tuple(part.strip() for part in allowlist.split(",") if part.strip()) if allowlist else None,
        api_keys=api_keys,
        **options,
    )


def _usage_error(exc: Exception) -> None:
    _console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
    sys.exit(EXIT_USAGE)


def _config_errors_are_usage_errors(command: _F) -> _F:
    """Settings the command cannot use (a bad flag, variable or data dir): the message and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            _usage_error(exc)

    return wrapper  # type: ignore[return-value]


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8080).")
@click.option("--api-key", "api_keys", multiple=True, help="A key to accept besides the stored ones (repeatable).")
@click.option("--rate-limit", default=None, help='Per-key rate limit in limits notation (default "120/minute").')
@click.option(
    "--auth-failure-limit", default=None, help='Unknown keys per client address (default "60/minute"; "" = no limit).'
)
@click.option("--max-upload-bytes", type=int, default=None, help="The largest upload (default 100 MiB).")
@_certificate_options
@_engine_options
@_config_errors_are_usage_errors
def serve(**options: Any) -> None:
    """Run the reference server: the API, an in-process job consumer, webhooks, retention.

    Every option can also be set as VOXCONTRACT_<OPTION> (VOXCONTRACT_DATA_DIR, VOXCONTRACT_MODEL, ...).
    """
    from reference_impl.commands import prepare_server
    from voxcontract.tls import check_tls

    settings = _reference_settings(options)
    certificate = check_tls(settings)  # before the model loads: a bad certificate is a usage error at once
    _configure_logging(settings.log_level)
    start = prepare_server(settings)
    _print_reference_banner(start)
    _serve(start.app, settings.host, settings.port, settings.log_level, certificate)


def _print_reference_banner(start: Any) -> None:
    settings = start.app.settings
    base = f"{settings.scheme}://{settings.host}:{settings.port}"
    engine = start.app.runtime.runner.pipeline.transcriber
    console = _console()
    console.print(f"VoxScriber reference server on [bold]{base}[/bold]")
    console.print(f"  data dir        {settings.data_path}")
    console.print(f"  model           {engine.model_path} ({engine.device}, {engine.compute_type})")
    console.print(f"  job threads     {settings.workers} (more: voxcontract worker --data-dir {settings.data_path})")
    console.print(f"  Swagger UI      {base}/v1/ui/")
    if start.new_key:
        console.print(f"  [bold]API key         {start.new_key}[/bold]  (created now; shown once, stored hashed)")
        key = start.new_key
    else:
        console.print("  API keys        voxcontract keys list / keys create NAME")
        key = "$VOXSCRIBER_API_KEY"
    console.print("Try it from another shell:")
    console.print(f"  curl -s -H 'Authorization: Bearer {key}' -F file=@mockserver/fixtures/hello.wav {base}/v1/upload")
    console.print(
        f"  curl -s -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
        f'-d \'{{"file_id": "<file_id>"}}\' {base}/v1/transcribe'
    )
    console.print(f"  curl -s -H 'Authorization: Bearer {key}' {base}/v1/status/<job_id>")
    console.print(f"  curl -s -H 'Authorization: Bearer {key}' '{base}/v1/transcripts/<job_id>?format=srt'")


@main.command()
@_engine_options
@_config_errors_are_usage_errors
def worker(**options: Any) -> None:
    """Run more job consumers on a reference server's data dir (a separate process; Ctrl-C stops it).

    Jobs it holds when it stops are given back; if it is killed, they resume when their lease expires
    (at once when a process on the same host notices it is gone).
    """
    from reference_impl.commands import run_worker
    from voxcontract.tls import client_ssl_context

    settings = _reference_settings(options)
    client_ssl_context(settings.ca_bundle)  # webhooks: a bad CA bundle is a usage error now, not at the first one
    _configure_logging(settings.log_level)
    _console().print(f"VoxScriber worker on {settings.data_path} ({max(settings.workers, 1)} job thread(s))")
    run_worker(settings)


@main.group()
def keys() -> None:
    """Manage the reference server's API keys (stored hashed in the data dir's database)."""


_data_dir_option = click.option("--data-dir", default=None, help="The server's data dir (default ./voxcontract-data).")
_database_option = click.option("--database-url", default=None, help="The server's database URL, if not SQLite.")


@keys.command("create")
@click.argument("name")
@_data_dir_option
@_database_option
@_config_errors_are_usage_errors
def keys_create(name: str, **options: Any) -> None:
    """Create a key called NAME; the key is printed once, only here."""
    from reference_impl.commands import create_key

    token, record = create_key(_reference_settings(options), name)
    click.echo(token)
    _console(stderr=True).print(f"key {record.key_id} ({escape(name)}): store it now, it is not shown again")


@keys.command("list")
@_data_dir_option
@_database_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_config_errors_are_usage_errors
def keys_list(fmt: str, **options: Any) -> None:
    """List the keys: id, name, created, revoked (never the keys themselves)."""
    from reference_impl.commands import list_keys

    records = list_keys(_reference_settings(options))
    rows = [
        {
            "key_id": r.key_id,
            "name": r.name,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        for r in records
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table()
    for column in ("key id", "name", "created", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["key_id"]), Text(str(row["name"])), str(row["created_at"]), str(row["revoked_at"] or ""))
    _console().print(table)


@keys.command("revoke")
@click.argument("key_id")
@_data_dir_option
@_database_option
@_config_errors_are_usage_errors
def keys_revoke(key_id: str, **options: Any) -> None:
    """Revoke the key KEY_ID (as `keys list` shows it): it is refused from now on."""
    from reference_impl.commands import revoke_key

    revoked = revoke_key(_reference_settings(options), key_id)
    if not revoked:
        _console(stderr=True).print(f"[red]error:[/red] no active key {escape(key_id)}")
        sys.exit(EXIT_FINDINGS)
    click.echo(f"revoked {key_id}")


def _delays(text: str | None) -> tuple[float, ...] | None:
    from voxcontract.errors import ConfigError

    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--webhook-retry-schedule must be comma-separated seconds, not {text!r}") from None


def _print_mock_banner(app: Any) -> None:
    settings = app.settings
    base = f"{settings.scheme}://{settings.host}:{settings.port}"
    console = _console()
    console.print(f"VoxScriber mock server on [bold]{base}[/bold]  (seed {settings.seed}, clock {settings.clock})")
    for key in settings.effective_api_keys:
        console.print(f"  API key         {key}")
        console.print(f"  webhook secret  {app.webhook_secret(key)}")
    console.print(f"  Swagger UI      {base}/v1/ui/")
    console.print(f"  admin API       {base}/__mock/ (docs {base}/__mock/ui/)")


def _serve(app: Any, host: str, port: int, log_level: str, certificate: ServerCertificate | None = None) -> None:
    import uvicorn

    _configure_logging(log_level)
    tls = certificate.uvicorn_options() if certificate else {}
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), **tls)


def _configure_logging(log_level: str) -> None:
    """The servers' own loggers at ``log_level`` (uvicorn configures its own)."""
    level = logging.getLevelName(log_level.upper())
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.INFO, format="%(levelname)s:  %(name)s %(message)s"
    )
    # Connexion warns on every upload that the operation takes two content types: true, and as designed.
    logging.getLogger("connexion.operations.openapi3").setLevel(logging.ERROR)
    # Huey announces its consumer's start-up and every task at INFO; the reference server logs what matters.
    logging.getLogger("huey").setLevel(max(logging.WARNING, level if isinstance(level, int) else logging.INFO))


_CONFORMANCE_ENV = "VOXCONTRACT_CONFORMANCE_"


def _conformance_option(*names: str, **kwargs: Any) -> Callable[[_F], _F]:
    """A ``conformance`` flag, also read from ``VOXCONTRACT_CONFORMANCE_<NAME>``."""
    name = names[0].lstrip("-").replace("-", "_").upper()
    return click.option(*names, envvar=_CONFORMANCE_ENV + name, show_envvar=True, **kwargs)


@main.command()
@_conformance_option("--url", required=True, help="The deployment's root URL (the contract's paths start with /v1).")
@_conformance_option("--api-key", required=True, help="A valid API key of the deployment.")
@_conformance_option("--second-api-key", default=None, help="A key of another tenant (tenant isolation checks).")
@_conformance_option("--webhook-listen", default=None, metavar="HOST:PORT", help="The webhook receiver's address.")
@_conformance_option("--webhook-public-url", default=None, help="The receiver's URL as the deployment reaches it.")
@_conformance_option("--webhook-secret", default=None, help="The whsec_ secret (default: GET /v1/webhooks/secret).")
@_conformance_option(
    "--audio", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Media to upload."
)
@_conformance_option("--audio-text", default=None, help="What is said in --audio (checks the transcript's words).")
@_conformance_option("--audio-duration", type=float, default=None, help="How long --audio lasts, in seconds.")
@_conformance_option("--max-word-error-rate", type=float, default=None, help="Allowed WER (default 0.35).")
@_conformance_option("--duration-tolerance", type=float, default=None, help="Allowed duration error (default 0.05).")
@_conformance_option("--max-examples", type=int, default=None, help="Generated examples per operation (contract).")
@_conformance_option("--seed", type=int, default=None, help="Seed of generated data.")
@_conformance_option("--only", multiple=True, metavar="GROUP", help="Run only these groups (repeatable, or a,b).")
@_conformance_option("--skip", multiple=True, metavar="GROUP", help="Skip these groups (repeatable, or a,b).")
@_conformance_option("--request-budget", type=int, default=None, help="The most requests the suite may send.")
@_conformance_option("--junit", default=None, type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML file.")
@_conformance_option(
    "--report",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json, report.html (and junit.xml).",
)
@_conformance_option("--job-deadline", type=float, default=None, help="Seconds a job may take (default 120).")
@_conformance_option("--webhook-deadline", type=float, default=None, help="Seconds to wait for webhooks (default 60).")
@_conformance_option("--max-wait", type=float, default=None, help="The longest Retry-After to wait for (default 65).")
@_conformance_option("--check-timeout", type=float, default=None, help="Seconds one check may run (default 300).")
@_conformance_option("--log-level", default="warning", show_default=True, help="Log level of the suite's loggers.")
@_conformance_option("--coverage", is_flag=True, default=False, help="Print each contract statement, checks, result.")
def conformance(
    only: tuple[str, ...],
    skip: tuple[str, ...],
    report: Path | None,
    junit: Path | None,
    log_level: str,
    coverage: bool,
    **options: Any,
) -> None:
    """Check a VoxScriber deployment against the contract.

    Exit 0 when it conforms, 1 when a check failed (or could not run), 2 for usage or connection problems.
    """
    from conformance.config import ConformanceConfig, UnreachableDeployment, run_suite
    from conformance.console import ConsoleReporter, CoverageReporter
    from conformance.context import key_variables
    from conformance.events import EventHandler
    from conformance.junit import JUnitWriter
    from conformance.report import JsonReportWriter
    from voxcontract.errors import ConfigError

    _configure_logging(log_level)
    given = {name: value for name, value in options.items() if value is not None}
    junit = junit or (report / "junit.xml" if report else None)
    try:
        config = ConformanceConfig(only=_names(only), skip=_names(skip), junit=junit, report=report, **given)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    handlers: list[EventHandler] = [ConsoleReporter(_console())]
    if junit:
        handlers.append(JUnitWriter(junit))
    if report:
        handlers.append(JsonReportWriter(report, key_variables(config.api_key, config.second_api_key)))
    if coverage:
        handlers.append(CoverageReporter(_console()))
    try:
        result = run_suite(config, handlers)
    except (ConfigError, UnreachableDeployment) as exc:
        _console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(EXIT_USAGE)
    sys.exit(0 if result.conformant else EXIT_FINDINGS)


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated and comma- or space-separated group names, flattened."""
    return tuple(name for value in values for name in value.replace(",", " ").split())
