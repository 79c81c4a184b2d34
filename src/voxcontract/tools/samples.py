"""Code samples generated from the contract: curl, Python (``requests``) and JavaScript (``fetch``, Node 18+), and
the SDKs' calls (:mod:`voxcontract.tools.sdk_samples`).

Every value comes from the document: the base URL from ``servers[0]``, path, query and header parameters
from their examples, the body from the first named example (JSON) or a file part (multipart), and the
``Authorization`` header when the operation is secured. The API key is read from an environment variable.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

from voxcontract.spec import Operation, deref

__all__ = ["MEDIA_FILE", "RequestSample", "build_request", "code_samples", "python_literal"]

MEDIA_FILE = "audio.mp3"
MEDIA_TYPE = "audio/mpeg"
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
_IGNORED_HEADERS = {"accept", "authorization", "content-type"}
_NO_VALUE = object()

ResponseKind = Literal["json", "text", "none"]


@dataclass(slots=True)
class RequestSample:
    """One example request, independent of the language it is written in."""

    method: str
    url: str
    query: list[tuple[str, Any]] = field(default_factory=list)
    #: The example of each path parameter (the SDK samples name ids, not URLs).
    path_values: dict[str, Any] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    auth: tuple[str, str] | None = None  # (header, value prefix), the key itself comes from `key_variable`
    key_variable: str = "API_KEY"
    json_body: Any = _NO_VALUE
    media_type: str | None = None
    form_fields: list[tuple[str, str]] = field(default_factory=list)
    file_fields: list[str] = field(default_factory=list)
    raw_file: bool = False
    response: ResponseKind = "none"

    @property
    def full_url(self) -> str:
        query = [(name, _text(value)) for name, value in self.query]
        return f"{self.url}?{urlencode(query)}" if query else self.url


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _example(document: Mapping[str, Any], node: Mapping[str, Any]) -> Any:
    """The example of a parameter, header or property: ``example``, first of ``examples``, schema hints."""
    if "example" in node:
        return node["example"]
    for raw in (node.get("examples") or {}).values():
        example = deref(document, raw)
        if isinstance(example, Mapping) and "value" in example:
            return example["value"]
    schema = deref(document, node.get("schema", node if "type" in node else {}))
    for key in ("example", "default"):
        if isinstance(schema, Mapping) and key in schema:
            return schema[key]
    if isinstance(schema, Mapping) and schema.get("enum"):
        return schema["enum"][0]
    return _NO_VALUE


def _key_variable(document: Mapping[str, Any]) -> str:
    title = str((document.get("info") or {}).get("title") or "")
    words = [word for word in re.split(r"[^A-Za-z0-9]+", title.upper()) if word]
    if not words or words[-1] != "API":
        words.append("API")
    return "_".join([*words, "KEY"])


def _auth(document: Mapping[str, Any], operation: Operation) -> tuple[str, str] | None:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    for requirement in operation.security(document):
        for name in requirement or {}:
            scheme = deref(document, schemes.get(name, {}))
            if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                return str(scheme.get("name", "X-API-Key")), ""
            if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "basic":
                return "Authorization", "Basic "
            return "Authorization", "Bearer "
    return None


def _response_kind(document: Mapping[str, Any], operation: Operation) -> ResponseKind:
    for status, raw in (operation.definition.get("responses") or {}).items():
        if str(status).startswith("2"):
            content = deref(document, raw).get("content") or {}
            if not content:
                return "none"
            return "json" if all("json" in media for media in content) else "text"
    return "none"


def _apply_parameters(document: Mapping[str, Any], operation: Operation, sample: RequestSample) -> None:
    path = operation.path
    for param in operation.parameters(document):
        name, where = str(param.get("name")), param.get("in")
        value = _example(document, param)
        if where == "path":
            filled = f"<{name}>" if value is _NO_VALUE else quote(_text(value), safe="")
            if value is not _NO_VALUE:
                sample.path_values[name] = value
            path = path.replace("{" + name + "}", filled)
        elif value is _NO_VALUE:
            continue
        elif where == "query":
            sample.query.append((name, value))
        elif where == "header" and name.lower() not in _IGNORED_HEADERS:
            sample.headers.append((name, _text(value)))
    sample.url += path


def _form_fields(document: Mapping[str, Any], media: Mapping[str, Any], sample: RequestSample) -> None:
    schema = deref(document, media.get("schema", {}))
    example = _example(document, {key: media[key] for key in ("example", "examples") if key in media})
    values = example if isinstance(example, Mapping) else {}
    required = set(schema.get("required") or [])
    for name, raw in (schema.get("properties") or {}).items():
        prop = deref(document, raw)
        if prop.get("format") in ("binary", "base64"):
            sample.file_fields.append(str(name))
        elif name in values:
            sample.form_fields.append((str(name), _text(values[name])))
        elif name in required and (value := _example(document, prop)) is not _NO_VALUE:
            sample.form_fields.append((str(name), _text(value)))


def _apply_body(document: Mapping[str, Any], operation: Operation, sample: RequestSample) -> None:
    body = deref(document, operation.definition.get("requestBody", {}))
    content = body.get("content") or {}
    if not content:
        return
    media_type, media = next(iter(content.items()))
    media = deref(document, media)
    sample.media_type = str(media_type)
    if media_type in _FORM_TYPES:
        _form_fields(document, media, sample)
    elif "json" in media_type:
        value = _example(document, {key: media[key] for key in ("example", "examples") if key in media})
        if value is _NO_VALUE:
            schema = deref(document, media.get("schema", {}))
            value = schema.get("example", {}) if isinstance(schema, Mapping) else {}
        sample.json_body = value
    else:
        sample.raw_file = True


def build_request(document: Mapping[str, Any], operation: Operation) -> RequestSample:
    """The example request of an operation, from the document's examples."""
    servers = document.get("servers") or [{}]
    base = str((servers[0] or {}).get("url", "http://localhost")).rstrip("/")
    sample = RequestSample(
        method=operation.method.upper(),
        url=base,
        auth=_auth(document, operation),
        key_variable=_key_variable(document),
        response=_response_kind(document, operation),
    )
    _apply_parameters(document, operation, sample)
    _apply_body(document, operation, sample)
    return sample


def _curl(sample: RequestSample) -> str:
    parts = ["curl"] if sample.method == "GET" else [f"curl -X {sample.method}"]
    parts[0] += f" {shlex.quote(sample.full_url)}"
    if sample.auth:
        header, prefix = sample.auth
        parts.append(f'-H "{header}: {prefix}${sample.key_variable}"')
    parts.extend(f"-H {shlex.quote(f'{name}: {value}')}" for name, value in sample.headers)
    if sample.json_body is not _NO_VALUE:
        parts.append(f"-H {shlex.quote(f'Content-Type: {sample.media_type}')}")
        parts.append(f"-d {shlex.quote(json.dumps(sample.json_body, indent=2, ensure_ascii=False))}")
    parts.extend(f"-F {shlex.quote(f'{name}={value}')}" for name, value in sample.form_fields)
    parts.extend(f"-F {shlex.quote(f'{name}=@{MEDIA_FILE};type={MEDIA_TYPE}')}" for name in sample.file_fields)
    if sample.raw_file:
        parts.append(f"-H {shlex.quote(f'Content-Type: {sample.media_type}')}")
        parts.append(f"--data-binary @{MEDIA_FILE}")
    return " \\\n  ".join(parts) + "\n"


def python_literal(value: Any, indent: int = 0) -> str:
    """A JSON value as a Python literal (``True``, ``None``), indented like ``json.dumps(indent=4)``."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, Mapping) and value:
        items = [f"{inner}{json.dumps(str(k))}: {python_literal(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        items = [f"{inner}{python_literal(v, indent + 4)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if isinstance(value, bool) or value is None:
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _python(sample: RequestSample) -> str:
    imports = ["import os\n", "import requests\n"] if sample.auth else ["import requests\n"]
    arguments = [json.dumps(sample.url) + ","]
    if sample.query:
        arguments.append(f"params={python_literal(dict(sample.query))},")
    headers = [f"{json.dumps(name)}: {json.dumps(value)}," for name, value in sample.headers]
    if sample.auth:
        header, prefix = sample.auth
        key = f"os.environ['{sample.key_variable}']"
        headers.insert(0, f'{json.dumps(header)}: f"{prefix}{{{key}}}",')
    if sample.raw_file:
        headers.append(f'"Content-Type": {json.dumps(sample.media_type)},')
    if headers:
        arguments.append("headers={\n" + "".join(f"    {line}\n" for line in headers) + "},")
    if sample.json_body is not _NO_VALUE:
        arguments.append(f"json={python_literal(sample.json_body)},")
    if sample.form_fields:
        arguments.append(f"data={python_literal(dict(sample.form_fields))},")
    files = [f'"{name}": ("{MEDIA_FILE}", media, "{MEDIA_TYPE}")' for name in sample.file_fields]
    if files:
        arguments.append("files={" + ", ".join(files) + "},")
    if sample.raw_file:
        arguments.append("data=media,")
    arguments.append("timeout=60,")
    call = f"response = requests.{sample.method.lower()}(\n" + _indent("\n".join(arguments), 4) + "\n)"
    if files or sample.raw_file:
        call = f'with open("{MEDIA_FILE}", "rb") as media:\n' + _indent(call, 4)
    result = {"json": "response.json()", "text": "response.text", "none": "response.status_code"}
    return "\n".join([*imports, call, "response.raise_for_status()", f"print({result[sample.response]})"]) + "\n"


def _indent(text: str, width: int) -> str:
    return "\n".join(" " * width + line if line else line for line in text.split("\n"))


def _javascript(sample: RequestSample) -> str:
    lines: list[str] = []
    options: list[str] = [] if sample.method == "GET" else [f'method: "{sample.method}",']
    headers = [f"{json.dumps(name)}: {json.dumps(value)}," for name, value in sample.headers]
    if sample.auth:
        header, prefix = sample.auth
        headers.insert(0, f"{json.dumps(header)}: `{prefix}${{process.env.{sample.key_variable}}}`,")
    if sample.json_body is not _NO_VALUE or sample.raw_file:
        headers.append(f'"Content-Type": {json.dumps(sample.media_type)},')
    if headers:
        options.append("headers: {\n" + "".join(f"  {line}\n" for line in headers) + "},")
    if sample.file_fields or sample.form_fields or sample.raw_file:
        lines.append('import { readFile } from "node:fs/promises";\n')
    if sample.file_fields or sample.form_fields:
        lines.append("const form = new FormData();")
        lines.extend(f"form.append({json.dumps(n)}, {json.dumps(v)});" for n, v in sample.form_fields)
        blob = f'new Blob([await readFile("{MEDIA_FILE}")], {{ type: "{MEDIA_TYPE}" }})'
        lines.extend(f'form.append({json.dumps(n)}, {blob}, "{MEDIA_FILE}");' for n in sample.file_fields)
        lines.append("")
        options.append("body: form,")
    elif sample.raw_file:
        options.append(f'body: await readFile("{MEDIA_FILE}"),')
    elif sample.json_body is not _NO_VALUE:
        body = json.dumps(sample.json_body, indent=2, ensure_ascii=False)
        options.append(f"body: JSON.stringify({body}),")
    url = json.dumps(sample.full_url)
    if options:
        lines.append(f"const response = await fetch({url}, {{\n" + _indent("\n".join(options), 2) + "\n});")
    else:
        lines.append(f"const response = await fetch({url});")
    lines.append("if (!response.ok) {\n  throw new Error(`${response.status}: ${await response.text()}`);\n}")
    result = {"json": "await response.json()", "text": "await response.text()", "none": "response.status"}
    lines.append(f"console.log({result[sample.response]});")
    return "\n".join(lines) + "\n"


def code_samples(document: Mapping[str, Any], operation: Operation) -> dict[str, str]:
    """The ``curl``, ``python`` and ``javascript`` snippets of one operation (the SDKs': ``sdk_samples``)."""
    sample = build_request(document, operation)
    return {"curl": _curl(sample), "python": _python(sample), "javascript": _javascript(sample)}
