"""``transcribe``: a file or URL in, its transcript out, on the command line (the ``cli`` extra: click and rich).

The one command is registered twice: as ``voxscriber transcribe`` (this distribution's console script) and as
``voxcontract transcribe`` (the ``voxcontract.commands`` entry-point group, through which the ``voxcontract`` tool
finds the commands other distributions give it). The SDK's core never imports this module.

Only the transcript goes to stdout (or ``--out``), so it can be piped; the progress display — upload bytes, then
the job's status and progress, then where the transcript went — goes to stderr.

Exit codes:

- 0 the transcript was written;
- 1 the job failed, the API refused a request (its problem's code, detail and request id are printed), the server
  could not be reached, or ``--timeout`` passed (the job goes on: the resume command is printed);
- 2 a usage error: a bad flag, no API key, no such file;
- 130 interrupted (Ctrl-C). During the upload nothing was started. During the wait the job goes on on the server,
  and the command to resume waiting on it is printed: ``voxcontract transcribe --resume JOB_ID ...``.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from voxscriber._client import Client
from voxscriber._core import API_KEY_ENV, BASE_URL_ENV
from voxscriber._errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    JobFailed,
    WaitTimeout,
)
from voxscriber._models import File, Job, Transcript
from voxscriber._operations import TranscriptFormat
from voxscriber._uploads import is_url

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "main", "transcribe"]

EXIT_FAILED = 1
EXIT_USAGE = 2
#: 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130

FORMATS: Sequence[TranscriptFormat] = ("text", "srt", "vtt", "json")
#: The contract's ``Language`` pattern and ``TimestampGranularity`` enum.
LANGUAGE_PATTERN = re.compile(r"^(auto|[a-z]{2})$")
TIMESTAMPS = ("none", "segment", "word")


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


class Failed(click.ClickException):
    """The command ran and could not deliver a transcript: ``error: <message>`` on stderr, exit 1."""

    exit_code = EXIT_FAILED

    def show(self, file: IO[Any] | None = None) -> None:
        _stderr().print(f"[red]error:[/red] {escape(self.format_message())}")


class Interrupted(Failed):
    """Ctrl-C: what was left behind, and how to go on; exit 130."""

    exit_code = EXIT_INTERRUPTED

    def show(self, file: IO[Any] | None = None) -> None:
        _stderr().print(f"[yellow]interrupted:[/yellow] {escape(self.format_message())}")


@dataclass(frozen=True)
class JobRequest:
    """The ``POST /v1/transcribe`` options the flags give; ``None`` leaves the server's default."""

    language: str | None
    timestamps: str | None
    diarization: bool | None
    webhook_url: str | None

    def start(self, client: Client, file_id: str) -> Job:
        return client.transcribe(
            file_id,
            language=self.language,
            timestamps=self.timestamps,
            diarization=self.diarization,
            webhook_url=self.webhook_url,
        )


@dataclass(frozen=True)
class Output:
    """Where the transcript goes, in which format; and how to ask for the same again (the resume command)."""

    format: TranscriptFormat
    path: Path | None

    def write(self, transcript: Transcript | str) -> str:
        """Write the downloaded transcript; where it went, in words."""
        text = _as_text(transcript)
        if self.path is None:
            click.echo(text, nl=not text.endswith("\n"))
            return "stdout"
        self.path.write_text(text, encoding="utf-8")
        return str(self.path)

    def flags(self) -> list[str]:
        return ["--format", self.format, *(["--out", str(self.path)] if self.path else [])]


def _as_text(transcript: Transcript | str) -> str:
    if isinstance(transcript, str):
        return transcript
    return json.dumps(transcript.to_dict(), indent=2, ensure_ascii=False) + "\n"


class Display:
    """The progress shown on stderr: a byte bar while uploading, then the job's status and progress."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def say(self, message: str) -> None:
        self.console.print(message)

    @contextlib.contextmanager
    def upload(self, name: str) -> Iterator[Callable[[int, int | None], None]]:
        """A byte bar for ``upload(progress=...)``: sent / total, and the speed."""
        columns = (TextColumn("upload {task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=self.console) as progress:
            task = progress.add_task(escape(name), total=None)

            def advance(sent: int, total: int | None) -> None:
                progress.update(task, completed=sent, total=total)

            yield advance

    @contextlib.contextmanager
    def job(self, job_id: str) -> Iterator[Callable[[Job], None]]:
        """A bar of the job's ``progress`` (0 to 1) for ``wait(on_progress=...)``; a line per status change."""
        columns = (
            SpinnerColumn(),
            TextColumn("job {task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console) as progress:
            task = progress.add_task(job_id, total=1.0)
            seen: list[str] = []

            def update(job: Job) -> None:
                if not seen or seen[-1] != job.status:
                    seen.append(job.status)
                    progress.console.print(f"job {job.job_id} {job.status}")
                progress.update(task, completed=job.progress, description=f"{job.job_id} {job.status}")

            yield update


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source", metavar="[FILE_OR_URL]", required=False)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Transcript format."
)
@click.option(
    "--out",
    metavar="PATH",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write it here, not stdout.",
)
@click.option(
    "--language",
    metavar="LANG",
    callback=lambda _c, _p, v: _language(v),
    help="ISO 639-1 code, or auto (server default).",
)
@click.option("--timestamps", type=click.Choice(TIMESTAMPS), help="Timestamp granularity (server default: segment).")
@click.option("--diarize", is_flag=True, help="Label segments with speakers.")
@click.option("--compact", is_flag=True, help="Upload the audio track as mono 16 kHz Opus (needs PyAV).")
@click.option(
    "--webhook-url", metavar="URL", callback=lambda _c, _p, v: _webhook_url(v), help="Where the server POSTs the event."
)
@click.option("--base-url", metavar="URL", envvar=BASE_URL_ENV, show_envvar=True, help="The API's root URL.")
@click.option("--api-key", metavar="KEY", envvar=API_KEY_ENV, show_envvar=True, help="Your API key.")
@click.option("--resume", "resume_job_id", metavar="JOB_ID", help="Wait on this job instead of starting one.")
@click.option(
    "--timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop waiting after SECONDS (exit 1).",
)
@click.pass_context
def transcribe(
    ctx: click.Context,
    source: str | None,
    fmt: TranscriptFormat,
    out: Path | None,
    language: str | None,
    timestamps: str | None,
    diarize: bool,
    compact: bool,
    webhook_url: str | None,
    base_url: str | None,
    api_key: str | None,
    resume_job_id: str | None,
    timeout: float | None,
) -> None:
    """Transcribe FILE_OR_URL (or, with --resume, an earlier job) and write the transcript to stdout or --out.

    Progress goes to stderr. Ctrl-C while waiting leaves the job running and prints the command that resumes it.
    Exit codes: 0 written, 1 the job failed or the API refused, 2 usage error, 130 interrupted.
    """
    _check_source(source, resume_job_id)
    display = Display(_stderr())
    output = Output(fmt, out)
    request = JobRequest(language, timestamps, diarize or None, webhook_url)
    with _client(api_key, base_url) as client, _failures():
        job_id = resume_job_id or _start(client, display, source or "", request, compact)
        resume = shlex.join([*ctx.command_path.split(), "--resume", job_id, *output.flags(), *_base_url_flag(base_url)])
        job = _wait(client, display, job_id, timeout, resume, "waiting on" if resume_job_id else "started")
        written = output.write(client.transcript(job.job_id, format=fmt))
    display.say(f"transcript ({fmt}) of job {job.job_id} written to {escape(written)}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """voxscriber: the VoxScriber API from the command line."""


main.add_command(transcribe)


def _language(value: str | None) -> str | None:
    if value is not None and not LANGUAGE_PATTERN.match(value):
        raise click.BadParameter(f"{value!r} is neither auto nor an ISO 639-1 code such as en")
    return value


def _webhook_url(value: str | None) -> str | None:
    if value is not None and not value.lower().startswith(("http://", "https://")):
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


def _check_source(source: str | None, resume_job_id: str | None) -> None:
    if (source is None) == (resume_job_id is None):
        raise click.UsageError("give FILE_OR_URL, or --resume JOB_ID (one of the two)")
    if source is not None and not is_url(source) and not Path(source).is_file():
        raise click.BadParameter(f"no such file: {source}", param_hint="FILE_OR_URL")


def _base_url_flag(base_url: str | None) -> list[str]:
    # An explicit flag is repeated in the resume command; the key never is (it is a secret: the same flag or variable).
    return ["--base-url", base_url] if base_url else []


def _client(api_key: str | None, base_url: str | None) -> Client:
    try:
        return Client(api_key, base_url)
    except ConfigurationError:
        raise click.UsageError(f"no API key: pass --api-key or set {API_KEY_ENV}") from None


@contextlib.contextmanager
def _failures() -> Iterator[None]:
    """The SDK's errors as exit 1, with what a user (or their support) needs to know."""
    try:
        yield
    except JobFailed as exc:
        raise Failed(str(exc)) from None
    except APIError as exc:
        detail = exc.detail or exc.title or "no detail"
        raise Failed(
            f"the API refused: {exc.code or 'error'} (HTTP {exc.status}): {detail} "
            f"(request id {exc.request_id or 'unknown'})"
        ) from None
    except APIConnectionError as exc:
        raise Failed(f"no answer from the API: {exc}") from None


def _start(client: Client, display: Display, source: str, request: JobRequest, compact: bool) -> str:
    """Upload and start the job; its id. Ctrl-C here aborts: nothing was started."""
    try:
        file = _upload(client, display, source, compact)
        display.say(f"uploaded {escape(source)} as {file.file_id} ({file.size_bytes:,} bytes)")
        job = request.start(client, file.file_id)
    except KeyboardInterrupt:
        raise Interrupted("no job was started") from None
    return job.job_id


def _upload(client: Client, display: Display, source: str, compact: bool) -> File:
    if is_url(source):
        display.say(f"the server fetches {escape(source)}")
        return client.upload(source)
    try:
        with display.upload(Path(source).name) as progress:
            return client.upload(source, progress=progress, compact=compact)
    except ImportError as exc:  # --compact without PyAV
        raise click.UsageError(str(exc)) from None


def _wait(client: Client, display: Display, job_id: str, timeout: float | None, resume: str, how: str) -> Job:
    """Wait for the job with the progress shown; on Ctrl-C or past ``timeout``, say how to resume."""
    try:
        # Announced once Ctrl-C is handled here: from this line on, an interruption prints the resume command.
        display.say(f"job {job_id} {how} (Ctrl-C stops waiting; the job goes on)")
        with display.job(job_id) as on_progress:
            return client.wait(job_id, timeout=timeout, on_progress=on_progress)
    except KeyboardInterrupt:
        raise Interrupted(f"job {job_id} goes on; resume waiting with: {resume}") from None
    except WaitTimeout as exc:
        raise Failed(f"job {job_id} is still {exc.job.status} after {timeout:g} s; it goes on: {resume}") from None
