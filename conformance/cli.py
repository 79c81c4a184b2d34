"""``voxcontract conformance``: the suite's flags, each also read from ``VOXCONTRACT_CONFORMANCE_<NAME>``
(registered in the ``voxcontract.commands`` entry-point group)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from voxcontract.cli import EXIT_FINDINGS, CommandError, configure_logging, console

if TYPE_CHECKING:
    from conformance.config import ConformanceConfig
    from conformance.events import EventHandler

__all__ = ["conformance"]

_F = TypeVar("_F", bound=Callable[..., Any])

ENV_PREFIX = "VOXCONTRACT_CONFORMANCE_"


def _option(*names: str, **kwargs: Any) -> Callable[[_F], _F]:
    """A ``conformance`` flag, also read from ``VOXCONTRACT_CONFORMANCE_<NAME>``."""
    name = names[0].lstrip("-").replace("-", "_").upper()
    return click.option(*names, envvar=ENV_PREFIX + name, show_envvar=True, **kwargs)


@click.command()
@_option("--url", required=True, help="The deployment's root URL (the contract's paths start with /v1).")
@_option("--api-key", required=True, help="A valid API key of the deployment.")
@_option("--second-api-key", default=None, help="A key of another tenant (tenant isolation checks).")
@_option("--webhook-listen", default=None, metavar="HOST:PORT", help="The webhook receiver's address.")
@_option("--webhook-public-url", default=None, help="The receiver's URL as the deployment reaches it.")
@_option("--webhook-secret", default=None, help="The whsec_ secret (default: GET /v1/webhooks/secret).")
@_option("--audio", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Media to upload.")
@_option("--audio-text", default=None, help="What is said in --audio (checks the transcript's words).")
@_option("--audio-duration", type=float, default=None, help="How long --audio lasts, in seconds.")
@_option("--max-word-error-rate", type=float, default=None, help="Allowed WER (default 0.35).")
@_option("--duration-tolerance", type=float, default=None, help="Allowed duration error (default 0.05).")
@_option("--max-examples", type=int, default=None, help="Generated examples per operation (contract).")
@_option("--seed", type=int, default=None, help="Seed of generated data.")
@_option("--only", multiple=True, metavar="GROUP", help="Run only these groups (repeatable, or a,b).")
@_option("--skip", multiple=True, metavar="GROUP", help="Skip these groups (repeatable, or a,b).")
@_option("--request-budget", type=int, default=None, help="The most requests the suite may send.")
@_option("--junit", default=None, type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML file.")
@_option(
    "--report",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Write report.json, report.html (and junit.xml).",
)
@_option("--job-deadline", type=float, default=None, help="Seconds a job may take (default 120).")
@_option("--webhook-deadline", type=float, default=None, help="Seconds to wait for webhooks (default 60).")
@_option("--max-wait", type=float, default=None, help="The longest Retry-After to wait for (default 65).")
@_option("--check-timeout", type=float, default=None, help="Seconds one check may run (default 300).")
@_option("--log-level", default="warning", show_default=True, help="Log level of the suite's loggers.")
@_option("--coverage", is_flag=True, default=False, help="Print each contract statement, checks, result.")
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

    configure_logging(log_level)
    given = {name: value for name, value in options.items() if value is not None}
    junit = junit or (report / "junit.xml" if report else None)
    config = ConformanceConfig(only=_names(only), skip=_names(skip), junit=junit, report=report, **given)
    try:
        result = run_suite(config, _event_handlers(config, coverage))
    except UnreachableDeployment as exc:
        raise CommandError(str(exc)) from None
    raise SystemExit(0 if result.conformant else EXIT_FINDINGS)


def _event_handlers(config: ConformanceConfig, coverage: bool) -> list[EventHandler]:
    """The console always; JUnit XML, the JSON and HTML report, the coverage table when asked for."""
    from conformance.console import ConsoleReporter, CoverageReporter
    from conformance.context import key_variables
    from conformance.junit import JUnitWriter
    from conformance.report import JsonReportWriter

    handlers: list[EventHandler] = [ConsoleReporter(console())]
    if config.junit:
        handlers.append(JUnitWriter(config.junit))
    if config.report:
        handlers.append(JsonReportWriter(config.report, key_variables(config.api_key, config.second_api_key)))
    if coverage:
        handlers.append(CoverageReporter(console()))
    return handlers


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated and comma- or space-separated group names, flattened."""
    return tuple(name for value in values for name in value.replace(",", " ").split())
