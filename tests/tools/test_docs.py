"""The HTML and Markdown reference (``voxcontract.tools.docs``) and its generated code samples."""

from __future__ import annotations

import base64
import html as html_lib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.browser import BROWSER_OWN_HOSTS, RecordingProxy, png_facts, run_chromium
from voxcontract.spec import Operation, iter_operations, load_spec
from voxcontract.tools.docs import render_html, render_markdown, write_docs
from voxcontract.tools.error_view import errors_view
from voxcontract.tools.samples import code_samples
from voxcontract.tools.sdk_samples import operation_samples
from voxcontract.tools.webhook_samples import verification_samples

EXTERNAL_LOADS = re.compile(
    r"""<script[^>]*\bsrc\s*=|<link[^>]*href\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?(https?:)?//"""
    r"""|\bsrc\s*=\s*["']?(https?:)?//|\bsrcset\s*=|<iframe|<object|<embed""",
    re.IGNORECASE,
)
SCREEN = (1280, 2000)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_spec()


@pytest.fixture(scope="module")
def html(document: dict[str, Any]) -> str:
    return render_html(document)


@pytest.fixture(scope="module")
def markdown(document: dict[str, Any]) -> str:
    return render_markdown(document)


@pytest.fixture(scope="module")
def operations(document: dict[str, Any]) -> dict[str, Operation]:
    return {op.operation_id or "": op for op in iter_operations(document)}


@pytest.fixture(scope="module")
def samples(document: dict[str, Any], operations: dict[str, Operation]) -> dict[str, dict[str, str]]:
    return {name: operation_samples(document, op) for name, op in operations.items()}


def _visible_text(fragment: str) -> str:
    """The text of an HTML fragment, tags (such as highlighting spans) removed."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", fragment))


def _outside_fences(markdown: str) -> str:
    return re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "(code)", markdown, flags=re.MULTILINE | re.DOTALL)


def _error_codes(document: dict[str, Any]) -> list[str]:
    return list(document["components"]["schemas"]["ErrorCode"]["enum"])


# --- HTML -------------------------------------------------------------------------------------------


def test_every_operation_has_an_element_with_its_id(html: str, operations: dict[str, Operation]) -> None:
    for operation_id in operations:
        assert f'id="{operation_id}"' in html, operation_id
    assert 'id="receiveTranscriptionEvent"' in html  # the callback operation, in the webhooks section


def test_element_ids_are_unique(html: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_sidebar_links_every_operation_grouped_by_tag(html: str, document: dict[str, Any]) -> None:
    nav = html.split('<nav class="sidebar"', 1)[1].split("</nav>", 1)[0]
    for tag in document["tags"]:
        assert f"<h2>{tag['name']}</h2>" in nav
    for op in iter_operations(document):
        assert f'href="#{op.operation_id}"' in nav


def test_the_overview_renders_the_info_description_as_markdown(html: str) -> None:
    assert "<title>VoxScriber API 1.0.0" in html
    assert "<strong>Upload</strong>" in html
    assert "<h3>Authentication</h3>" in html  # demoted under the page title
    assert "<code>POST /v1/upload</code>" in html


def test_webhooks_section(html: str) -> None:
    section = _visible_text(html.split('<section id="webhooks">', 1)[1].split("</section>", 1)[0])
    for text in (
        "transcription.completed",
        "transcription.failed",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "Acknowledgement and retries",
        "then every 3 h, for up to 24 h",
        "Webhook(WEBHOOK_SECRET)",
        "hmac.compare_digest",
        "node:crypto",
        "WebhookEvent",
    ):
        assert text in section, text


def test_errors_section(html: str, document: dict[str, Any]) -> None:
    section = html.split('<section id="errors">', 1)[1].split("</section>", 1)[0]
    assert "application/problem+json" in section
    for code in _error_codes(document):
        assert f'id="error-{code}"' in section
    for header in ("RateLimit", "RateLimit-Policy", "Retry-After"):
        assert f'<code class="name">{header}</code>' in section


def test_error_codes_carry_their_meaning_and_statuses(document: dict[str, Any]) -> None:
    codes = {item.code: item for item in errors_view(document).codes}
    assert list(codes) == _error_codes(document)
    assert codes["rate_limited"].statuses == ("429",)
    assert codes["idempotency_key_reused"].statuses == ("409",)
    assert codes["invalid_request"].responses == ("BadRequest",)
    assert codes["not_found"].meaning == "no such resource for the calling key"
    assert all(item.meaning for item in codes.values())


def test_every_component_schema_is_documented(html: str, document: dict[str, Any]) -> None:
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html, name
    assert '<a class="ref" href="#schema-Job">Job</a>' in html


def test_parameters_bodies_and_responses_are_shown(html: str) -> None:
    start = html.split('id="startTranscription"', 1)[1].split("</article>", 1)[0]
    assert "Idempotency-Key" in start
    assert "5f0c1d9e-7a43-4b1e-9c5d-0a9b8e7f6d21" in start  # the parameter's example
    assert "Every option" in start  # the second named body example
    assert "getJobStatus" in start  # a response link
    assert "minLength: 1" in start


def test_the_page_loads_nothing_from_outside(html: str) -> None:
    assert not EXTERNAL_LOADS.search(html), EXTERNAL_LOADS.search(html)


def test_descriptions_cannot_inject_markup_or_loads() -> None:
    document = {
        "openapi": "3.0.3",
        "info": {
            "title": "Evil",
            "version": "1",
            "description": '<script>alert(1)</script> **bold** ![x](https://evil.example/p.png) <img src="http://x">',
        },
        "paths": {
            "/x": {"get": {"description": "[a](javascript:alert(1))", "responses": {"200": {"description": "ok"}}}}
        },
    }
    page = render_html(document)
    assert "<script>alert" not in page
    assert "<strong>bold</strong>" in page
    assert 'href="javascript:' not in page
    assert not EXTERNAL_LOADS.search(page)


def test_output_is_deterministic(document: dict[str, Any], html: str, markdown: str, tmp_path: Path) -> None:
    assert render_html(load_spec()) == html
    assert render_markdown(load_spec()) == markdown
    written = write_docs(document, tmp_path / "out")
    assert written == [tmp_path / "out" / "index.html", tmp_path / "out" / "voxscriber.md"]
    assert written[0].read_text(encoding="utf-8") == html
    assert written[1].read_text(encoding="utf-8") == markdown


@pytest.mark.parametrize(
    "document",
    [
        {"openapi": "3.0.3", "info": {"title": "Empty", "version": "0"}, "paths": {}},
        {"openapi": "3.0.3", "info": {}, "paths": {"/a/{id}": {"post": {"responses": {}}}}},
        {
            "openapi": "3.0.3",
            "info": {"title": "Bare", "version": "1"},
            "paths": {
                "/items/{id}": {
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "put": {
                        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                        "responses": {"204": {"description": "done"}},
                    },
                }
            },
            "components": {
                "schemas": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}}}
            },
        },
    ],
    ids=["no-paths", "no-info", "no-tags-no-examples"],
)
def test_documents_missing_optional_parts_render(document: dict[str, Any]) -> None:
    page = render_html(document)
    text = render_markdown(document)
    assert 'id="webhooks"' in page
    assert 'id="errors"' in page
    assert "## Webhooks" in text
    for op in iter_operations(document):
        samples = code_samples(document, op)
        compile(samples["python"], "<sample>", "exec")


def test_operations_without_an_id_get_a_slug() -> None:
    document = {"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": {"/a/{b}": {"get": {}}}}
    assert 'id="get-a-b"' in render_html(document)


# --- Markdown ---------------------------------------------------------------------------------------


def test_markdown_has_a_heading_per_operation(markdown: str, operations: dict[str, Operation]) -> None:
    for operation_id, op in operations.items():
        pattern = rf"^###+ {re.escape(operation_id)}: `{op.method.upper()} {re.escape(op.path)}`$"
        assert re.search(pattern, markdown, re.MULTILINE), operation_id


def test_markdown_has_the_sections_and_every_schema(markdown: str, document: dict[str, Any]) -> None:
    for heading in ("## Webhooks", "### Verifying signatures", "## Errors", "### Rate limits", "## Schemas"):
        assert f"\n{heading}\n" in markdown
    for name in document["components"]["schemas"]:
        assert f"\n### {name}\n" in markdown
    for code in _error_codes(document):
        assert f"| `{code}` |" in markdown


def test_markdown_tables_are_well_formed(markdown: str) -> None:
    for block in re.findall(r"(?:^\|.*\|$\n?)+", _outside_fences(markdown), flags=re.MULTILINE):
        rows = block.strip().split("\n")
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, block
        assert re.fullmatch(r"\|( --- \|)+", rows[1]), block


def test_markdown_fences_are_balanced(markdown: str) -> None:
    assert len(re.findall(r"^```", markdown, re.MULTILINE)) % 2 == 0
    assert "\n\n\n" not in _outside_fences(markdown)


# --- code samples -----------------------------------------------------------------------------------


def test_upload_samples_send_a_multipart_file(samples: dict[str, dict[str, str]]) -> None:
    upload = samples["uploadFile"]
    assert "-F 'file=@audio.mp3" in upload["curl"]
    assert "files=" in upload["python"]
    assert "new FormData()" in upload["javascript"]
    assert 'readFile("audio.mp3")' in upload["javascript"]
    assert "https://api.voxscriber.com/v1/upload" in upload["curl"]


def test_start_transcription_samples_send_the_first_example_as_json(samples: dict[str, dict[str, str]]) -> None:
    start = samples["startTranscription"]
    payload = start["curl"].split("-d '", 1)[1].rsplit("'", 1)[0]
    assert json.loads(payload) == {"file_id": "file_8Yq2Lw5ZtB3nK7cD"}
    assert '"file_id": "file_8Yq2Lw5ZtB3nK7cD"' in start["python"]
    assert '"file_id": "file_8Yq2Lw5ZtB3nK7cD"' in start["javascript"]
    for language in RAW_SAMPLES:  # the SDKs send both themselves
        assert "Idempotency-Key" in start[language]
        assert "Bearer" in start[language]


def test_path_and_query_parameters_come_from_examples(samples: dict[str, dict[str, str]]) -> None:
    assert "/v1/transcripts/job_3kTq9WmZpL2vX8aB?format=srt" in samples["getTranscript"]["curl"]
    assert '"format": "srt"' in samples["getTranscript"]["python"]
    assert "limit=20" in samples["listJobs"]["javascript"]


def test_health_samples_carry_no_authorization(samples: dict[str, dict[str, str]]) -> None:
    for sample in samples["getHealth"].values():
        assert "Authorization" not in sample
    for name, sample in samples.items():
        if name != "getHealth":
            assert all("Authorization" in sample[language] for language in RAW_SAMPLES), name


def _all_python(samples: dict[str, dict[str, str]]) -> Iterator[tuple[str, str]]:
    yield from ((name, sample["python"]) for name, sample in samples.items())
    yield from (("verify-" + key, verification_samples()[key]) for key in ("standardwebhooks", "python"))


def test_python_samples_compile(samples: dict[str, dict[str, str]]) -> None:
    for name, source in _all_python(samples):
        compile(source, f"<{name}>", "exec")


def test_curl_samples_are_valid_shell(samples: dict[str, dict[str, str]]) -> None:
    for name, sample in samples.items():
        result = subprocess.run(["bash", "-n"], input=sample["curl"], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (name, result.stderr)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    return node


def test_javascript_samples_pass_node_check(samples: dict[str, dict[str, str]], tmp_path: Path) -> None:
    node = _node()
    sources = {name: sample["javascript"] for name, sample in samples.items()}
    sources["verify"] = verification_samples()["javascript"]
    for name, source in sources.items():
        path = tmp_path / f"{name}.mjs"
        path.write_text(source, encoding="utf-8")
        result = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (name, result.stderr)


# --- signature verification samples, against the standardwebhooks reference --------------------------

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
BODY = '{"type":"transcription.completed","data":{"job_id":"job_3kTq9WmZpL2vX8aB"}}'


def _signed(body: str = BODY, age: timedelta = timedelta(0), secret: str = SECRET) -> dict[str, str]:
    when = datetime.now(tz=UTC) - age
    signature = Webhook(secret).sign("evt_2ZqT8mB4xW7rK1pL", when, body)
    return {
        "webhook-id": "evt_2ZqT8mB4xW7rK1pL",
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": f"v1,bm90IHRoaXMgb25l {signature}",  # a rotated-out signature first
    }


def verify_cases() -> list[tuple[str, dict[str, str], str, bool]]:
    """Signed now, when the test runs (made at import, "valid" went stale once the suite took over 5 minutes)."""
    return [
        ("valid", _signed(), BODY, True),
        ("tampered body", _signed(), BODY.replace("completed", "failed"), False),
        ("stale", _signed(age=timedelta(minutes=6)), BODY, False),
        ("other secret", _signed(secret="whsec_" + base64.b64encode(b"x" * 32).decode()), BODY, False),
        ("no signature", {"webhook-id": "evt_1", "webhook-timestamp": "1"}, BODY, False),
    ]


def test_python_hmac_sample_agrees_with_standardwebhooks() -> None:
    namespace: dict[str, Any] = {}
    exec(verification_samples()["python"], namespace)
    for name, headers, body, expected in verify_cases():
        assert namespace["verify_webhook"](SECRET, headers, body.encode()) is expected, name


def test_standardwebhooks_sample_verifies() -> None:
    namespace: dict[str, Any] = {}
    exec(verification_samples()["standardwebhooks"], namespace)
    namespace["WEBHOOK_SECRET"] = SECRET
    assert namespace["receive"](BODY.encode(), _signed()) == 204
    assert namespace["receive"](BODY.encode(), _signed(age=timedelta(minutes=6))) == 400
    assert namespace["receive"](BODY.replace("completed", "failed").encode(), _signed()) == 400


def test_javascript_hmac_sample_agrees_with_standardwebhooks(tmp_path: Path) -> None:
    node = _node()
    (tmp_path / "verify.mjs").write_text(verification_samples()["javascript"], encoding="utf-8")
    signed = verify_cases()
    cases = [[headers, body] for _, headers, body, _ in signed]
    runner = tmp_path / "run.mjs"
    runner.write_text(
        'import { verifyWebhook } from "./verify.mjs";\n'
        f"const cases = {json.dumps(cases)};\n"
        f"console.log(JSON.stringify(cases.map(([h, b]) => verifyWebhook({json.dumps(SECRET)}, h, b))));\n",
        encoding="utf-8",
    )
    result = subprocess.run([node, str(runner)], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [expected for *_, expected in signed]


# --- in a real browser ------------------------------------------------------------------------------


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    write_docs(load_spec(), tmp_path / "docs")
    return tmp_path / "docs"


@pytest.mark.browser
def test_chromium_renders_the_page(docs_dir: Path, tmp_path: Path) -> None:
    index = (docs_dir / "index.html").as_uri()
    screenshot = tmp_path / "docs.png"
    run_chromium(tmp_path, f"--screenshot={screenshot}", f"--window-size={SCREEN[0]},{SCREEN[1]}", index)
    assert screenshot.is_file(), "chromium wrote no screenshot"
    data = screenshot.read_bytes()
    width, height, pixels = png_facts(data)
    assert (width, height) == SCREEN
    assert len(data) > 20_000, "the screenshot compresses like a blank page"
    assert len(set(pixels[::97])) > 16, "the screenshot has (almost) one colour"

    dom = run_chromium(tmp_path, "--dump-dom", index).stdout
    for op in iter_operations(load_spec()):
        assert f'id="{op.operation_id}"' in dom
    assert '<h2 class="section">Webhooks</h2>' in dom


@pytest.mark.browser
def test_chromium_shows_the_page_with_name_resolution_off(docs_dir: Path, tmp_path: Path) -> None:
    result = run_chromium(
        tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", (docs_dir / "index.html").as_uri()
    )
    dom = result.stdout
    assert 'id="uploadFile"' in dom
    assert 'id="webhooks"' in dom
    assert "Verifying signatures" in dom


@pytest.mark.browser
@pytest.mark.parametrize(
    ("injected", "expected"),
    [("", set()), ('<img src="https://cdn.example.com/logo.png">', {"cdn.example.com"})],
    ids=["the-page", "control-with-a-remote-image"],
)
def test_chromium_requests_nothing_from_the_network(
    docs_dir: Path, tmp_path: Path, injected: str, expected: set[str]
) -> None:
    # The page's own Content-Security-Policy would block a stray load before it reaches the network,
    # so a copy without it is loaded: any external reference in the markup reaches the proxy (the
    # control case proves it does).
    page = (docs_dir / "index.html").read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace(
        "</main>", injected + "</main>"
    )
    bare = tmp_path / "bare.html"
    bare.write_text(page, encoding="utf-8")
    proxy = RecordingProxy()
    try:
        dom = run_chromium(
            tmp_path, f"--proxy-server=http://127.0.0.1:{proxy.port}", "--dump-dom", bare.as_uri()
        ).stdout
    finally:
        proxy.close()
    assert 'id="startTranscription"' in dom
    assert set(proxy.hosts) - BROWSER_OWN_HOSTS == expected, proxy.hosts


# --- the SDKs' samples -----------------------------------------------------------------------------------------

#: The samples that spell the HTTP request out (the SDK samples leave the headers to the SDK).
RAW_SAMPLES = ("curl", "python", "javascript")
SDK_CALL = re.compile(r"\bclient\.([a-z_]+(?:\.[a-z_]+)?)\(")
TS_CALL = re.compile(r"\bclient\.([A-Za-z]+)\(")


def test_every_operation_has_a_python_sdk_sample_that_compiles_and_calls_the_sdk(
    samples: dict[str, dict[str, str]],
) -> None:
    from voxscriber import Client

    with Client(api_key="vox_key", base_url="http://127.0.0.1:9") as client:  # nothing is sent
        for operation_id, snippets in samples.items():
            code = snippets["python_sdk"]
            compile(code, f"<{operation_id}>", "exec")
            calls = SDK_CALL.findall(code)
            assert calls, operation_id
            for call in calls:
                target: object = client
                for part in call.split("."):
                    target = getattr(target, part)
                assert callable(target), f"{operation_id}: client.{call} is not a call of voxscriber.Client"


def test_the_typescript_sdk_samples_call_methods_the_sdk_has(samples: dict[str, dict[str, str]]) -> None:
    source = (Path(__file__).resolve().parents[2] / "clients" / "js" / "src" / "client.ts").read_text()
    methods = set(re.findall(r"^\s+(?:async\s+\*?)?([a-zA-Z]+)\(", source, re.MULTILINE))
    covered = {operation_id for operation_id, snippets in samples.items() if "typescript_sdk" in snippets}
    assert covered >= set(samples) - {"getHealth"}
    for operation_id in covered:
        for call in TS_CALL.findall(samples[operation_id]["typescript_sdk"]):
            assert call in methods, f"{operation_id}: client.{call}() is not a method of the TypeScript SDK"


def test_the_reference_shows_the_sdk_samples_beside_curl(html: str, markdown: str) -> None:
    for page in (html, markdown):
        assert "Python SDK" in page
        assert "TypeScript SDK" in page
        assert "reads VOXSCRIBER_API_KEY and VOXSCRIBER_BASE_URL" in page  # a comment: one token, highlighted or not
