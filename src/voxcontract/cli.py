"""The ``voxcontract`` command line: the core's own commands (lint, docs, diff, spec) and the commands that the
layers above register in the ``voxcontract.commands`` entry-point group (mock, serve, worker, keys, conformance),
the way ``flask`` finds its CLI plugins.

The core imports no layer: a layer's command is loaded when it is named (or listed by ``--help``), so ``voxcontract
lint`` runs without the heavy extras, and a command whose extra is missing says which one instead of a traceback.
A ``ConfigError`` from any command is a usage problem, in one place: ``CommandGroup.invoke``.

Exit codes: 0 success, 1 findings (lint issues, breaking changes), 2 usage or input problems.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import logging
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

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

__all__ = [
    "CA_BUNDLE_OPTION",
    "COMMANDS_ENTRY_POINT_GROUP",
    "EXIT_FINDINGS",
    "EXIT_USAGE",
    "CommandError",
    "CommandFailed",
    "CommandGroup",
    "SettingOption",
    "certificate_options",
    "configure_logging",
    "console",
    "log_level_number",
    "main",
    "options",
    "retry_schedule",
    "serve_app",
    "setting_default",
]

_F = TypeVar("_F", bound=Callable[..., Any])

EXIT_FINDINGS = 1
EXIT_USAGE = 2
COMMANDS_ENTRY_POINT_GROUP = "voxcontract.commands"


def console(stderr: bool = False) -> Console:
    """Where commands print (rich markup; never wrapped, so output can be piped)."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class CommandError(click.ClickException):
    """A command cannot go on (settings or input it cannot use): ``error: <message>`` on stderr, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        console(stderr=True).print(f"[red]error:[/red] {escape(self.format_message())}")


class CommandFailed(CommandError):
    """The command ran and the answer is no (e.g. no such key to revoke): ``error: <message>``, exit 1."""

    exit_code = EXIT_FINDINGS


class CommandGroup(click.Group):
    """The core's commands, then the layers' (loaded by name from the entry-point group, when first needed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_layer_entry_points()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _layer_entry_points():
            command = _load_layer_command(cmd_name, _layer_entry_points()[cmd_name])
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # The one place a command's unusable settings (bad flag, variable, certificate, data dir) become exit 2.
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        except ModuleNotFoundError as exc:
            name = ctx.invoked_subcommand or ""
            entry_point = _layer_entry_points().get(name)
            if entry_point is None or not _is_missing_dependency(exc, entry_point):
                raise
            raise CommandError(_missing_extra_message(name, entry_point, exc)) from None


@functools.cache
def _layer_entry_points() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=COMMANDS_ENTRY_POINT_GROUP)}


def _load_layer_command(name: str, entry_point: EntryPoint) -> click.Command:
    try:
        command = entry_point.load()
    except ModuleNotFoundError as exc:
        if not _is_missing_dependency(exc, entry_point):
            raise
        return _unavailable_command(name, _missing_extra_message(name, entry_point, exc))
    if not isinstance(command, click.Command):
        raise TypeError(f"entry point {entry_point.value!r} ({COMMANDS_ENTRY_POINT_GROUP}) is not a click command")
    return command


def _is_missing_dependency(exc: ModuleNotFoundError, entry_point: EntryPoint) -> bool:
    """A third-party module is not installed (not a module of this project gone missing: that is a bug to show)."""
    missing = (exc.name or "").partition(".")[0]
    return bool(missing) and missing not in {"voxcontract", entry_point.module.partition(".")[0]}


def _missing_extra_message(name: str, entry_point: EntryPoint, exc: ModuleNotFoundError) -> str:
    install = " ".join(f"pip install 'voxcontract[{extra}]'" for extra in entry_point.extras)
    needs = f"the {', '.join(entry_point.extras)} extra ({install})" if install else "a dependency that is missing"
    return f"voxcontract {name} needs {needs}: no module named {exc.name!r}"


def _unavailable_command(name: str, message: str) -> click.Command:
    def refuse() -> None:
        raise CommandError(message)

    return click.Command(
        name,
        callback=refuse,
        help=f"(unavailable) {message}",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voxcontract")
def main() -> None:
    """voxcontract: the contract-first toolkit for the VoxScriber transcription API."""


# --- the core's commands ---------------------------------------------------------------------------------------------

_spec_argument = click.argument("spec", required=False, type=click.Path(dir_okay=False, path_type=Path))


def _load(path: Path | None) -> dict[str, Any]:
    try:
        return load_spec() if path is None else load_spec_file(path)
    except SpecError as exc:
        raise CommandError(str(exc)) from None


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
    raise SystemExit(EXIT_FINDINGS if findings else 0)


def _print_findings(findings: list[Any], source: Path) -> None:
    out = console()
    if not findings:
        out.print(f"[green]✓[/green] {source}: no findings")
        return
    table = Table(title=f"{len(findings)} finding(s) in {source}", show_lines=False)
    for column in ("pointer", "rule", "message"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        table.add_row(Text(finding.pointer), Text(finding.rule), Text(finding.message))
    out.print(table)


@main.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--spec", "spec", type=click.Path(dir_okay=False, path_type=Path), help="Another OpenAPI document.")
def docs(out_dir: Path, spec: Path | None) -> None:
    """Write the static HTML reference (offline, self-contained) and a Markdown rendering to OUT."""
    from voxcontract.tools.docs import write_docs

    written = write_docs(_load(spec), out_dir)
    out = console()
    for path in written:
        out.print(f"wrote {path}")


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
        raise CommandError(str(exc)) from None
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
    raise SystemExit(EXIT_FINDINGS if breaking else 0)


def _print_changes(shown: list[Any], breaking: int, total: int) -> None:
    out = console()
    if shown:
        table = Table(show_lines=False)
        for column in ("", "kind", "pointer", "message"):
            table.add_column(column, overflow="fold")
        for change in shown:
            mark = "[red]BREAKING[/red]" if change.breaking else "[green]ok[/green]"
            table.add_row(mark, Text(change.kind), Text(change.pointer), Text(change.message))
        out.print(table)
    colour = "red" if breaking else "green"
    out.print(f"[{colour}]{breaking} breaking change(s)[/{colour}], {total - breaking} compatible change(s)")


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


# --- what the layers' commands share: CoreSettings' flags, serving, logging -------------------------------------------


def options(*decorators: Callable[[_F], _F]) -> Callable[[_F], _F]:
    """Several click options as one decorator, listed in ``--help`` in the order given."""

    def apply(command: _F) -> _F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


class SettingOption(click.Option):
    """A flag for a field of a settings class, whose ``--help`` ends with the field's default, read from the class.

    ``setting`` is ``"module:Class"``; the field is the flag's name. The module is imported only when the help is
    shown (a layer's settings may be slow to import), so the default is written once: in the settings class.
    """

    def __init__(self, *args: Any, setting: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        text = (self.help or "").rstrip(".")
        self.help = f"{text} (default {setting_default(self.setting, str(self.name))})."
        try:
            return super().get_help_record(ctx)
        finally:
            self.help = text


def setting_default(setting: str, name: str) -> str:
    """The default of the field ``name`` of the settings class ``"module:Class"``, as a flag would spell it."""
    module_name, _, class_name = setting.partition(":")
    settings_class = getattr(importlib.import_module(module_name), class_name)
    field = {field.name: field for field in dataclasses.fields(settings_class)}[name]
    factory: Callable[[], Any] | None = None if field.default_factory is dataclasses.MISSING else field.default_factory
    default = field.default if factory is None else factory()
    if isinstance(default, tuple):
        return ",".join(_number(value) for value in default)
    if default is None or default == "":
        return "none"
    return _number(default) if isinstance(default, float) else str(default)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


CA_BUNDLE_OPTION = click.option(
    "--ca-bundle", default=None, help="PEM file of the CAs that outbound HTTPS trusts (default: certifi's)."
)
certificate_options = options(
    click.option("--ssl-certfile", default=None, help="PEM certificate (chain): serve HTTPS (with --ssl-keyfile)."),
    click.option("--ssl-keyfile", default=None, help="The PEM private key of --ssl-certfile."),
    click.option(
        "--ssl-keyfile-password", default=None, help="The key's password (better: VOXCONTRACT_SSL_KEYFILE_PASSWORD)."
    ),
)


def retry_schedule(text: str | None) -> tuple[float, ...] | None:
    """``--webhook-retry-schedule "0.5,1,2"`` as seconds (None: not given)."""
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"--webhook-retry-schedule must be comma-separated seconds, not {text!r}") from None


def serve_app(app: Any, host: str, port: int, log_level: str, certificate: ServerCertificate | None = None) -> None:
    """Serve ``app`` with uvicorn in the foreground until Ctrl-C (HTTPS with a ``certificate``)."""
    import uvicorn

    configure_logging(log_level)
    tls = certificate.uvicorn_options() if certificate else {}
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), **tls)


def configure_logging(log_level: str) -> None:
    """The servers' and the suite's own loggers at ``log_level`` (uvicorn configures its own)."""
    logging.basicConfig(level=log_level_number(log_level), format="%(levelname)s:  %(name)s %(message)s")
    # Connexion warns on every upload that the operation takes two content types: true, and as designed.
    logging.getLogger("connexion.operations.openapi3").setLevel(logging.ERROR)


def log_level_number(log_level: str) -> int:
    """``"debug"``, ``"INFO"``… as logging's number (INFO for a name logging does not know)."""
    level = logging.getLevelName(log_level.upper())
    return level if isinstance(level, int) else logging.INFO
