"""The served contract is the contract: both servers serve ``/v1/openapi.json`` and ``/v1/openapi.yaml`` as the
bundled document is written, ``$ref``s and ``servers`` included, and Swagger UI still reads it (issue 10, point 6).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from mockserver.pytest_plugin import default_mock_settings, running_mock
from tests.browser import chromium_binary
from tests.reference_impl.support import serve_reference
from voxcontract.spec import iter_operations, load_spec, spec_path, spec_text


@pytest.fixture(scope="module", params=["mock", "reference"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """An anonymous client of a real server on 127.0.0.1: the document and the UI need no key."""
    if request.param == "mock":
        with running_mock(default_mock_settings()) as mock, httpx.Client(base_url=mock.base_url) as client:
            yield client
    else:
        with (
            serve_reference(tmp_path_factory.mktemp("reference")) as reference,
            httpx.Client(base_url=reference.url) as client,
        ):
            yield client


def ref_count(node: object) -> int:
    if isinstance(node, dict):
        return ("$ref" in node) + sum(ref_count(value) for value in node.values())
    if isinstance(node, list):
        return sum(ref_count(value) for value in node)
    return 0


def test_bundled_document_has_the_refs_this_test_relies_on() -> None:
    assert ref_count(load_spec()) > 100


def test_served_json_is_the_bundled_document(server: httpx.Client) -> None:
    response = server.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served == load_spec()  # $refs and servers as written, nothing inlined
    assert ref_count(served) == ref_count(load_spec())


def test_served_yaml_is_the_bundled_text(server: httpx.Client) -> None:
    response = server.get("/v1/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/yaml"
    assert response.text == spec_text()
    assert yaml.safe_load(response.text) == load_spec()


def test_served_document_is_valid_openapi_3_0(server: httpx.Client) -> None:
    served = server.get("/v1/openapi.json").json()
    assert served["openapi"].startswith("3.0.")
    validate(served)


def test_head_answers_with_the_same_headers_and_no_body(server: httpx.Client) -> None:
    get = server.get("/v1/openapi.json")
    head = server.head("/v1/openapi.json")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]


def test_swagger_ui_loads_and_points_at_the_served_document(server: httpx.Client) -> None:
    page = server.get("/v1/ui/")
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    assert "/v1/openapi.json" in page.text
    assert server.get("/v1/ui/swagger-ui-bundle.js").status_code == 200


@pytest.mark.browser
def test_swagger_ui_renders_every_operation_and_schema_from_the_served_document(
    server: httpx.Client, tmp_path: Path
) -> None:
    """Swagger UI resolves the served ``$ref``s itself: every operation and every named schema, no resolver error."""
    command = [
        chromium_binary(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=15000",  # lets the page fetch and render the document before the DOM is dumped
        "--dump-dom",
        f"{server.base_url}/v1/ui/",
    ]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False).stdout
    document = load_spec()
    for operation in iter_operations(document):
        tag = operation.definition["tags"][0]
        assert f'id="operations-{tag}-{operation.operation_id}"' in dom
    for schema in document["components"]["schemas"]:
        assert f'id="model-{schema}"' in dom
    assert "Resolver error" not in dom


def test_every_answer_carries_a_request_id(server: httpx.Client) -> None:
    for path in ("/v1/openapi.json", "/v1/openapi.yaml"):
        first, second = server.get(path), server.get(path)
        assert first.headers.get_list("x-request-id") != second.headers.get_list("x-request-id")
        assert len(second.headers.get_list("x-request-id")) == 1


def test_bundled_file_validates_on_its_own() -> None:
    """The same validator on the file itself, so a failure above is the server's, not the contract's."""
    document, base_uri = read_from_filename(str(Path(spec_path())))
    validate(document, base_uri=base_uri)
