"""A job's whole life: upload, transcribe, poll, read the result, download it in every format, bad media.

One upload and one job (word timestamps, diarization when the deployment has it) are shared by the checks;
each check owns one property of them, so a failure names exactly what is wrong.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.checks import check
from conformance.context import ConformanceContext
from conformance.exchange import Exchange
from conformance.meaning import (
    cue_problems,
    duration_problems,
    segment_text_problems,
    transcript_problems,
    word_order_problems,
)
from conformance.observations import distinct_statuses
from conformance.outcomes import CheckFailed, CheckSkipped, CheckUnverified
from conformance.problems import expect_problem, problem_body
from conformance.subtitles import SubtitleError, parse_srt, parse_vtt
from conformance.transcripts import segment_problems, speaker_problems, transition_problems, word_problems
from conformance.validation import expect_valid, expect_valid_schema
from conformance.watch import WATCH_SECONDS, long_media, watch_job
from conformance.workflow import PollResult, cleanup, expect_status, json_body, poll_job, start_job, upload

GROUP = "lifecycle"
#: What the Job schema promises once a job is completed.
_COMPLETED_FIELDS = ("transcript", "language", "language_probability", "duration_seconds", "segments")
#: ``attachment; filename="name.ext"`` (or ``inline``), as the contract's example shows; RFC 6266 token or quoted.
_DISPOSITION = re.compile(r'(?i)(attachment|inline)\s*;\s*filename\s*=\s*("[^"\\]+"|[!#$&+.^_`|~0-9A-Za-z-]+)\s*')
_MEDIA_TYPES = {"json": "application/json", "text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}


@dataclass(frozen=True, slots=True)
class StartedJob:
    """The shared job: its start answer and whether it was asked with diarization."""

    job_id: str
    response: httpx.Response
    diarized: bool


def _valid(ctx: ConformanceContext, response: httpx.Response, what: str) -> None:
    expect_valid(response, ctx.base_url, ctx.document, what=what)


def _uploaded(ctx: ConformanceContext) -> dict[str, Any]:
    def create() -> dict[str, Any]:
        response = upload(ctx)
        body = expect_status(response, 201, what=f"uploading {ctx.audio_filename}")
        _valid(ctx, response, "the upload's answer")
        cleanup(ctx, GROUP, ctx.client, f"/v1/files/{body['file_id']}")
        return body

    return ctx.fixture("lifecycle.file", create)


def _started(ctx: ConformanceContext) -> StartedJob:
    def create() -> StartedJob:
        file_id = str(_uploaded(ctx)["file_id"])
        response = start_job(ctx, file_id, timestamps="word", diarization=True)
        diarized = True
        if response.status_code == 422 and problem_body(response).get("code") == "diarization_unavailable":
            ctx.note("diarization is unavailable here (422 diarization_unavailable): started without it")
            response = start_job(ctx, file_id, timestamps="word")
            diarized = False
        body = expect_status(response, 202, what="starting a job with word timestamps")
        cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{body['job_id']}")
        return StartedJob(str(body["job_id"]), response, diarized)

    return ctx.fixture("lifecycle.job", create)


def _polled(ctx: ConformanceContext) -> PollResult:
    return ctx.fixture("lifecycle.poll", lambda: poll_job(ctx, _started(ctx).job_id, after_terminal=2))


def _completed(ctx: ConformanceContext) -> dict[str, Any]:
    final = _polled(ctx).terminal
    if final.get("status") != "completed":
        raise CheckSkipped(f"the job ended {final.get('status')}, not completed")
    return final


@check(GROUP, "upload", description="A multipart upload of the audio is 201 with a valid File.")
def upload_audio(ctx: ConformanceContext) -> None:
    body = _uploaded(ctx)
    if not float(body.get("duration_seconds") or 0) > 0:
        raise CheckFailed(f"the uploaded speech has duration_seconds {body.get('duration_seconds')!r}")


@check(GROUP, "transcribe", description="Starting a job is 202 with a valid Job and a Location of its status.")
def transcribe(ctx: ConformanceContext) -> None:
    job = _started(ctx)
    _valid(ctx, job.response, "the transcribe answer")
    location = job.response.headers.get("location", "")
    if not location.endswith(f"/v1/status/{job.job_id}"):
        raise CheckFailed(
            f"the 202's Location {location!r} does not point at /v1/status/{job.job_id}",
            exchange=Exchange.from_httpx(job.response),
        )
    options = json_body(job.response, what="the transcribe answer").get("options") or {}
    if options.get("timestamps") != "word" or bool(options.get("diarization")) != job.diarized:
        raise CheckFailed(
            f"the job's options {options} do not echo what was asked", exchange=Exchange.from_httpx(job.response)
        )


@check(GROUP, "status-transitions", description="Only legal status changes, progress never falls, terminal stays.")
def status_transitions(ctx: ConformanceContext) -> None:
    job, polled = _started(ctx), _polled(ctx)
    start = json_body(job.response, what="the transcribe answer")
    observations = [(str(body.get("status")), float(body.get("progress") or 0)) for body in [start, *polled.bodies]]
    problems = transition_problems(observations)
    wrong_ids = [body.get("job_id") for body in polled.bodies if body.get("job_id") != job.job_id]
    if wrong_ids:
        problems.append(f"GET /v1/status/{job.job_id} answered jobs {wrong_ids}")
    if problems:
        statuses = " -> ".join(status for status, _ in observations)
        raise CheckFailed(
            f"{'; '.join(problems)} (observed {statuses})", exchange=Exchange.from_httpx(polled.answers[-1])
        )


@check(GROUP, "status-valid", description="Every status answer while polling is valid per the contract.")
def status_valid(ctx: ConformanceContext) -> None:
    for answer in _polled(ctx).answers:
        _valid(ctx, answer, "a status answer")


@check(GROUP, "completed-job", description="The job on real speech completes with its transcript and language.")
def completed_job(ctx: ConformanceContext) -> None:
    polled = _polled(ctx)
    final, exchange = polled.terminal, Exchange.from_httpx(polled.terminal_answer)
    if final.get("status") != "completed":
        raise CheckFailed(
            f"the job on {ctx.audio_filename} ended {final.get('status')}: {final.get('error')}", exchange=exchange
        )
    missing = [name for name in _COMPLETED_FIELDS if name not in final]
    if missing:
        raise CheckFailed(f"the completed job lacks {', '.join(missing)}", exchange=exchange)


def _raise_problems(problems: list[str], ctx: ConformanceContext, answer: httpx.Response | None = None) -> None:
    """Fail with the first problems, shown with ``answer`` (the shared job's terminal answer by default)."""
    if problems:
        exchange = Exchange.from_httpx(answer or _polled(ctx).terminal_answer)
        raise CheckFailed(
            "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""),
            exchange=exchange,
        )


def _unverified(ctx: ConformanceContext, what: str, flag: str) -> CheckUnverified:
    return CheckUnverified(f"the {what} of {ctx.audio_filename} is unknown", remedy=f"give it with {flag}")


@check(GROUP, "transcript-text", description="The transcript is within the allowed word error rate of the known text.")
def transcript_text(ctx: ConformanceContext) -> None:
    final = _completed(ctx)
    if ctx.known_audio.text is None:
        raise _unverified(ctx, "text", "--audio-text")
    known, allowed = ctx.known_audio.text, ctx.max_word_error_rate
    _raise_problems(transcript_problems(str(final.get("transcript") or ""), known, allowed), ctx)


@check(GROUP, "duration", description="duration_seconds of the file and of the job match the media's real duration.")
def duration(ctx: ConformanceContext) -> None:
    uploaded, final = _uploaded(ctx), _completed(ctx)
    real = ctx.known_audio.duration_seconds
    if real is None:
        raise _unverified(ctx, "duration", "--audio-duration")
    problems = duration_problems("the uploaded file", uploaded.get("duration_seconds"), real, ctx.duration_tolerance)
    problems += duration_problems("the completed job", final.get("duration_seconds"), real, ctx.duration_tolerance)
    _raise_problems(problems, ctx)


@check(GROUP, "segment-text", description="The transcript is its segments' texts joined (whitespace aside).")
def segment_text(ctx: ConformanceContext) -> None:
    _raise_problems(segment_text_problems(_completed(ctx)), ctx)


@check(GROUP, "segments", description="Segments are ordered, start <= end, inside [0, duration + 0.5 s].")
def segments(ctx: ConformanceContext) -> None:
    _raise_problems(segment_problems(_completed(ctx)), ctx)


@check(
    GROUP,
    "words",
    description="With timestamps=word every segment has its words, inside it, in order, not overlapping.",
)
def words(ctx: ConformanceContext) -> None:
    job = _completed(ctx)
    _raise_problems(word_problems(job) + word_order_problems(job), ctx)


@check(GROUP, "speakers", description="With diarization every segment carries a speaker label.")
def speakers(ctx: ConformanceContext) -> None:
    if not _started(ctx).diarized:
        raise CheckSkipped("diarization is unavailable on this deployment")
    _raise_problems(speaker_problems(_completed(ctx)), ctx)


def _download(ctx: ConformanceContext, fmt: str) -> tuple[httpx.Response, str]:
    job = _completed(ctx)
    response = ctx.client.get(f"/v1/transcripts/{job['job_id']}", params={"format": fmt})
    if response.status_code != 200:
        exchange = Exchange.from_httpx(response)
        raise CheckFailed(f"downloading the transcript as {fmt}: {exchange.summary()}", exchange=exchange)
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type != _MEDIA_TYPES[fmt]:
        exchange = Exchange.from_httpx(response)
        raise CheckFailed(
            f"format={fmt} is served as {media_type or 'untyped'}, not {_MEDIA_TYPES[fmt]}", exchange=exchange
        )
    _valid(ctx, response, f"the {fmt} download")
    disposition = response.headers.get("content-disposition")
    if disposition is not None and not _DISPOSITION.fullmatch(disposition):
        raise CheckFailed(
            f"the {fmt} download's Content-Disposition {disposition[:100]!r} names no file "
            '(attachment; filename="...")',
            exchange=Exchange.from_httpx(response),
        )
    return response, str(job.get("transcript") or "")


@check(GROUP, "download-json", description="format=json is a valid Transcript of the job.")
def download_json(ctx: ConformanceContext) -> None:
    response, text = _download(ctx, "json")
    exchange = Exchange.from_httpx(response)
    body = json_body(response, what="the json download")
    expect_valid_schema(ctx.document, "Transcript", body, what="the json download", exchange=exchange)
    if body.get("job_id") != _completed(ctx)["job_id"] or body.get("text") != text:
        raise CheckFailed("the json download's job_id or text differs from the completed job's", exchange=exchange)
    problems = segment_problems(body)
    if problems:
        raise CheckFailed("; ".join(problems[:5]), exchange=exchange)


@check(GROUP, "download-text", description="format=text is non-empty text/plain.")
def download_text(ctx: ConformanceContext) -> None:
    response, text = _download(ctx, "text")
    if text.strip() and not response.text.strip():
        raise CheckFailed("the text download is empty", exchange=Exchange.from_httpx(response))


def _subtitles(ctx: ConformanceContext, fmt: str) -> None:
    response, text = _download(ctx, fmt)
    exchange = Exchange.from_httpx(response)
    try:
        cues = parse_srt(response.text) if fmt == "srt" else parse_vtt(response.text)
    except SubtitleError as error:
        raise CheckFailed(f"the {fmt} download is not valid {fmt.upper()}: {error}", exchange=exchange) from None
    if text.strip() and not cues:
        raise CheckFailed(f"the {fmt} download has no cues for a non-empty transcript", exchange=exchange)
    mismatches = cue_problems(cues, _completed(ctx), fmt)
    if mismatches:
        raise CheckFailed("; ".join(mismatches[:5]) + " (the job's JSON segments)", exchange=exchange)
    limit = float(_completed(ctx).get("duration_seconds") or 0) + 0.5
    late = [cue for cue in cues if cue.end > limit]
    if late:
        raise CheckFailed(f"a {fmt} cue ends at {late[0].end:.3f} s, after the media", exchange=exchange)


@check(
    GROUP,
    "download-srt",
    description="format=srt parses as SRT (numbered, HH:MM:SS,mmm, monotonic); its cues are the segments.",
)
def download_srt(ctx: ConformanceContext) -> None:
    _subtitles(ctx, "srt")


@check(
    GROUP, "download-vtt", description="format=vtt starts with WEBVTT, its cues parse, monotonic, and are the segments."
)
def download_vtt(ctx: ConformanceContext) -> None:
    _subtitles(ctx, "vtt")


@check(GROUP, "not-completed-409", description="A transcript asked for before the job completes is 409.")
def not_completed_409(ctx: ConformanceContext) -> None:
    file_id = str(_uploaded(ctx)["file_id"])
    started = expect_status(start_job(ctx, file_id), 202, what="starting a second job")
    job_id = str(started["job_id"])
    cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{job_id}")
    response = ctx.client.get(f"/v1/transcripts/{job_id}")
    if response.status_code == 200:
        status = json_body(ctx.client.get(f"/v1/status/{job_id}"), what="the second job").get("status")
        if status == "completed":
            raise CheckSkipped("the second job completed before its transcript could be asked for too early")
        raise CheckFailed(f"a transcript was served for a job that is {status}", exchange=Exchange.from_httpx(response))
    expect_problem(response, 409, "job_not_completed", what="a transcript of a job that has not completed")


@check(GROUP, "undecodable-media", description="Random bytes named x.wav are refused at upload: 400 unsupported_media.")
def undecodable_media(ctx: ConformanceContext) -> None:
    # The contract probes media on upload: undecodable media never becomes a file, let alone a job.
    noise = b"".join(hashlib.sha256(f"{ctx.seed}:noise:{n}".encode()).digest() for n in range(128))
    response = upload(ctx, content=noise, filename="x.wav", content_type="audio/wav")
    if response.status_code == 201:
        cleanup(
            ctx, GROUP, ctx.client, f"/v1/files/{json_body(response, what='the upload of random bytes')['file_id']}"
        )
    expect_problem(response, 400, "unsupported_media", what="uploading random bytes as x.wav")


@check(
    GROUP,
    "timestamp-granularity",
    description="timestamps=none completes with text and no segments; timestamps=segment with segments, no words.",
)
def timestamp_granularity(ctx: ConformanceContext) -> None:
    file_id = str(_uploaded(ctx)["file_id"])
    started = {granularity: start_job(ctx, file_id, timestamps=granularity) for granularity in ("none", "segment")}
    jobs: dict[str, str] = {}
    for granularity, response in started.items():
        body = expect_status(response, 202, what=f"starting a job with timestamps={granularity}")
        jobs[granularity] = str(body["job_id"])
        cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{jobs[granularity]}")
    for granularity, job_id in jobs.items():
        polled = poll_job(ctx, job_id)
        _raise_problems(_granularity_problems(granularity, polled.terminal), ctx, polled.terminal_answer)


def _granularity_problems(granularity: str, job: dict[str, Any]) -> list[str]:
    if job.get("status") != "completed":
        return [f"the job with timestamps={granularity} ended {job.get('status')}: {job.get('error')}"]
    segments = job.get("segments") or []
    if granularity == "none":
        problems = [] if not segments else [f"timestamps=none (text only) gave {len(segments)} timed segment(s)"]
        return problems + ([] if job.get("transcript") else ["timestamps=none gave no transcript text"])
    if not segments:
        return ["timestamps=segment gave no segments"]
    worded = [index for index, segment in enumerate(segments) if isinstance(segment, dict) and "words" in segment]
    return [f"timestamps=segment gave words in segment(s) {worded[:5]}"] if worded else []


def _watched(ctx: ConformanceContext) -> str:
    """A job on media long enough to be seen working, watched to its end; its id."""

    def create() -> str:
        media = long_media(ctx.audio)
        if media is None:
            ctx.note(f"{ctx.audio_filename} is not a PCM WAV: watched as it is, not lengthened")
        filename = f"long-{ctx.audio_filename}" if media is not None else ctx.audio_filename
        response = upload(ctx, content=media or ctx.audio, filename=filename)
        file_id = str(expect_status(response, 201, what=f"uploading {filename}")["file_id"])
        cleanup(ctx, GROUP, ctx.client, f"/v1/files/{file_id}")
        started = start_job(ctx, file_id)
        job_id = str(expect_status(started, 202, what=f"starting a job on {filename}")["job_id"])
        cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{job_id}")
        watch_job(ctx, started)
        return job_id

    return ctx.fixture("lifecycle.watched", create)


@check(
    GROUP,
    "job-history",
    description="Across every observation of every job (transcribe, status, list): statuses only move forward and "
    "terminal ones stay, progress never falls, identity and timestamps stay put.",
)
def job_history(ctx: ConformanceContext) -> None:
    _raise_violations(ctx)  # the jobs seen so far, even when watching one more fails
    watched = _watched(ctx)
    _raise_violations(ctx)
    seen = ctx.observations.of(watched)
    states = distinct_statuses(seen)
    ctx.note(
        f"{len(ctx.observations)} observations of {len(ctx.observations.job_ids())} jobs; the watched job "
        f"{watched}: {len(seen)} observations, {' -> '.join(states)}"
    )
    if len(states) < 2:
        raise CheckUnverified(
            f"job {watched} was {states[0] if states else 'never seen'} in all {len(seen)} observations: "
            "with one state seen, its transitions and progress could not be judged",
            remedy=f"give --audio longer media (a WAV is repeated to {WATCH_SECONDS:g} s) or slow the server's "
            "processing down (the mock's --processing-time)",
        )


def _raise_violations(ctx: ConformanceContext) -> None:
    violations = list(ctx.observations.violations())
    if violations:
        shown = "; ".join(str(violation) for violation in violations[:3])
        more = f"; and {len(violations) - 3} more" if len(violations) > 3 else ""
        raise CheckFailed(shown + more, exchange=violations[0].exchange)
