"""The console output: live progress while checks run, then a table per group and check, and every failure
with the curl command that reproduces it. The only module of the suite that writes to the terminal."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from conformance.events import (
    CheckFinished,
    CheckResult,
    CheckStarted,
    Event,
    RunFinished,
    RunResult,
    RunStarted,
    Status,
)
from conformance.traceability import StatementResult, Traceability, TraceabilityRow

__all__ = ["ConsoleReporter", "CoverageReporter"]

_STYLES = {
    Status.PASSED: "green",
    Status.FAILED: "red",
    Status.SKIPPED: "yellow",
    Status.UNVERIFIED: "cyan",
    Status.ERROR: "magenta",
}
_MARKS = {Status.PASSED: "✓", Status.FAILED: "✗", Status.SKIPPED: "-", Status.UNVERIFIED: "?", Status.ERROR: "!"}


class ConsoleReporter:
    """Consumes run events and renders them on a rich console."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, CheckStarted):
            self._check_started(event)
        elif isinstance(event, CheckFinished):
            self._check_finished(event)
        elif isinstance(event, RunFinished):
            self._finished(event.result)

    def _started(self, event: RunStarted) -> None:
        self.console.print(
            f"[bold]VoxScriber conformance[/bold] against {escape(event.base_url)}: "
            f"{', '.join(event.groups)} ({event.total} checks, budget {event.request_budget} requests)"
        )
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task = self._progress.add_task("starting", total=event.total)
        self._progress.start()

    def _check_started(self, event: CheckStarted) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=escape(event.id))

    def _check_finished(self, event: CheckFinished) -> None:
        result = event.result
        style = _STYLES[result.status]
        line = Text.assemble((f"{_MARKS[result.status]} ", style), (result.id, "bold"), f"  {result.duration:.2f} s")
        if result.message:
            line.append(f"  {result.message}", style="dim" if result.status is Status.PASSED else style)
        (self._progress.console if self._progress else self.console).print(line)
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def _finished(self, result: RunResult) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self.console.print(_table(result))
        for item in result.results:
            if item.status in (Status.FAILED, Status.ERROR):
                self._print_failure(item)
        unverified = [item for item in result.results if item.status is Status.UNVERIFIED]
        if unverified:
            self.console.print(Text("\nUnverified (the check ran but could not decide):", style="bold cyan"))
            for item in unverified:
                self.console.print(Text.assemble(("  ? ", "cyan"), (item.id, "bold"), f"  {item.message}"))
        self._print_summary(result)

    def _print_failure(self, item: CheckResult) -> None:
        style = _STYLES[item.status]
        self.console.print(Text.assemble((f"\n{item.status.upper()} ", f"bold {style}"), (item.id, "bold")))
        self.console.print(Text(item.message))
        for finding in item.findings:
            self.console.print(Text(f"  also: {finding}", style="dim"))
        if item.reproduction:
            self.console.print(Text("reproduce with:", style="dim"))
            self.console.print(Text(f"  {item.reproduction}"))

    def _print_summary(self, result: RunResult) -> None:
        counts = ", ".join(f"{result.count(status)} {status.value}" for status in Status)
        verdict = "[green]conformant[/green]" if result.conformant else "[red]NOT conformant[/red]"
        self.console.print(
            f"\n{verdict}: {counts} in {result.duration:.1f} s, "
            f"{result.requests_used} of {result.request_budget} requests"
        )


def _table(result: RunResult) -> Table:
    table = Table(title="Conformance results", show_lines=False)
    for column in ("group", "check", "status", "time", "message"):
        table.add_column(column, overflow="fold", no_wrap=column != "message")
    groups = result.groups
    for group in groups:
        rows = [item for item in result.results if item.group == group]
        for index, item in enumerate(rows):
            message = item.message + "".join(f" [{note}]" for note in item.notes)
            table.add_row(
                Text(group if index == 0 else ""),
                Text(item.name),
                Text(item.status.value, style=_STYLES[item.status]),
                f"{item.duration:.2f} s",
                Text(message),
                end_section=index == len(rows) - 1,
            )
    return table


_RESULT_STYLES = {
    StatementResult.PASSED: "green",
    StatementResult.FAILED: "red",
    StatementResult.ERROR: "magenta",
    StatementResult.UNVERIFIED: "cyan",
    StatementResult.NOT_RUN: "yellow",
    StatementResult.NOT_CHECKABLE: "dim",
    StatementResult.UNCHECKED: "bold red",
}


class CoverageReporter:
    """``--coverage``: once the run is over, every statement of the contract, the checks that verify it, its result."""

    def __init__(self, console: Console, traceability: Traceability | None = None) -> None:
        self.console = console
        self.traceability = traceability

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            rows = (self.traceability or Traceability.of_contract()).resolve(event.result)
            self.console.print(_coverage_table(rows))
            counts = Counter(row.result for row in rows)
            shown = ", ".join(f"{counts[result]} {result.value}" for result in StatementResult if counts[result])
            self.console.print(f"\nTraceability: {len(rows)} statements of the contract: {shown}")


def _coverage_table(rows: list[TraceabilityRow]) -> Table:
    table = Table(title="Traceability: statement → checks → result", show_lines=False)
    for column in ("statement", "checks", "result"):
        table.add_column(column, overflow="fold")
    for row in rows:
        mapping = row.mapping
        reason = mapping.not_checkable or (mapping.rule.gap if mapping.rule and mapping.rule.gap else "no rule")
        checks = Text(", ".join(mapping.checks)) if mapping.checks else Text(reason, style="dim")
        result = Text(row.result.value, style=_RESULT_STYLES[row.result])
        table.add_row(Text(mapping.statement.id), checks, result)
    return table
