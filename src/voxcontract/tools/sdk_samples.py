"""Code samples of the SDKs for each operation of the VoxScriber contract, beside the raw HTTP ones.

``clients/python`` (``voxscriber``) and ``clients/js`` (``@voxscriber/client``) name their calls by hand, so each
operationId maps to the call that serves it; the values (ids, query, the request body) are the same examples the
raw samples use (:func:`voxcontract.tools.samples.build_request`). An operation the SDKs do not know (another
contract's) gets no SDK sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from voxcontract.spec import Operation
from voxcontract.tools.samples import MEDIA_FILE, RequestSample, build_request, code_samples, python_literal

__all__ = ["PYTHON_SDK_PREAMBLE", "TYPESCRIPT_SDK_PREAMBLE", "operation_samples", "sdk_samples"]

PYTHON_SDK_PREAMBLE = (
    "from voxscriber import Client\n\nclient = Client()  # reads VOXSCRIBER_API_KEY and VOXSCRIBER_BASE_URL\n\n"
)
TYPESCRIPT_SDK_PREAMBLE = (
    'import { createClient } from "@voxscriber/client";\n\n'
    "const client = createClient(); // reads VOXSCRIBER_API_KEY and VOXSCRIBER_BASE_URL\n\n"
)

SampleWriter = Callable[[RequestSample], str]


def _id(sample: RequestSample, name: str) -> str:
    return json.dumps(str(sample.path_values.get(name, f"<{name}>")))


def _query(sample: RequestSample, name: str) -> Any:
    return dict(sample.query).get(name)


def _body_options(sample: RequestSample) -> dict[str, Any]:
    body = sample.json_body if isinstance(sample.json_body, Mapping) else {}
    return {key: value for key, value in body.items() if key != "file_id"}


def _file_id(sample: RequestSample) -> str:
    body = sample.json_body if isinstance(sample.json_body, Mapping) else {}
    return json.dumps(str(body.get("file_id", "<file_id>")))


def _python_transcribe(sample: RequestSample) -> str:
    options = "".join(f",\n    {key}={python_literal(value, 4)}" for key, value in _body_options(sample).items())
    return (
        f"job = client.transcribe(\n    {_file_id(sample)}{options},\n)  # retried safely: one Idempotency-Key\n"
        "job = client.wait(job)  # Retry-After and backoff; no hidden deadline\nprint(job.transcript)\n"
    )


def _list_options(sample: RequestSample) -> dict[str, Any]:
    return {name: _query(sample, name) for name in ("status", "limit") if _query(sample, name) is not None}


def _python_list(sample: RequestSample) -> str:
    arguments = ", ".join(f"{name}={python_literal(value)}" for name, value in _list_options(sample).items())
    return f"for job in client.jobs.list({arguments}):  # every page\n    print(job.job_id, job.status)\n"


def _typescript_transcribe(sample: RequestSample) -> str:
    options = json.dumps(_body_options(sample), indent=2, ensure_ascii=False)
    return (
        f"const job = await client.transcribe({_file_id(sample)}, {options});\n"
        "const done = await client.waitFor(job.job_id); // Retry-After and backoff; no hidden deadline\n"
        "console.log(done.transcript);\n"
    )


def _typescript_list(sample: RequestSample) -> str:
    return (
        f"for await (const job of client.listJobs({json.dumps(_list_options(sample))})) {{ // every page\n"
        "  console.log(job.job_id, job.status);\n}\n"
    )


_PYTHON: dict[str, SampleWriter] = {
    "getHealth": lambda _s: "print(client.health())\n",
    "uploadFile": lambda _s: (
        f'file = client.upload("{MEDIA_FILE}", progress=lambda sent, total: print(sent, "/", total))\n'
        "print(file.file_id, file.duration_seconds)\n"
    ),
    "getFile": lambda s: f"print(client.files.get({_id(s, 'file_id')}))\n",
    "deleteFile": lambda s: f"client.files.delete({_id(s, 'file_id')})\n",
    "startTranscription": _python_transcribe,
    "getJobStatus": lambda s: f"job = client.jobs.get({_id(s, 'job_id')})\nprint(job.status, job.progress)\n",
    "getTranscript": lambda s: (
        f"print(client.transcript({_id(s, 'job_id')}, format={python_literal(_query(s, 'format') or 'json')}))\n"
    ),
    "listJobs": _python_list,
    "deleteJob": lambda s: f"client.jobs.delete({_id(s, 'job_id')})\n",
    "getWebhookSecret": lambda _s: "print(client.webhooks.secret().secret)\n",
}

_TYPESCRIPT: dict[str, SampleWriter] = {
    "uploadFile": lambda _s: (
        f'const file = await client.upload("{MEDIA_FILE}", {{\n'
        "  onProgress: (sent, total) => console.log(sent, total),\n});\n"
        "console.log(file.file_id, file.duration_seconds);\n"
    ),
    "getFile": lambda s: f"console.log(await client.getFile({_id(s, 'file_id')}));\n",
    "deleteFile": lambda s: f"await client.deleteFile({_id(s, 'file_id')});\n",
    "startTranscription": _typescript_transcribe,
    "getJobStatus": lambda s: (
        f"const job = await client.getJob({_id(s, 'job_id')});\nconsole.log(job.status, job.progress);\n"
    ),
    "getTranscript": lambda s: (
        f"console.log(await client.transcript({_id(s, 'job_id')}, {json.dumps(_query(s, 'format') or 'json')}));\n"
    ),
    "listJobs": _typescript_list,
    "deleteJob": lambda s: f"await client.deleteJob({_id(s, 'job_id')});\n",
    "getWebhookSecret": lambda _s: "console.log(await client.getWebhookSecret());\n",
}


def operation_samples(document: Mapping[str, Any], operation: Operation) -> dict[str, str]:
    """Every sample of an operation: the raw ones (:func:`~voxcontract.tools.samples.code_samples`), then the SDKs'."""
    return {
        **code_samples(document, operation),
        **sdk_samples(operation.operation_id, build_request(document, operation)),
    }


def sdk_samples(operation_id: str | None, sample: RequestSample) -> dict[str, str]:
    """``python_sdk`` and ``typescript_sdk`` snippets of the operation, where the SDK has a call for it."""
    samples = {}
    if operation_id in _PYTHON:
        samples["python_sdk"] = PYTHON_SDK_PREAMBLE + _PYTHON[operation_id](sample)
    if operation_id in _TYPESCRIPT:
        samples["typescript_sdk"] = TYPESCRIPT_SDK_PREAMBLE + _TYPESCRIPT[operation_id](sample)
    return samples
