"""Real-time factor of the reference server's jobs through its HTTP API, next to faster-whisper called directly.

RTF = processing wall time / audio duration. Both sides run the same engine,
``reference_impl.engine.WhisperTranscriber`` (one ``WhisperModel`` per process, shared), built from one
``ReferenceSettings``: same model, device, compute type, ``cpu_threads``, beam 5, VAD on, segment timestamps, same
audio.

- **direct**: N threads, each transcribing the file once.
- **API**: the reference server (uvicorn on 127.0.0.1, in this process, ``workers=N``, its default queue and
  maintenance settings) and N client threads, each uploading the file, starting a job, polling its status every
  50 ms until it is completed and downloading the transcript. "API job" is timed from ``POST /v1/transcribe`` to the
  completed status seen by polling; "API end to end" from the upload's start to the transcript downloaded.

A round of N jobs is timed from its first start to its last end, and its RTF is that wall time over N times the
audio's duration. Each side warms up with one round (which loads the model), then direct and API rounds alternate,
``--repeat`` of each, so that drift on a shared machine hits both; the server stays up throughout (its idle
maintenance and queue polling run beside the direct rounds too), and its queue worker is idle for a direct round
before each API job, as it is for a job arriving at a quiet server. The table shows medians and the API's overhead
over direct. The poll interval bounds the API's resolution: the end of a job is seen up to 50 ms late. A second table
splits the API jobs into phases (upload, submit, queue pickup, engine, completion seen, download), the server's
pipeline timed from the inside.

Both 1 job and N concurrent jobs are measured; with ``--cpu-threads`` unset each side gets
``max(1, cores // N)`` engine threads per job, so both use the same total.

    .venv/bin/python benchmarks/reference_rtf.py --repeat 5 --concurrency 1
    .venv/bin/python benchmarks/reference_rtf.py --repeat 5 --concurrency 2 --json rtf.json
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from faster_whisper.audio import decode_audio
from rich.console import Console
from rich.table import Table
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reference_impl.app import ReferenceApp, create_app
from reference_impl.engine import WhisperTranscriber, resolve_compute_type, resolve_device
from reference_impl.pipeline import TranscriptionPipeline, build_pipeline
from reference_impl.settings import ReferenceSettings
from voxcontract.auth import key_fingerprint
from voxcontract.serving import BackgroundServer
from voxcontract.transcription import Transcript, TranscriptionOptions

API_KEY = "vox_bench_key"
POLL_INTERVAL = 0.05
JOB_TIMEOUT = 900.0
#: About 33 s of speech with espeak-ng's en-us voice at 150 words per minute.
SPEECH = (
    "The quarterly report is due on Friday, so please send me your figures by Wednesday afternoon. "
    "Our team met with the suppliers last week to discuss the new delivery schedule. "
    "They agreed to ship the first batch of parts at the start of next month. "
    "The weather forecast says it will rain all weekend, so the picnic has been moved indoors. "
    "Remember to back up your files before the system update tonight. "
    "If you have any questions about the budget, call the finance office. "
    "Thank you all for your hard work this year."
)
#: The options both sides transcribe with: the contract's defaults (language auto, segment timestamps).
OPTIONS = TranscriptionOptions()
MODES = ("direct", "API job", "API end to end")
PHASES = ("upload", "submit", "pickup", "engine", "completion", "download")
#: What an API job spends outside the engine: robust to the engine's own noise on a shared machine.
OVERHEADS = ("job - engine", "end to end - engine")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Span:
    """One job's start and end (``time.perf_counter``) and, for API jobs, its phases in seconds."""

    start: float
    end: float
    phases: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ApiRun:
    """An API job's client-side timestamps (``time.perf_counter``) and its file id."""

    file_id: str
    upload_start: float
    submit_start: float
    submitted: float
    completed_seen: float
    downloaded: float


@dataclass(slots=True)
class Cell:
    """One mode at one concurrency: the wall time of every measured round."""

    mode: str
    concurrency: int
    cpu_threads: int
    audio_seconds: float
    walls: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def rtf(self) -> float:
        return self.wall / self.audio_seconds


def round_wall(spans: Sequence[Span]) -> float:
    """A round's wall time: its first start to its last end."""
    return max(span.end for span in spans) - min(span.start for span in spans)


def run_parallel(n: int, task: Callable[[], T]) -> list[T]:
    """Run ``task`` on ``n`` threads released together; the results (the first error is raised)."""
    barrier = threading.Barrier(n)
    results: list[T | BaseException] = [RuntimeError("not run")] * n

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = task()
        except BaseException as exc:  # re-raised below, in the caller's thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,), name=f"bench-{index}") for index in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


# --- audio ----------------------------------------------------------------------------------------------------


def speech_audio(directory: Path) -> Path:
    """About 33 s of English speech (espeak-ng, en-us, 150 wpm) as a WAV file in ``directory``."""
    path = directory / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), SPEECH], check=True)
    return path


def audio_duration(path: Path) -> float:
    """The duration in seconds of what the engine hears (decoded at 16 kHz)."""
    return len(decode_audio(str(path))) / 16_000


# --- direct ---------------------------------------------------------------------------------------------------


def direct_transcriber(settings: ReferenceSettings) -> WhisperTranscriber:
    """faster-whisper exactly as the server's pipeline builds it from the same settings (``num_workers`` included:
    N threads transcribe in parallel on one model, as the server's N job threads do)."""
    return build_pipeline(settings).transcriber


def direct_round(transcriber: WhisperTranscriber, audio: Path, n: int) -> list[Span]:
    def job() -> Span:
        start = time.perf_counter()
        transcriber.transcribe(audio, OPTIONS)
        end = time.perf_counter()
        return Span(start, end, {"engine": end - start})

    return run_parallel(n, job)


# --- API ------------------------------------------------------------------------------------------------------


class TimedPipeline(TranscriptionPipeline):
    """The server's pipeline, noting when the engine starts and ends on each media file (for the phases)."""

    def __init__(self, base: TranscriptionPipeline) -> None:
        super().__init__(base.transcriber, base.diarizer)
        self.spans: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def transcribe(self, media: Path, *args: Any, **kwargs: Any) -> Transcript:
        # Whatever the runner passes besides the media (options, a progress callback) goes through unchanged.
        began = time.perf_counter()
        try:
            return super().transcribe(media, *args, **kwargs)
        finally:
            with self._lock:
                self.spans[str(media)] = (began, time.perf_counter())


class CompletionListener:
    """A local webhook receiver: when each job's ``transcription.completed`` event arrived (perf_counter)."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self._condition = threading.Condition()
        self._server = BackgroundServer(Starlette(routes=[Route("/hook", self._receive, methods=["POST"])]))

    @property
    def url(self) -> str:
        return self._server.base_url + "/hook"

    @property
    def port(self) -> int:
        return self._server.port

    async def _receive(self, request: Request) -> Response:
        at = time.perf_counter()
        event = json.loads(await request.body())
        with self._condition:
            self.arrived.setdefault(event["data"]["job_id"], at)
            self._condition.notify_all()
        return Response(status_code=204)

    def wait(self, job_id: str, timeout: float = JOB_TIMEOUT) -> float:
        with self._condition:
            if not self._condition.wait_for(lambda: job_id in self.arrived, timeout):
                raise RuntimeError(f"no webhook for job {job_id} within {timeout} s")
            return self.arrived[job_id]

    def __enter__(self) -> CompletionListener:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    app: ReferenceApp
    pipeline: TimedPipeline
    listener: CompletionListener | None

    def engine_span(self, file_id: str) -> tuple[float, float]:
        media = self.app.deployment.store.get_file(key_fingerprint(API_KEY), file_id)
        if media is None:
            raise RuntimeError(f"file {file_id} is gone")
        return self.pipeline.spans[str(media.path)]


@contextlib.contextmanager
def serve(settings: ReferenceSettings, notify: str) -> Iterator[Server]:
    """The reference server on 127.0.0.1 (uvicorn on a thread of this process), the benchmark's key imported."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(CompletionListener()) if notify == "webhook" else None
        if listener is not None:  # the server may post to this one local address (its SSRF rules refuse the rest)
            settings = dataclasses.replace(settings, url_allowlist=(f"127.0.0.1:{listener.port}",))
        pipeline = TimedPipeline(build_pipeline(settings))
        app = create_app(settings, pipeline=pipeline)
        app.deployment.keys.ensure(API_KEY, "benchmark")
        stack.callback(app.deployment.close)
        server = stack.enter_context(BackgroundServer(app))
        yield Server(server.base_url, app, pipeline, listener)


def api_job(server: Server, audio: Path) -> ApiRun:
    """Upload, transcribe, wait for the completion (webhook, or polling), download the transcript."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        upload_start = time.perf_counter()
        with audio.open("rb") as media:
            uploaded = client.post("/v1/upload", files={"file": (audio.name, media, "application/octet-stream")})
        _expect(uploaded, 201)
        submit_start = time.perf_counter()
        body = {"file_id": uploaded.json()["file_id"]}
        if server.listener is not None:
            body["webhook_url"] = server.listener.url
        started = client.post("/v1/transcribe", json=body)
        _expect(started, 202)
        submitted = time.perf_counter()
        job_id = started.json()["job_id"]
        listener = server.listener
        completed_seen = listener.wait(job_id) if listener is not None else wait_completed(client, job_id)
        _expect(client.get(f"/v1/transcripts/{job_id}"), 200)
        downloaded = time.perf_counter()
    return ApiRun(uploaded.json()["file_id"], upload_start, submit_start, submitted, completed_seen, downloaded)


def wait_completed(client: httpx.Client, job_id: str) -> float:
    """Poll the job's status every :data:`POLL_INTERVAL`; when ``completed`` was seen (perf_counter)."""
    for _ in range(math.ceil(JOB_TIMEOUT / POLL_INTERVAL)):
        response = client.get(f"/v1/status/{job_id}")
        _expect(response, 200)
        status = response.json()["status"]
        if status == "completed":
            return time.perf_counter()
        if status == "failed":
            raise RuntimeError(f"job {job_id} failed: {response.json().get('error')}")
        time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"job {job_id} did not complete within {JOB_TIMEOUT} s")


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )


def api_round(server: Server, audio: Path, n: int) -> tuple[list[Span], list[Span]]:
    """One round of ``n`` concurrent jobs: the "job" spans and the "end to end" spans (with phases)."""
    runs = run_parallel(n, lambda: api_job(server, audio))
    jobs, ends = [], []
    for run in runs:
        engine_start, engine_end = server.engine_span(run.file_id)
        phases = {
            "upload": run.submit_start - run.upload_start,
            "submit": run.submitted - run.submit_start,
            "pickup": engine_start - run.submitted,
            "engine": engine_end - engine_start,
            "completion": run.completed_seen - engine_end,
            "download": run.downloaded - run.completed_seen,
        }
        phases["job - engine"] = run.completed_seen - run.submit_start - phases["engine"]
        phases["end to end - engine"] = run.downloaded - run.upload_start - phases["engine"]
        jobs.append(Span(run.submit_start, run.completed_seen))
        ends.append(Span(run.upload_start, run.downloaded, phases))
    return jobs, ends


# --- the run --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    concurrencies: tuple[int, ...]
    repeat: int
    audio: Path
    audio_seconds: float
    model: str
    device: str
    cpu_threads: int | None
    data_root: Path
    #: How API jobs learn their completion: "webhook" (a local receiver: no polling competes with the engine for
    #: the CPU) or "poll" (GET /v1/status every POLL_INTERVAL).
    notify: str = "webhook"

    @property
    def compute_type(self) -> str:
        return resolve_compute_type("auto", self.device)

    def threads(self, concurrency: int) -> int:
        return self.cpu_threads or max(1, (os.cpu_count() or 1) // concurrency)

    def settings(self, concurrency: int) -> ReferenceSettings:
        """The server's defaults, but this engine, ``workers=concurrency`` and a rate limit polling never hits."""
        return ReferenceSettings(
            data_dir=str(self.data_root / f"data-{concurrency}"),
            model=self.model,
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.threads(concurrency),
            workers=concurrency,
            rate_limit="1000000/minute",
        )


@dataclass(slots=True)
class Results:
    cells: list[Cell] = field(default_factory=list)
    #: Per concurrency, per phase: every measured job's seconds.
    phases: dict[int, dict[str, list[float]]] = field(default_factory=dict)

    def cell(self, mode: str, concurrency: int) -> Cell:
        return next(c for c in self.cells if c.mode == mode and c.concurrency == concurrency)

    def overhead(self, cell: Cell) -> float:
        return cell.wall / self.cell("direct", cell.concurrency).wall - 1


def measure(plan: Plan, concurrency: int, results: Results, console: Console) -> None:
    """Warm both sides up, then alternate direct and API rounds (so that drift on a shared machine hits both)."""
    settings = plan.settings(concurrency)
    transcriber = direct_transcriber(settings)
    direct, job, end_to_end = (_new_cell(plan, mode, concurrency, results) for mode in MODES)
    phases = results.phases.setdefault(concurrency, {})
    with serve(settings, plan.notify) as server:
        console.log(f"{concurrency} job(s): warm-up (loads the model), server on {server.url}")
        direct_round(transcriber, plan.audio, concurrency)
        api_round(server, plan.audio, concurrency)
        for index in range(plan.repeat):
            spans = direct_round(transcriber, plan.audio, concurrency)
            direct.walls.append(round_wall(spans))
            phases.setdefault("direct engine", []).extend(span.phases["engine"] for span in spans)
            jobs, ends = api_round(server, plan.audio, concurrency)
            job.walls.append(round_wall(jobs))
            end_to_end.walls.append(round_wall(ends))
            for span in ends:
                for name, seconds in span.phases.items():
                    phases.setdefault(name, []).append(seconds)
            console.log(
                f"{concurrency} job(s), round {index + 1}: direct {direct.walls[-1]:.2f} s, "
                f"API job {job.walls[-1]:.2f} s, end to end {end_to_end.walls[-1]:.2f} s"
            )


def _new_cell(plan: Plan, mode: str, concurrency: int, results: Results) -> Cell:
    cell = Cell(mode, concurrency, plan.threads(concurrency), plan.audio_seconds * concurrency)
    results.cells.append(cell)
    return cell


def run(plan: Plan, console: Console) -> Results:
    results = Results()
    for concurrency in plan.concurrencies:
        measure(plan, concurrency, results, console)
    return results


# --- output ---------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import ctranslate2
    import faster_whisper

    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "faster_whisper": faster_whisper.__version__,
        "ctranslate2": ctranslate2.__version__,
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def result_table(plan: Plan, results: Results) -> Table:
    table = Table(
        title=f"Reference server vs faster-whisper direct: {plan.model}, {plan.device} {plan.compute_type}, beam 5, "
        f"VAD, {plan.audio_seconds:.1f} s of audio per job, median of {plan.repeat} round(s); the client learns "
        + (
            "the end from the job's webhook"
            if plan.notify == "webhook"
            else f"the end by polling every {POLL_INTERVAL * 1000:.0f} ms"
        )
    )
    for column in ("mode", "conc.", "cpu threads/job", "audio s", "wall s", "wall min-max", "RTF", "API/direct - 1"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for cell in results.cells:
        overhead = "" if cell.mode == "direct" else f"{results.overhead(cell) * 100:+.1f} %"
        table.add_row(
            cell.mode,
            str(cell.concurrency),
            str(cell.cpu_threads),
            f"{cell.audio_seconds:.1f}",
            f"{cell.wall:.2f}",
            f"{min(cell.walls):.2f}-{max(cell.walls):.2f}",
            f"{cell.rtf:.3f}",
            overhead,
        )
    return table


def phase_table(results: Results) -> Table:
    table = Table(
        title="API jobs by phase, median ms over every measured job (pickup: transcribe answered → engine starts; "
        "completion: engine done → the client knows (webhook or poll); the last two: the job's wall time outside "
        "the engine)"
    )
    names = ("direct engine", *PHASES, *OVERHEADS)
    table.add_column("conc.", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for concurrency, phases in results.phases.items():
        row = [f"{statistics.median(phases[name]) * 1000:.0f}" if name in phases else "-" for name in names]
        table.add_row(str(concurrency), *row)
    return table


def results_json(plan: Plan, results: Results) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "audio": {"path": str(plan.audio), "seconds": plan.audio_seconds},
        "engine": {"model": plan.model, "device": plan.device, "compute_type": plan.compute_type},
        "repeat": plan.repeat,
        "notify": plan.notify,
        "poll_interval_seconds": POLL_INTERVAL if plan.notify == "poll" else None,
        "results": [
            {
                "mode": cell.mode,
                "concurrency": cell.concurrency,
                "cpu_threads": cell.cpu_threads,
                "audio_seconds": cell.audio_seconds,
                "walls": cell.walls,
                "median_wall": cell.wall,
                "median_rtf": cell.rtf,
                "overhead_percent": None if cell.mode == "direct" else results.overhead(cell) * 100,
            }
            for cell in results.cells
        ],
        "phases": {str(c): phases for c, phases in results.phases.items()},
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--concurrency", type=int, default=2, help="N concurrent jobs (1 job is measured too)")
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds per cell, after one warm-up")
    parser.add_argument("--audio", type=Path, help="any audio file (default: ~33 s of espeak-ng speech)")
    parser.add_argument("--cpu-threads", type=int, help="engine threads per job (default: max(1, cores // N))")
    parser.add_argument("--model", default=ReferenceSettings().model, help="tiny.en, base, or a CTranslate2 directory")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--notify",
        choices=("webhook", "poll"),
        default="webhook",
        help="how the client learns a job completed: its webhook (default), or polling every 50 ms",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.repeat < 1 or (args.cpu_threads is not None and args.cpu_threads < 1):
        parser.error("--concurrency, --repeat and --cpu-threads must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print the tables, write the JSON if asked."""
    args = parse_args(argv)
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="vox-rtf-") as temp:
        audio = args.audio or speech_audio(Path(temp))
        plan = Plan(
            concurrencies=tuple(sorted({1, args.concurrency})),
            repeat=args.repeat,
            audio=audio,
            audio_seconds=audio_duration(audio),
            model=args.model,
            device=resolve_device(args.device),
            cpu_threads=args.cpu_threads,
            data_root=Path(temp),
            notify=args.notify,
        )
        results = run(plan, console)
    out = Console(width=200)
    out.print(result_table(plan, results))
    out.print(phase_table(results))
    info = machine()
    out.print(f"{time.strftime('%Y-%m-%d')} · {info['cpus']} CPU(s), {info['cpu']} · python {info['python']}")
    if args.json is not None:
        args.json.write_text(json.dumps(results_json(plan, results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
