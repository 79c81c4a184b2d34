"""Error answers: each documented refusal provoked by the smallest request that should get it, status and code exact.

Other groups accept "any 4xx problem" for bad input; here each request expects exactly the status and ``code`` the
contract documents for it: ``431 headers_too_large`` on every operation, ``413 payload_too_large`` by
Content-Length, ``415 unsupported_content_type``, ``400 malformed_body`` for bodies that do not parse or break the
JSON limits, ``400 invalid_request`` for a violated parameter or body on every operation that documents a ``400``,
``409 file_in_use``, ``422 language_not_supported``, ``400 url_not_allowed``, ``400 unsupported_media``. Limits come
from the contract's ``x-voxscriber-limits``, so a deployment documenting other values is checked against those.
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
from conformance.head_only import send_head_only
from conformance.outcomes import CheckFailed, CheckSkipped, CheckUnverified
from conformance.problems import expect_problem, problem_body
from conformance.samples import sample_request
from conformance.synthetic_media import silent_flac, silent_wav
from conformance.workflow import cleanup, expect_status, start_job, upload, uploaded_file_id
from voxcontract.spec import iter_operations

GROUP = "errors"
_JSON = {"Content-Type": "application/json"}
#: A well-formed file id no deployment issued (the checks that need a real file upload one).
_UNKNOWN_FILE = "file_Conformance0000000000"
#: The most characters of a value a problem may quote (info, Limits), and the length of the value sent.
_EXCERPT_CHARS = 100
_LONG_VALUE_CHARS = 5000
#: A run of the value this long in a problem's text is a quote of it (a stray "Q" in prose is not).
_QUOTED = 20
#: Languages of ISO 639-1 that Whisper-based engines lack; a deployment that has all of them is "unverified".
_RARE_LANGUAGES = ("ab", "zu")
#: Addresses a deployment must refuse to fetch from: loopback, private, link-local (cloud metadata).
_REFUSED_URLS = (
    "http://127.0.0.1:9/conformance.wav",
    "http://10.255.255.1/conformance.wav",
    "http://169.254.169.254/conformance.wav",
)
_LOW_SAMPLE_RATE = 2000
#: What a created answer's id is called, and where the created thing is deleted.
_CREATED = {201: ("file_id", "/v1/files/"), 202: ("job_id", "/v1/jobs/")}


@dataclass(frozen=True, slots=True)
class Case:
    """A request that must be refused, by what it is, and its answer."""

    what: str
    response: httpx.Response


def _expect_each(cases: list[Case], status: int, code: str) -> None:
    """Every case answered ``status`` with ``code``; else one failure naming them all (the first one's exchange)."""
    failures: list[CheckFailed] = []
    for case in cases:
        try:
            expect_problem(case.response, status, code, what=case.what)
        except CheckFailed as failure:
            failures.append(failure)
    if failures:
        summary = "; ".join(failure.message for failure in failures)
        raise CheckFailed(f"{len(failures)} of {len(cases)} wrong: {summary}", exchange=failures[0].exchange)


def _keep_tidy(ctx: ConformanceContext, response: httpx.Response) -> None:
    """A request that should have been refused but created a file or a job: have it deleted after the group."""
    field, collection = _CREATED.get(response.status_code, ("", ""))
    identifier = problem_body(response).get(field) if field else None
    if identifier:
        cleanup(ctx, GROUP, ctx.client, f"{collection}{identifier}")


def _file_id(ctx: ConformanceContext) -> str:
    return ctx.fixture("errors.file", lambda: uploaded_file_id(ctx, GROUP))


# --- 431: header fields --------------------------------------------------------------------------------------


def _operation_requests(ctx: ConformanceContext) -> list[tuple[str, httpx.Request]]:
    """Every operation's example request, with the suite's key where the operation is secured."""
    client = ctx.open_client(None)
    media = (ctx.audio_filename, ctx.audio, ctx.audio_content_type)
    document = ctx.document
    requests = []
    for operation in iter_operations(document):
        sample = sample_request(document, operation)
        authorization = f"Bearer {ctx.api_key}" if operation.security(document) else None
        requests.append((sample.label, sample.build(client, authorization=authorization, media=media)))
    return requests


def _send_refused(ctx: ConformanceContext, request: httpx.Request) -> httpx.Response:
    response = ctx.open_client(None).send(request)
    _keep_tidy(ctx, response)
    return response


@check(GROUP, "header-count", description="One header field past max_header_count: 431 on every operation.")
def header_count(ctx: ConformanceContext) -> None:
    most = ctx.contract_limit("max_header_count")
    cases = []
    for label, request in _operation_requests(ctx):
        for index in range(most + 1 - len(request.headers.raw)):
            request.headers[f"X-Conformance-{index}"] = "1"
        what = f"{label} with {len(request.headers.raw)} header fields (at most {most})"
        cases.append(Case(what, _send_refused(ctx, request)))
    _expect_each(cases, 431, "headers_too_large")


@check(GROUP, "header-bytes", description="Header fields one byte past max_header_bytes: 431 on every operation.")
def header_bytes(ctx: ConformanceContext) -> None:
    most = ctx.contract_limit("max_header_bytes")
    name = "X-Conformance-Padding"
    cases = []
    for label, request in _operation_requests(ctx):
        size = sum(len(key) + len(value) for key, value in request.headers.raw)
        request.headers[name] = "p" * max(1, most + 1 - size - len(name))
        total = size + len(name) + len(request.headers[name])
        cases.append(Case(f"{label} with {total} bytes of header fields (at most {most})", _send_refused(ctx, request)))
    _expect_each(cases, 431, "headers_too_large")


# --- 413, 415 ------------------------------------------------------------------------------------------------


@check(GROUP, "payload-too-large", description="An upload declaring max_upload_bytes + 1 bytes: 413 before its body.")
def payload_too_large(ctx: ConformanceContext) -> None:
    declared = ctx.contract_limit("max_upload_bytes") + 1
    headers = {
        "Authorization": f"Bearer {ctx.api_key}",
        "Content-Type": "multipart/form-data; boundary=conformance",
        "Content-Length": str(declared),
    }
    url = ctx.client.build_request("POST", "/v1/upload").url
    try:
        response = send_head_only(
            url, "POST", headers, budget=ctx.budget, observer=ctx.observe, timeout=ctx.request_timeout
        )
        expect_problem(response, 413, "payload_too_large", what=f"POST /v1/upload declaring {declared} bytes")
    except CheckFailed as failure:
        # The exchange shows the head that was sent; the reproduction sends the whole body, as curl must.
        failure.reproduction = (
            f"head -c {declared} /dev/zero | curl -sS -i -X POST -H 'Content-Type: multipart/form-data; "
            f'boundary=conformance\' -H "Authorization: Bearer $VOXSCRIBER_API_KEY" --data-binary @- {url}'
        )
        raise


@check(GROUP, "unsupported-content-type", description="A text/plain body: 415 on every operation with a body.")
def unsupported_content_type(ctx: ConformanceContext) -> None:
    document = ctx.document
    cases = []
    for operation in iter_operations(document):
        if "requestBody" not in operation.definition:
            continue
        label = f"{operation.method.upper()} {operation.path}"
        response = ctx.client.request(
            operation.method.upper(), operation.path, content=b"file_id", headers={"Content-Type": "text/plain"}
        )
        _keep_tidy(ctx, response)
        cases.append(Case(f"{label} with a text/plain body", response))
    _expect_each(cases, 415, "unsupported_content_type")


# --- 400 malformed_body and the JSON limits ----------------------------------------------------------------------


def _post_json_text(ctx: ConformanceContext, text: bytes) -> httpx.Response:
    response = ctx.client.post("/v1/transcribe", content=text, headers=_JSON)
    _keep_tidy(ctx, response)
    return response


@check(GROUP, "malformed-body", description="Broken JSON, non-UTF-8 JSON, broken multipart: 400 malformed_body.")
def malformed_body(ctx: ConformanceContext) -> None:
    multipart = {"Content-Type": "multipart/form-data; boundary=conformance"}
    broken_multipart = ctx.client.post("/v1/upload", content=b"not multipart at all", headers=multipart)
    _keep_tidy(ctx, broken_multipart)
    cases = [
        Case("broken JSON", _post_json_text(ctx, b'{"file_id": ')),
        Case("JSON that is not UTF-8", _post_json_text(ctx, b'{"file_id": "file_\xff"}')),
        Case("a multipart body without its boundary", broken_multipart),
    ]
    _expect_each(cases, 400, "malformed_body")


def _nested(levels: int) -> bytes:
    """A JSON value of ``levels`` nested arrays."""
    return b"[" * levels + b"]" * levels


def _with_metadata(value: bytes) -> bytes:
    return b'{"file_id": "' + _UNKNOWN_FILE.encode() + b'", "metadata": ' + value + b"}"


@check(GROUP, "json-limits", description="Deeper than max_json_depth, 4,301 digits, NaN, Infinity: malformed_body.")
def json_limits(ctx: ConformanceContext) -> None:
    depth = ctx.contract_limit("max_json_depth")
    # The body's object is one level; its metadata adds the rest.
    at_limit = _post_json_text(ctx, _with_metadata(_nested(depth - 1)))
    if at_limit.status_code == 400 and problem_body(at_limit).get("code") == "malformed_body":
        exchange = Exchange.from_httpx(at_limit)
        raise CheckFailed(
            f"a body nested {depth} levels deep (at most {depth} allowed) was refused as malformed_body",
            exchange=exchange,
        )
    cases = [
        Case(f"a body nested {depth + 1} levels deep", _post_json_text(ctx, _with_metadata(_nested(depth)))),
        Case("an integer of 4,301 digits", _post_json_text(ctx, b'{"file_id": ' + b"7" * 4301 + b"}")),
        Case("NaN", _post_json_text(ctx, b'{"file_id": NaN}')),
        Case("Infinity", _post_json_text(ctx, b'{"file_id": -Infinity}')),
    ]
    _expect_each(cases, 400, "malformed_body")


@check(GROUP, "excerpt", description="A 400 quotes at most 100 characters of a long value, marked [cut: N characters].")
def excerpt(ctx: ConformanceContext) -> None:
    value = "file_" + "Q" * (_LONG_VALUE_CHARS - len("file_"))
    response = ctx.client.post("/v1/transcribe", json={"file_id": value})
    problem = expect_problem(response, 400, "invalid_request", what=f"a file_id of {len(value)} characters")
    texts = [str(problem.get("detail") or "")]
    texts += [str(item.get("message", "")) for item in problem.get("errors") or [] if isinstance(item, dict)]
    exchange = Exchange.from_httpx(response)
    for text in texts:
        quoted = max((len(run) for run in re.findall(r"Q+", text)), default=0)
        if quoted > _EXCERPT_CHARS:
            raise CheckFailed(
                f"the problem quotes {quoted} characters of the {len(value)}-character value (at most "
                f"{_EXCERPT_CHARS}): {text[:200]!r}",
                exchange=exchange,
            )
        if quoted >= _QUOTED and not _marked_as_cut(text, len(value)):
            raise CheckFailed(
                f"the problem quotes part of the {len(value)}-character value without marking it "
                f"'… [cut: {len(value)} characters]': {text[:300]!r}",
                exchange=exchange,
            )


def _marked_as_cut(text: str, length: int) -> bool:
    """Whether ``text`` marks a quote of a ``length``-character value as cut, counting the value's characters."""
    return f"[cut: {length} characters]" in text


# --- 400 invalid_request -----------------------------------------------------------------------------------------

#: For each operation that documents a 400 and takes parameters or a body: the smallest request violating them.
INVALID_REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "POST /v1/upload": ("POST", "/v1/upload", {"json": {"url": "ftp://conformance.invalid/a.wav"}}),
    "GET /v1/files/{file_id}": ("GET", "/v1/files/not-a-file-id", {}),
    "DELETE /v1/files/{file_id}": ("DELETE", "/v1/files/not-a-file-id", {}),
    "POST /v1/transcribe": ("POST", "/v1/transcribe", {"json": {}}),
    "GET /v1/status/{job_id}": ("GET", "/v1/status/not-a-job-id", {}),
    "GET /v1/transcripts/{job_id}": ("GET", "/v1/transcripts/not-a-job-id", {}),
    "GET /v1/jobs": ("GET", "/v1/jobs", {"params": {"limit": 0}}),
    "DELETE /v1/jobs/{job_id}": ("DELETE", "/v1/jobs/not-a-job-id", {}),
}


@check(GROUP, "invalid-request", description="A violated parameter or body: exactly 400 invalid_request, each time.")
def invalid_request(ctx: ConformanceContext) -> None:
    cases = []
    for label, (method, path, arguments) in INVALID_REQUESTS.items():
        response = ctx.client.request(method, path, **arguments)
        _keep_tidy(ctx, response)
        cases.append(Case(f"{label} violating its {'body' if 'json' in arguments else 'parameters'}", response))
    _expect_each(cases, 400, "invalid_request")


@check(GROUP, "unissued-cursor", description="GET /v1/jobs with a well-formed cursor it never issued: 400.")
def unissued_cursor(ctx: ConformanceContext) -> None:
    cursor = "conformance" + hashlib.sha256(f"{ctx.seed}:cursor".encode()).hexdigest()[:24]
    response = ctx.client.get("/v1/jobs", params={"cursor": cursor})
    expect_problem(response, 400, "invalid_request", what=f"GET /v1/jobs with the unissued cursor {cursor!r}")


@check(GROUP, "metadata-key-length", description="A metadata key past x-voxscriber-max-key-length: 400.")
def metadata_key_length(ctx: ConformanceContext) -> None:
    schema = ctx.document["components"]["schemas"]["Metadata"]
    longest = schema.get("x-voxscriber-max-key-length")
    if not isinstance(longest, int):
        raise CheckSkipped("the contract's Metadata documents no x-voxscriber-max-key-length")
    response = start_job(ctx, _file_id(ctx), metadata={"k" * (longest + 1): "v"})
    _keep_tidy(ctx, response)
    expect_problem(response, 400, "invalid_request", what=f"a metadata key of {longest + 1} characters")


# --- refusals that need a real file or media ------------------------------------------------------------------


@check(GROUP, "language-not-supported", description="A valid language code the deployment lacks: 422.")
def language_not_supported(ctx: ConformanceContext) -> None:
    file_id = _file_id(ctx)
    for language in _RARE_LANGUAGES:
        response = start_job(ctx, file_id, language=language)
        if response.status_code != 202:
            expect_problem(response, 422, "language_not_supported", what=f"a job in the language {language!r}")
            return
        _keep_tidy(ctx, response)
    raise CheckUnverified(
        f"the deployment accepts jobs in every language the suite tries ({', '.join(_RARE_LANGUAGES)}), "
        "so no refusal could be observed"
    )


@check(GROUP, "file-in-use", description="Deleting the file of a queued or processing job: 409 file_in_use.")
def file_in_use(ctx: ConformanceContext) -> None:
    file_id = uploaded_file_id(ctx, GROUP)
    job_id = str(expect_status(start_job(ctx, file_id), 202, what="starting a job").get("job_id", ""))
    cleanup(ctx, GROUP, ctx.client, f"/v1/jobs/{job_id}")
    deleted = ctx.client.delete(f"/v1/files/{file_id}")
    if deleted.status_code != 204:
        expect_problem(deleted, 409, "file_in_use", what="deleting the file of a job just started")
        return
    status = str(expect_status(ctx.client.get(f"/v1/status/{job_id}"), 200, what="the job").get("status"))
    if status in ("queued", "processing"):
        raise CheckFailed(
            f"the file of the {status} job {job_id} was deleted (204), expected 409 file_in_use",
            exchange=Exchange.from_httpx(deleted),
        )
    raise CheckUnverified(
        f"the job had already ended ({status}) when its file was deleted, so the file was no longer in use",
        remedy="give longer media with --audio (and --audio-text, --audio-duration)",
    )


@check(GROUP, "url-not-allowed", description="URL uploads of loopback, private, link-local hosts: url_not_allowed.")
def url_not_allowed(ctx: ConformanceContext) -> None:
    cases = []
    for url in _REFUSED_URLS:
        response = ctx.client.post("/v1/upload", json={"url": url})
        _keep_tidy(ctx, response)
        if _allowed_for_the_receiver(ctx, url, response):
            ctx.note(f"{httpx.URL(url).host} is allow-listed for the suite's receiver: the deployment fetched {url}")
            continue
        cases.append(Case(f"an upload of {url}", response))
    _expect_each(cases, 400, "url_not_allowed")


def _allowed_for_the_receiver(ctx: ConformanceContext, url: str, response: httpx.Response) -> bool:
    """Whether the deployment tried to fetch ``url`` because its operator allow-listed the receiver's host (so that
    webhooks reach the suite): that address is the deployment's documented exception, not a violation."""
    receiver = ctx.webhook_receiver
    fetched = response.status_code == 400 and problem_body(response).get("code") == "url_fetch_failed"
    return fetched and receiver is not None and httpx.URL(receiver.public_url).host == httpx.URL(url).host


@check(GROUP, "low-sample-rate", description="Audio sampled below 4000 Hz: 400 unsupported_media.")
def low_sample_rate(ctx: ConformanceContext) -> None:
    media = silent_wav(_LOW_SAMPLE_RATE)
    response = upload(ctx, content=media, filename="low-rate.wav", content_type="audio/wav")
    _keep_tidy(ctx, response)
    expect_problem(response, 400, "unsupported_media", what=f"a WAV sampled at {_LOW_SAMPLE_RATE} Hz")


@check(GROUP, "media-too-long", description="Media one second past max_media_seconds (silent FLAC): media_too_long.")
def media_too_long(ctx: ConformanceContext) -> None:
    seconds = ctx.contract_limit("max_media_seconds") + 1
    media = silent_flac(seconds)
    if len(media) > ctx.contract_limit("max_upload_bytes"):
        raise CheckUnverified(
            f"{seconds} s of silent FLAC take {len(media)} bytes, past max_upload_bytes",
            remedy="a deployment whose max_media_seconds fits its max_upload_bytes as silence",
        )
    response = upload(ctx, content=media, filename="too-long.flac", content_type="audio/flac")
    _keep_tidy(ctx, response)
    expect_problem(response, 400, "media_too_long", what=f"uploading {seconds} s of silence")
